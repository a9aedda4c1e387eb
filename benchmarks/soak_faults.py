"""Fault soak: SIGKILL small runs at random moments, resume them, and compare them with uninterrupted references.

    python benchmarks/soak_faults.py [--runs 20] [--parts serial ray cluster async] [--seed 0] [--kills 2]
                                     [--ray-kills 1] [--keep] [--out DIR]

Every run is the real command line (``deepstruct evolve`` / ``deepstruct resume``) in a process session of its
own, on a tiny configuration (digits, 400 samples, population 6, 3 generations, 2 epochs, one training seed);
kill moments come from ``numpy.random.default_rng([seed, part, run])``.

1. ``serial``: each run is SIGKILLed ``--kills`` times, then resumed with ``deepstruct resume DIR`` until it
   ends. A kill lands at a random time, after a random number of newly journalled evaluations, or at the m-th
   checkpoint write of the session (when its temporary file shows up, "during write", or right after it
   replaced ``checkpoint.json`` when the write was too quick to be seen).
2. ``ray``: the Ray evaluator (a local instance, 2 workers). In the first session one worker process is
   SIGKILLed while it trains a batch (the run goes on: the evaluator retries the task); after that the run is
   SIGKILLed ``--ray-kills`` times and resumed, as in 1.
3. ``cluster``: a local two-node cluster (``ray start --head`` plus ``ray start --address``, one CPU each, started
   here and stopped at the end; token authentication off). The second node (raylet, agents and workers: its
   whole process session) is SIGKILLed while it trains a batch, and the run must finish by itself. The node is
   started again for every run.
4. ``async`` (not in the default parts): 1. with asynchronous steady-state aging evolution.

A run is *identical* when its final checkpoint (population with genomes and fitnesses, hall of fame, logbook,
RNG state, innovations, counts; not the run time, the run directory or the evaluator settings), every
journalled result (not its seconds), the journal's ask/tell events, ``logbook.csv``, ``best/*.json`` and the file
names of the run directory equal those of an uninterrupted reference run of the part (the Ray reference for
``ray`` and ``cluster``). *Lost evaluations*: keys of reference results missing after resume, results
journalled before a kill that are gone or changed afterwards, and results that became failure penalties.
*Duplicated entries*: journalled results of a key journalled before. Exit code 1 when a run is not identical,
lost an evaluation or failed; 2 when a part could not run on this machine (it says why).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from soak_processes import BIN, SESSIONS, Cluster, kill_session, members, reap, start

PARTS = ("serial", "ray", "cluster", "async")
TINY = ["--population", "6", "--generations", "3", "--epochs", "2", "--seed", "1", "--no-progress",
        "--set", "task.max_samples=400", "--set", "training.seeds=1", "--set", "genome.num_vertices=12",
        "--set", "evaluator.batch=2"]  # two members a batch: three Ray tasks a generation, on either node
PART_ARGS = {
    "serial": ["--evaluator", "serial"], "ray": ["--evaluator", "ray", "--workers", "2"],
    "cluster": ["--evaluator", "ray"], "async": ["--evaluator", "serial", "--algorithm", "aging", "--set",
                                                "algorithm.asynchronous=true", "--set", "algorithm.offspring=3"],
}
DEEPSTRUCT = [str(BIN / "deepstruct")] if (BIN / "deepstruct").exists() else [sys.executable, "-m", "deepstruct.cli"]
ENV = dict(os.environ, PYTHONUNBUFFERED="1", RAY_USAGE_STATS_ENABLED="0")


# -- run directories ------------------------------------------------------------------------------------------
def journal(run_dir: Path) -> list[dict[str, Any]]:
    """Complete journal lines (a torn last line is not one)."""
    try:
        raw = (run_dir / "journal.jsonl").read_bytes()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in raw[: raw.rfind(b"\n") + 1].splitlines() if line.strip()]


def results_count(run_dir: Path) -> int:
    return sum(r.get("type", "result") == "result" for r in journal(run_dir))


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    """A journalled result without what depends on the clock: its seconds (and the line's seal over them)."""
    return {**{k: v for k, v in record.items() if k != "sum"},
            "result": {k: v for k, v in record["result"].items() if k != "seconds"}}


@dataclass
class Final:
    state: dict[str, Any]
    results: dict[str, dict[str, Any]]
    duplicates: int


def final(run_dir: Path) -> Final:
    data = json.loads((run_dir / "checkpoint.json").read_text())
    for clock in ("seconds", "checksum"):  # run time, and the seal over it
        data.pop(clock, None)
    data["config"] = {k: v for k, v in data["config"].items() if k not in ("out", "evaluator")}
    results: dict[str, dict[str, Any]] = {}
    events, duplicates = [], 0
    for record in journal(run_dir):
        if record.get("type", "result") != "result":
            events.append(record)
        elif record["key"] in results:
            duplicates += 1
        else:
            results[record["key"]] = _plain(record)
    files = {"names": sorted(p.name for p in run_dir.iterdir() if not p.name.startswith(".")),
             "logbook.csv": (run_dir / "logbook.csv").read_text()}
    files.update({f"best/{p.name}": p.read_text() for p in sorted((run_dir / "best").glob("*.json"))})
    return Final({"checkpoint": data, "events": events, "files": files}, results, duplicates)


def compare(got: Final, ref: Final, snapshots: dict[str, dict[str, Any]]) -> tuple[list[str], int]:
    """What differs from the reference, and how many evaluations were lost."""
    diffs = [f"{part}.{k}" for part in ("checkpoint", "files") for k in ref.state[part]
             if got.state[part].get(k) != ref.state[part][k]]
    if got.state["events"] != ref.state["events"]:
        diffs.append("journal events")
    differing = sum(got.results.get(k) != r for k, r in ref.results.items())
    if differing or set(got.results) != set(ref.results):
        diffs.append(f"journal results ({differing} differ, {len(set(got.results) - set(ref.results))} extra)")
    lost = set(ref.results) - set(got.results)
    lost |= {k for k, r in snapshots.items() if got.results.get(k) != r}
    lost |= {k for k, r in got.results.items() if r["result"]["reason"] and k in ref.results
             and not ref.results[k]["result"]["reason"]}
    return diffs, len(lost)


# -- kills ----------------------------------------------------------------------------------------------------
@dataclass
class Kill:
    """A kill of the run (``time``/``journal``/``checkpoint``) or of a Ray worker/node it goes on without."""

    mode: str
    value: float  # seconds (time, worker, node) or a fraction of what is left (journal, checkpoint)

    def fatal(self) -> bool:
        return self.mode in ("time", "journal", "checkpoint")


@dataclass
class Watch:
    proc: subprocess.Popen
    run_dir: Path
    ref: dict[str, float]
    node_sid: int = 0
    events: list[str] = field(default_factory=list)
    killed: bool = False

    def run(self, kills: list[Kill]) -> None:
        """Poll the run directory and the processes every millisecond; kill as planned (side kills first)."""
        started = armed_at = time.monotonic()
        base = results_count(self.run_dir)
        done = _checkpoint_generation(self.run_dir) + 1
        stale = set(os.listdir(self.run_dir)) if self.run_dir.is_dir() else set()  # removed by the run's start
        writes, writing, how, last = 0, False, "", _identity(self.run_dir / "checkpoint.json")
        size, busy_since, scanned = -1, 0.0, 0.0
        while self.proc.poll() is None and kills:
            now, kill = time.monotonic(), kills[0]
            names = set(os.listdir(self.run_dir)) - stale if self.run_dir.is_dir() else set()
            tmp = any(n.startswith(".checkpoint.json.") and n.endswith(".tmp") for n in names)
            current = _identity(self.run_dir / "checkpoint.json")
            if tmp and not writing:  # a checkpoint write has begun
                writes, writing, how = writes + 1, True, "during write"
            elif current != last:  # one has ended (or begun and ended between two polls)
                writes, how = writes + (not writing), "during write" if writing else "after replace"
                writing, last = False, current
            if kill.mode == "time":
                if now - armed_at >= kill.value * self.ref["seconds"]:
                    self._kill(f"time {now - started:.1f}s")
            elif kill.mode == "journal":
                if (path := self.run_dir / "journal.jsonl").exists() and path.stat().st_size != size:
                    size, count = path.stat().st_size, results_count(self.run_dir) - base
                    if count >= 1 + int(kill.value * max(1, self.ref["results"] - base)):
                        self._kill(f"journal +{count}")
            elif kill.mode == "checkpoint":
                if writes >= 1 + int(kill.value * max(1, self.ref["checkpoints"] - done)):
                    self._kill(f"checkpoint #{writes} ({how})")
            elif now - scanned >= 0.01:  # a worker or the second node, while it trains a batch
                scanned = now
                busy = members(self.node_sid or self.proc.pid, busy=True)
                busy_since = (busy_since or now) if busy else busy_since
                if busy and now - busy_since >= kill.value:
                    if kill.mode == "worker":
                        os.kill(busy[0], signal.SIGKILL)
                        self.events.append(f"worker killed {now - started:.1f}s")
                    else:
                        kill_session(self.node_sid)
                        self.events.append(f"node 2 killed {now - started:.1f}s")
                    kills.pop(0)
                    armed_at, base, writes = now, results_count(self.run_dir), 0
            if self.killed:
                kills.pop(0)
                break
            time.sleep(0.001)

    def _kill(self, what: str) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.events.append(what)
        self.killed = True


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def _checkpoint_generation(run_dir: Path) -> int:
    try:
        return int(json.loads((run_dir / "checkpoint.json").read_text())["generation"])
    except (OSError, ValueError, KeyError):
        return -1


# -- runs -----------------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    identical: bool = False
    lost: int = 0
    duplicates: int = 0
    kills: int = 0
    failed: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def session(part: str, run_dir: Path, env: dict[str, str], extra: list[str], ref: dict[str, float],
            kills: list[Kill], node_sid: int = 0) -> Watch:
    if (run_dir / "config.json").exists():
        argv = [*DEEPSTRUCT, "resume", str(run_dir), "--no-progress"]
    else:  # killed before the run directory had its config: start it again
        argv = [*DEEPSTRUCT, "evolve", *TINY, *PART_ARGS[part], *extra, "--out", str(run_dir)]
    proc = start(argv, run_dir.with_suffix(".log"), env)
    watch = Watch(proc, run_dir, ref, node_sid)
    watch.run(kills)
    try:
        proc.wait(timeout=600)
    except subprocess.TimeoutExpired:
        watch.events.append("hung: killed after 600 s")
        proc.kill()
        proc.wait()
    kill_session(proc.pid)  # what a killed driver leaves (its Ray instance)
    reap()
    return watch


def soak_run(part: str, index: int, ctx: Context, plan: list[Kill]) -> Outcome:
    run_dir = ctx.base / part / f"run{index:02d}"
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    started, out, snapshots = time.monotonic(), Outcome(), {}
    for _ in range(len(plan) + 3):
        watch = session(part, run_dir, ctx.env, ctx.extra, ctx.refs[part], plan, ctx.node_sid)
        out.kills += sum(not e.startswith("hung") for e in watch.events)
        out.notes += watch.events
        if watch.killed:
            for record in journal(run_dir):
                if record.get("type", "result") == "result":
                    snapshots.setdefault(record["key"], _plain(record))
            continue
        if watch.proc.returncode == 0:  # finished (kills still planned had no moment left to land)
            break
        out.failed += 1
        out.notes.append(f"exit code {watch.proc.returncode} (see {run_dir.with_suffix('.log')})")
        plan = [k for k in plan if k.fatal()]
    out.seconds = time.monotonic() - started
    try:
        got = final(run_dir)
    except (OSError, ValueError, KeyError) as exc:
        out.notes.append(f"no final state: {exc}")
        return out
    diffs, out.lost = compare(got, ctx.finals[part], snapshots)
    out.duplicates, out.identical = got.duplicates, not diffs and not out.failed
    out.notes += diffs
    if out.identical and out.lost == 0 and not ctx.keep:
        shutil.rmtree(run_dir)
        run_dir.with_suffix(".log").unlink(missing_ok=True)
    return out


def draw(part: str, rng: np.random.Generator, kills: int, ray_kills: int) -> list[Kill]:
    if part == "cluster":
        return [Kill("node", float(rng.uniform(0.0, 0.5)))]
    side = [Kill("worker", float(rng.uniform(0.0, 0.3)))] if part == "ray" else []
    n = ray_kills if part == "ray" else kills
    return side + [Kill(str(rng.choice(["time", "journal", "checkpoint"])), float(rng.uniform(0.0, 1.0)))
                   for _ in range(n)]


@dataclass
class Context:
    base: Path
    keep: bool
    env: dict[str, str] = field(default_factory=lambda: dict(ENV))
    extra: list[str] = field(default_factory=list)
    refs: dict[str, dict[str, float]] = field(default_factory=dict)
    finals: dict[str, Final] = field(default_factory=dict)
    node_sid: int = 0


def reference(part: str, ctx: Context) -> None:
    """The uninterrupted run of a part (``ray`` and ``cluster`` share the Ray one)."""
    name = "ray" if part == "cluster" else part
    if name not in ctx.finals:
        run_dir = ctx.base / "reference" / name
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        watch = session(name, run_dir, ctx.env, [], {}, [])
        if watch.proc.returncode != 0:
            raise RuntimeError(f"the {name} reference run failed (see {run_dir.with_suffix('.log')})")
        ctx.finals[name] = final(run_dir)
        ctx.refs[name] = {"seconds": time.monotonic() - started, "results": len(ctx.finals[name].results),
                          "checkpoints": len(ctx.finals[name].state["checkpoint"]["logbook"])}
    ctx.finals[part], ctx.refs[part] = ctx.finals[name], ctx.refs[name]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=["serial", "ray", "cluster"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kills", type=int, default=2, help="SIGKILLs of each serial/async run")
    parser.add_argument("--ray-kills", type=int, default=1, help="SIGKILLs of each Ray run after its worker kill")
    parser.add_argument("--keep", action="store_true", help="keep every run directory (failed ones are kept)")
    parser.add_argument("--out", help="where the run directories go (default: a new temporary directory)")
    args = parser.parse_args(argv)
    if sys.platform.startswith("linux"):  # orphans of killed sessions become our children, reaped here
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    ctx = Context(Path(args.out or tempfile.mkdtemp(prefix="soak-faults-")).resolve(), args.keep)
    ctx.base.mkdir(parents=True, exist_ok=True)
    print(f"soak: {args.runs} runs per part, seed {args.seed}, in {ctx.base}", flush=True)
    rows, skipped, bad = [], [], False
    cluster: Cluster | None = None
    try:
        for part in args.parts:
            started, outcomes = time.monotonic(), []
            try:
                if part == "cluster":
                    ctx.env = dict(ENV, RAY_AUTH_MODE="disabled")
                    cluster = Cluster(ctx.base, ctx.env)
                    ctx.extra = ["--address", f"127.0.0.1:{cluster.port}"]
                reference(part, ctx)
            except RuntimeError as exc:
                skipped.append(f"{part}: cannot run on this machine: {exc}")
                print(skipped[-1], flush=True)
                continue
            for i in range(args.runs):
                if cluster is not None:
                    ctx.node_sid = cluster.start_node()
                plan = draw(part, np.random.default_rng([args.seed, PARTS.index(part), i]), args.kills,
                            args.ray_kills)
                o = soak_run(part, i, ctx, plan)
                outcomes.append(o)
                print(f"{part:8} {i:3d} {'identical' if o.identical else 'DIFFERENT'} lost {o.lost} dup "
                      f"{o.duplicates} {o.seconds:6.1f}s  {'; '.join(o.notes)}", flush=True)
            rows.append((part, outcomes, time.monotonic() - started))
            bad |= any(not o.identical or o.lost or o.failed for o in outcomes)
            if cluster is not None:
                cluster.stop()
                cluster, ctx.node_sid, ctx.env, ctx.extra = None, 0, dict(ENV), []
    finally:
        if cluster is not None:
            cluster.stop()
        for sid in list(SESSIONS):
            kill_session(sid)
    print(f"\n{'part':8} {'runs':>5} {'identical':>10} {'lost evals':>11} {'dup entries':>12} {'kills':>6} "
          f"{'failed':>7} {'seconds':>8}")
    for part, outcomes, seconds in rows:
        n = len(outcomes)
        print(f"{part:8} {n:5d} {sum(o.identical for o in outcomes):>6d}/{n:<3d} {sum(o.lost for o in outcomes):11d} "
              f"{sum(o.duplicates for o in outcomes):12d} {sum(o.kills for o in outcomes):6d} "
              f"{sum(o.failed for o in outcomes):7d} {seconds:8.1f}")
    if "serial" in ctx.finals and "ray" in ctx.finals:  # information: results should not depend on the evaluator
        diffs, _ = compare(ctx.finals["ray"], ctx.finals["serial"], {})
        print(f"the Ray reference against the serial one: {'; '.join(diffs) or 'identical'}")
    for line in skipped:
        print(line)
    return 1 if bad else 2 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
