"""Full-disk soak: real runs into a tiny tmpfs that fills up, then resumed once there is space again.

    sudo .venv/bin/python benchmarks/soak_disk_full.py [--points 0.1 0.3 0.5 0.7 0.9] [--keep]

Needs root (it mounts tmpfs file systems; exit status 2 where it cannot). A reference run (``deepstruct
evolve``, serial, digits, 4 individuals, 2 generations, 1 epoch, one member per batch, with its report) is made
on the ordinary disk first and its footprint measured in 4 KiB pages. For every point p a tmpfs of p x that
footprint is mounted, and the same command runs into it as a process of its own. The run must end with exit code
1 and, last on stderr, one line naming the run directory and "no space left"; its ``checkpoint.json`` (if any)
must be a valid sealed checkpoint and no temporary file may be left. The tmpfs is then grown (``mount -o
remount``), ``deepstruct resume`` (or ``evolve`` again when no ``config.json`` was written) must exit 0, and the
final checkpoint and every journalled result must equal the reference's. Exit status 1 when a point fails.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzzing.run_dirs import final_state, journal_results  # noqa: E402

from deepstruct.evo.config import ConfigError  # noqa: E402
from deepstruct.evo.store import RunStore  # noqa: E402

RUN = ["--evaluator", "serial", "--population", "4", "--generations", "2", "--epochs", "1", "--seed", "3",
       "--set", "task.max_samples=300", "--set", "genome.num_vertices=10", "--set", "training.seeds=1",
       "--set", "evaluator.batch=1", "--no-progress"]
PAGE = 4096


def deepstruct(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deepstruct.cli", *args], capture_output=True, text=True,
                          timeout=600)


def footprint(run_dir: Path) -> int:
    """Bytes a directory tree takes in whole pages (what tmpfs charges)."""
    total = PAGE
    for path in run_dir.rglob("*"):
        total += PAGE * max(1, -(-path.stat().st_size // PAGE)) if path.is_file() else PAGE
    return total


def mount(point: Path, size: int, *, remount: bool = False) -> None:
    options = f"{'remount,' if remount else ''}size={size}"
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], check=True, capture_output=True)


def soak_point(fraction: float, size: int, mnt: Path, ref: dict[str, Any]) -> tuple[bool, str]:
    mnt.mkdir()
    mount(mnt, size)
    try:
        run_dir = mnt / "run"
        first = deepstruct("evolve", *RUN, "--out", str(run_dir))
        if first.returncode == 0:
            return True, f"fits in {size} bytes: no failure to test"
        last = first.stderr.strip().splitlines()[-1] if first.stderr.strip() else ""
        errors = [line for line in first.stderr.splitlines() if "Traceback" in line or line.startswith("deepstruct: e")]
        problems = []
        if first.returncode != 1 or len(errors) != 1 or not last.startswith("deepstruct: error: "):
            problems.append(f"exit {first.returncode}, stderr ends {first.stderr.strip()[-300:]!r}")
        elif "no space left" not in last or str(run_dir) not in last:
            problems.append(f"the error does not name the directory and 'no space left': {last!r}")
        if list(run_dir.glob(".*.tmp")):
            problems.append("a temporary file was left")
        generation = "none"
        if (run_dir / "checkpoint.json").exists():
            try:
                generation = str(RunStore(run_dir).read_checkpoint()["generation"])  # type: ignore[index]
            except ConfigError as exc:
                problems.append(f"the checkpoint left is not valid: {exc}")
        mount(mnt, 256 << 20, remount=True)
        again = deepstruct("resume", str(run_dir), "--no-progress") if (run_dir / "config.json").exists() else \
            deepstruct("evolve", *RUN, "--out", str(run_dir))
        if again.returncode != 0:
            problems.append(f"resume: exit {again.returncode}: {again.stderr.strip()[-300:]!r}")
        elif final_state(run_dir) != ref["final"] or journal_results(run_dir) != ref["results"]:
            problems.append("the resumed run differs from the reference")
        where = last.split(" writing ")[-1].split(";")[0].replace(str(run_dir) + "/", "") if " writing " in last \
            else "(a report file)"
        note = f"failed writing {where}; checkpoint left: generation {generation}; resumed identical"
        return not problems, "; ".join(problems) or note
    finally:
        subprocess.run(["umount", str(mnt)], check=False, capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=float, nargs="+", default=[0.1, 0.3, 0.5, 0.7, 0.9])
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="soak-disk-full-"))
    try:
        probe = work / "probe"
        probe.mkdir()
        try:
            mount(probe, 1 << 20)
        except (subprocess.CalledProcessError, FileNotFoundError) as exc:
            print(f"cannot mount a tmpfs here ({exc}); run as root on a machine that allows it")
            return 2
        subprocess.run(["umount", str(probe)], check=False)
        reference = deepstruct("evolve", *RUN, "--out", str(work / "reference"))
        if reference.returncode != 0:
            print(f"the reference run failed: {reference.stderr[-500:]}")
            return 1
        ref = {"final": final_state(work / "reference"), "results": journal_results(work / "reference")}
        total = footprint(work / "reference")
        names = sorted(p.name for p in (work / "reference").iterdir())
        print(f"reference run: {total} bytes in pages ({json.dumps(names)})")
        failed = 0
        for i, fraction in enumerate(args.points):
            size = max(PAGE * 4, int(fraction * total) // PAGE * PAGE)
            ok, note = soak_point(fraction, size, work / f"mnt{i}", ref)
            failed += not ok
            print(f"  {fraction:4.2f} x ({size:>8} bytes): {'ok  ' if ok else 'FAIL'} {note}", flush=True)
        return 1 if failed else 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


if __name__ == "__main__":
    sys.exit(main())
