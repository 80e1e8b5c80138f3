"""One ``bench.inprocess`` child under valgrind's callgrind, counting only its measured requests.

    parent                                      child (valgrind --tool=callgrind --instr-atstart=no)
    ------                                      -----
    spawn ------------------------------------> import, build the app, lifespan, warm-up
    read READY (blocks) <---------------------- write READY; read GO (blocks)
    callgrind_control -i on <pid>               (instrumentation on)
    write GO ---------------------------------> N requests, one at a time; os._exit
    read the out-file's ``totals:``             (callgrind writes it at exit)

The two pipes make the hand-over exact: while the parent switches instrumentation on, the child
is blocked in ``read`` and runs nothing. A child that dies closes its end, so the parent never
waits on a corpse. The out-file and the child's log (valgrind's lines, the driver's errors) stay
in ``work_dir``: ``callgrind_annotate callgrind.<name>.out`` shows where the instructions went.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from bench.inprocess import GO, Drive
from bench.processes import ROOT, Child

TOOLS = ("valgrind", "callgrind_control")
READY_TIMEOUT_S = 600.0
"""Imports and warm-up under valgrind run many times slower than natively."""
SECONDS_PER_REQUEST = 2.0
"""A generous bound on one instrumented request (about 0.1 s is usual)."""
TOTALS = re.compile(rb"^(?:totals|summary):\s*(\d+)", re.MULTILINE)


class CallgrindError(RuntimeError):
    """The child did not reach its measurement or did not finish it cleanly."""


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def valgrind_version() -> str | None:
    binary = shutil.which("valgrind")
    if binary is None:
        return None
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or None


def count_instructions(name: str, drive: Drive, env: Mapping[str, str], work_dir: Path) -> int:
    """The instructions the child executed from the go signal to its exit: ``drive.requests``
    requests and the few lines around them."""
    work_dir.mkdir(parents=True, exist_ok=True)
    drive_file, out_file = work_dir / f"{name}.drive.json", work_dir / f"callgrind.{name}.out"
    log_path = work_dir / f"{name}.log"
    drive_file.write_text(drive.dumps())
    drive_file.chmod(0o600)  # it holds the session's cookie or token
    out_file.unlink(missing_ok=True)
    ready_read, ready_write = os.pipe()
    go_read, go_write = os.pipe()
    command = [
        *(_tool("valgrind"), "--tool=callgrind", "--instr-atstart=no"),
        f"--callgrind-out-file={out_file}",
        *(sys.executable, "-m", "bench.inprocess", str(drive_file)),
        *(str(ready_write), str(go_read)),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # the access log lines
            stderr=log,
            pass_fds=(ready_write, go_read),
            start_new_session=True,
        )
    child = Child(name, process, log_path)
    os.close(ready_write)
    os.close(go_read)
    try:
        _wait_ready(ready_read, child)
        subprocess.run(
            [_tool("callgrind_control"), "-i", "on", str(process.pid)],
            capture_output=True,
            check=True,
            timeout=60,
        )
        os.write(go_write, GO)
        code = process.wait(timeout=60 + SECONDS_PER_REQUEST * drive.requests)
    finally:
        os.close(ready_read)
        os.close(go_write)
        child.stop()  # already gone, unless something above failed
        drive_file.unlink(missing_ok=True)
    if code != 0:
        raise CallgrindError(f"{name}: the driver exited with {code}: {child.log_tail()}")
    return read_total(out_file)


def read_total(out_file: Path) -> int:
    """The event total of a callgrind out-file (``totals:``, or ``summary:`` in older ones)."""
    found = TOTALS.search(out_file.read_bytes()) if out_file.exists() else None
    if found is None:
        raise CallgrindError(f"no totals in {out_file}")
    total = int(found.group(1))
    if total == 0:
        raise CallgrindError(f"{out_file}: nothing counted (instrumentation never switched on)")
    return total


def _wait_ready(ready_read: int, child: Child) -> None:
    readable, _, _ = select.select([ready_read], [], [], READY_TIMEOUT_S)
    if not readable:
        raise CallgrindError(f"{child.name}: not ready after {READY_TIMEOUT_S:.0f} s")
    if not os.read(ready_read, 64).startswith(b"ready"):
        raise CallgrindError(
            f"{child.name}: the driver exited before its measurement: {child.log_tail()}"
        )


def _tool(name: str) -> str:
    binary = shutil.which(name)
    if binary is None:
        raise CallgrindError(f"{name} is needed: apt-get install valgrind")
    return binary
