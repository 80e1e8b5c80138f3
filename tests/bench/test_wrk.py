"""wrk's report, as the benchmark reads it: throughput, the latency distribution in any unit,
and each status the Lua counter saw, so a 304 scenario and a 200 scenario judge alike."""

from __future__ import annotations

import pytest

from bench.wrk import STATUS_SCRIPT, WrkOutputError, duration_ms, parse_output, script

# Captured from `wrk -t1 -c32 -d10s --latency -s statuses.lua` against a mobile gateway's
# If-None-Match scenario on this machine (a few answers refused on purpose, a few sockets cut);
# wrk leaves a blank after values in seconds, kept here by the replace().
SAMPLE = """\
Running 10s test @ http://127.0.0.1:41235/m/v1/home
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    47.85ms   21.06ms 312.44ms   80.12%
    Req/Sec   672.39     98.74   850.00     71.00%
  Latency Distribution
     50%  812.00us
     75%   52.07ms
     90%   66.31ms
     99%    1.20s
  6705 requests in 10.01s, 1.85MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 5
Requests/sec:    669.83
Transfer/sec:    189.32KB
status 304 6690
status 200 10
status 401 5
""".replace("1.20s\n", "1.20s \n")


def test_the_report_gives_throughput_percentiles_in_ms_and_the_count_of_requests() -> None:
    result = parse_output(SAMPLE, success={304})
    assert result.rps == pytest.approx(669.83)
    assert result.p50_ms == pytest.approx(0.812)
    assert result.p75_ms == pytest.approx(52.07)
    assert result.p90_ms == pytest.approx(66.31)
    assert result.p99_ms == pytest.approx(1200.0)
    assert result.requests == 6705
    assert result.seconds == pytest.approx(10.01)


def test_every_answer_outside_the_scenarios_success_and_every_socket_error_is_a_failure() -> None:
    """A 200 where a 304 is sought fails the 304 scenario; a 304 fails a 2xx one."""
    revalidating = parse_output(SAMPLE, success={304})
    assert revalidating.statuses == {304: 6690, 200: 10, 401: 5}
    assert revalidating.socket_errors == 3
    assert revalidating.failed == 10 + 5 + 3
    assert parse_output(SAMPLE).failed == 6690 + 5 + 3


def test_a_report_without_socket_errors_or_refusals_has_no_failure() -> None:
    clean = "\n".join(
        line
        for line in SAMPLE.splitlines()
        if not line.lstrip().startswith(("Socket errors", "status 200", "status 401"))
    )
    assert parse_output(clean, success={304}).failed == 0


@pytest.mark.parametrize(
    ("text", "ms"),
    [("812.00us", 0.812), ("1.96ms", 1.96), ("2.01s", 2010.0), ("1.00m", 60_000.0)],
)
def test_durations_in_every_unit_wrk_prints(text: str, ms: float) -> None:
    assert duration_ms(text) == pytest.approx(ms)


def test_output_without_the_latency_distribution_is_refused_not_guessed() -> None:
    without = SAMPLE.replace("  Latency Distribution\n", "").replace("     50%  812.00us\n", "")
    with pytest.raises(WrkOutputError, match="latency distribution"):
        parse_output(without)
    with pytest.raises(WrkOutputError, match="throughput"):
        parse_output("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_a_run_with_cookies_sends_each_in_turn() -> None:
    """Many users' traffic from one wrk run: the script sets the next cookie on every request
    (a quote in a value cannot end the Lua string early)."""
    assert script() == STATUS_SCRIPT
    rotating = script(["bff=first", 'bff=with"quote'])
    assert rotating.startswith(STATUS_SCRIPT)
    assert 'cookies = {"bff=first", "bff=with\\"quote"}' in rotating
    assert 'wrk.headers["Cookie"] = cookies[(sent % #cookies) + 1]' in rotating
    assert "function request()" in rotating
