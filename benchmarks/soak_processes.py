"""Process sessions for ``soak_faults.py``: start, find, kill and reap them; a local two-node Ray cluster.

    from soak_processes import Cluster, kill_session, members, start

Every process is started in a session of its own (``start_new_session``); Ray's daemons and workers inherit it
(a worker gets a process group of its own, never a session), so a session id names exactly what one command
started and nothing else on the machine. ``kill_session`` SIGKILLs those processes by id and reaps them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["BIN", "BUSY", "Cluster", "kill_session", "members", "reap", "start", "SESSIONS"]

BIN = Path(sys.executable).parent
BUSY = "_remote_evaluate"  # the process title of a Ray worker that trains a batch is ray::_remote_evaluate
SESSIONS: set[int] = set()  # process sessions started here and not yet cleaned up


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, session id) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[3])


def members(sid: int, busy: bool = False) -> list[int]:
    """Live processes of session ``sid`` (only those training a batch when ``busy``)."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit() and (st := _stat(int(name))) is not None and st[1] == sid and st[0] != "Z":
            if busy:
                try:
                    if BUSY not in Path(f"/proc/{name}/cmdline").read_bytes().decode(errors="replace"):
                        continue
                except OSError:
                    continue
            out.append(int(name))
    return out


def kill_session(sid: int) -> None:
    """SIGKILL every process of a session this script started (Ray daemons and workers included), then reap."""
    killed: set[int] = set()
    for _ in range(200):
        pids = members(sid)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    SESSIONS.discard(sid)
    for pid in killed:  # orphans of our sessions are our children (subreaper): collect them
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def reap() -> None:
    """Collect every child that has ended (the orphans of killed sessions are ours: we are a subreaper). Call it
    only when no started command is running: it would take that one's exit code."""
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def start(argv: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    with open(log, "ab") as handle:
        proc = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    SESSIONS.add(proc.pid)
    return proc


class Cluster:
    """A local two-node Ray cluster: the head and a second node, each a process session of its own (one CPU each,
    no dashboard, a temporary directory of their own). ``env`` should turn token authentication off
    (``RAY_AUTH_MODE=disabled``): with a token file in ``~/.ray`` the head of Ray 2.60 asked for a token that
    ``ray start --address`` did not send."""

    def __init__(self, base: Path, env: dict[str, str]) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.temp = Path(tempfile.mkdtemp(prefix="sk", dir="/tmp"))  # short: Ray's socket paths have a limit
        self.env, self.log, self.node_sid = env, base / "cluster.log", 0
        self.head_sid = self._start(["--head", f"--port={self.port}", "--include-dashboard=false"])

    def _start(self, args: list[str]) -> int:
        proc = start([str(BIN / "ray"), "start", *args, "--num-cpus=1", f"--temp-dir={self.temp}",
                      "--disable-usage-stats", "--object-store-memory=100000000"], self.log, self.env)
        try:
            rc = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            rc = -1
        if rc != 0:
            kill_session(proc.pid)
            raise RuntimeError(f"`ray start {' '.join(args[:1])}` failed (exit code {rc}); see {self.log}")
        return proc.pid

    def start_node(self) -> int:
        if self.node_sid:
            kill_session(self.node_sid)
        self.node_sid = self._start([f"--address=127.0.0.1:{self.port}"])
        return self.node_sid

    def stop(self) -> None:
        for sid in (self.node_sid, self.head_sid):
            if sid:
                kill_session(sid)
        shutil.rmtree(self.temp, ignore_errors=True)
