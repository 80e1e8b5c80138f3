"""Load from ``wrk`` and what its output says: throughput, the latency distribution, and every
response's status.

wrk's own error line ("Non-2xx or 3xx responses") counts only statuses from 400 up, which cannot
tell a 304 from a 200 nor a stray redirect from a screen. A small Lua script therefore counts
each status per thread and prints the totals when the run is done (``status <code> <count>``),
so a scenario decides for itself which statuses are successes. With ``cookies``, each request
takes the next cookie of the list (one per user), so one wrk run is many users' traffic.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

THREADS = 1
CONNECTIONS = 32
TIMEOUT_S = 5
WRK_MARGIN_S = 30
"""wrk stops itself after ``-d``; this only bounds a wrk that hangs."""

STATUS_SCRIPT = """
statuses = {}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + count
    end
  end
  for status, count in pairs(totals) do
    io.write(string.format("status %d %d\\n", status, count))
  end
end
"""

ROTATING_COOKIES = """
cookies = {%s}
local sent = 0

function request()
  sent = sent + 1
  wrk.headers["Cookie"] = cookies[(sent %% #cookies) + 1]
  return wrk.format()
end
"""


def script(cookies: Sequence[str] | None = None) -> str:
    """The Lua script of a run: the status counter, and the cookie rotation when asked."""
    if not cookies:
        return STATUS_SCRIPT
    quoted = ", ".join(
        '"' + cookie.replace("\\", "\\\\").replace('"', '\\"') + '"' for cookie in cookies
    )
    return STATUS_SCRIPT + ROTATING_COOKIES % quoted


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_DURATION = re.compile(r"^([\d.]+)(us|ms|s|m|h)$")


class WrkOutputError(ValueError):
    """wrk printed something this parser does not understand; the run is not valid."""


@dataclass(frozen=True)
class LoadResult:
    """One wrk run. ``failed`` counts every answer outside the scenario's success statuses plus
    every socket error (connect, read, write, timeout): each is a request that did not succeed."""

    rps: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    seconds: float
    statuses: dict[int, int] = field(default_factory=dict)
    socket_errors: int = 0
    failed: int = 0


def duration_ms(text: str) -> float:
    """wrk's durations (``812.00us``, ``1.96ms``, ``2.01s``, ``1.00m``) in milliseconds."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise WrkOutputError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]


def parse_output(output: str, success: Collection[int] = range(200, 300)) -> LoadResult:
    """Reads wrk's ``--latency`` report and the status lines of ``STATUS_SCRIPT``."""
    rps = _search(r"^Requests/sec:\s+([\d.]+)", output)
    done = re.search(r"^\s*(\d+) requests in ([\d.]+\w+),", output, re.MULTILINE)
    if rps is None or done is None:
        raise WrkOutputError(f"no throughput in wrk's output:\n{output}")
    percentiles = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    if len(percentiles) != 4:
        raise WrkOutputError(f"no latency distribution in wrk's output (--latency):\n{output}")
    statuses = {
        int(code): int(count)
        for code, count in re.findall(r"^status (\d+) (\d+)$", output, re.MULTILINE)
    }
    socket_errors = sum(
        int(n)
        for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", _line("Socket errors", output))
    )
    failed = sum(count for code, count in statuses.items() if code not in success)
    return LoadResult(
        rps=float(rps),
        p50_ms=duration_ms(percentiles["50"]),
        p75_ms=duration_ms(percentiles["75"]),
        p90_ms=duration_ms(percentiles["90"]),
        p99_ms=duration_ms(percentiles["99"]),
        requests=int(done.group(1)),
        seconds=duration_ms(done.group(2)) / 1000,
        statuses=statuses,
        socket_errors=socket_errors,
        failed=failed + socket_errors,
    )


def run(
    url: str,
    *,
    seconds: float,
    headers: Mapping[str, str] | None = None,
    connections: int = CONNECTIONS,
    threads: int = THREADS,
    success: Collection[int] = range(200, 300),
    cookies: Sequence[str] | None = None,
) -> LoadResult:
    """``wrk -t1 -c32 --latency`` (unless told otherwise) for ``seconds``, at least one, with
    the status counter (and ``cookies`` in rotation, see ``script``)."""
    duration = max(1, round(seconds))
    with tempfile.TemporaryDirectory(prefix="bff-bench-wrk-") as scratch:
        script_file = Path(scratch) / "statuses.lua"
        script_file.write_text(script(cookies))
        command = [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            f"--timeout={TIMEOUT_S}s",
            "--latency",
            "-s",
            str(script_file),
        ]
        for name, value in (headers or {}).items():
            command += ["-H", f"{name}: {value}"]
        finished = subprocess.run(
            [*command, url],
            capture_output=True,
            text=True,
            check=False,
            timeout=duration + WRK_MARGIN_S,
        )
    if finished.returncode != 0:
        raise WrkOutputError(f"wrk exited with {finished.returncode}: {finished.stderr.strip()}")
    return parse_output(finished.stdout, success)


@dataclass(frozen=True)
class Side:
    """One configuration of an alternating measurement: its load, and what ``count`` rose by
    while it ran (0 without a counter)."""

    load: LoadResult
    counted: int


def alternating(
    urls: Mapping[str, str],
    *,
    seconds: float,
    headers: Mapping[str, str] | None = None,
    count: Callable[[], int] | None = None,
) -> dict[str, Side]:
    """Two configurations (``urls``: side -> URL) measured a, b, b, a, each for half of
    ``seconds``, so a drift of the machine during the measurement weighs on both alike."""
    first, second = urls
    half = max(1.0, seconds / 2)
    loads: dict[str, list[LoadResult]] = {first: [], second: []}
    counted = dict.fromkeys(urls, 0)
    for side in (first, second, second, first):
        before = count() if count else 0
        loads[side].append(run(urls[side], seconds=half, headers=headers))
        counted[side] += (count() if count else 0) - before
    return {side: Side(combined(loads[side]), counted[side]) for side in urls}


def combined(runs: list[LoadResult]) -> LoadResult:
    """Several wrk runs of one configuration as one: throughput over their whole time, the
    mean of their percentiles (wrk reports no histogram to merge)."""
    seconds = sum(r.seconds for r in runs)
    requests = sum(r.requests for r in runs)
    statuses: dict[int, int] = {}
    for r in runs:
        for code, number in r.statuses.items():
            statuses[code] = statuses.get(code, 0) + number

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    return LoadResult(
        rps=requests / seconds if seconds else 0.0,
        p50_ms=mean([r.p50_ms for r in runs]),
        p75_ms=mean([r.p75_ms for r in runs]),
        p90_ms=mean([r.p90_ms for r in runs]),
        p99_ms=mean([r.p99_ms for r in runs]),
        requests=requests,
        seconds=seconds,
        statuses=statuses,
        socket_errors=sum(r.socket_errors for r in runs),
        failed=sum(r.failed for r in runs),
    )


def _search(pattern: str, text: str) -> str | None:
    match = re.search(pattern, text, re.MULTILINE)
    return match.group(1) if match else None


def _line(prefix: str, text: str) -> str:
    return next((line for line in text.splitlines() if line.strip().startswith(prefix)), "")
