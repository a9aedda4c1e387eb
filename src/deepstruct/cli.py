"""The ``deepstruct`` command: ``evolve``, ``resume``, ``report`` and ``extract``.

Bad arguments or configuration end with one line ``deepstruct: error: ...`` naming the field, exit code 2
(``evolve --check`` stops there: it trains nothing and writes nothing). A run stopped by a full disk ends with
one line naming the run directory, exit code 1; its last checkpoint is intact, so ``resume`` goes on once there is
space again.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

__all__ = ["main", "build_parser"]


class UsageError(ValueError):
    """A bad command line (exit code 2)."""


class DiskFull(RuntimeError):
    """A run stopped because its directory's disk is full (exit code 1)."""


#: errno values of a full disk (or an exhausted quota).
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _assignment(text: str) -> tuple[str, Any]:
    """``field.path=value``; the value is read as TOML (numbers, booleans, strings, lists) or kept as text."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the tomli backport (a dependency there)
        import tomli as tomllib

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"--set expects field=value, got {text!r}")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value


# flag -> dotted config field
_FLAGS = {
    "task": "task.name", "generations": "algorithm.generations", "population": "algorithm.population",
    "algorithm": "algorithm.name", "workers": "evaluator.workers", "evaluator": "evaluator.kind",
    "address": "evaluator.address", "out": "out", "seed": "seed", "epochs": "training.epochs",
    "mode": "training.mode", "prune": "training.prune_amount", "device": "training.device",
    "batch": "evaluator.batch",
}


_TASK_AGAIN = ("the run's user task (module:function) again: a task named only in the run directory is never "
               "imported (default: none; a built-in task needs no naming)")


def _default(field: str, text: str) -> str:
    """``text`` with the configuration's default of ``field``: ``"... (default: 20)"``."""
    from deepstruct.evo.config import RunConfig

    value: Any = RunConfig().to_dict()
    for part in field.split("."):
        value = value[part]
    shown = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value
    return f"{text} (default: {shown})"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="deepstruct", description="Graphs and sparse neural networks: neuroevolution runs.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    evolve = sub.add_parser("evolve", help="start an evolutionary run",
                            description="Start an evolutionary run. Every flag overrides one field of the run "
                                        "configuration (defaults below; `--check` prints them all).")
    evolve.add_argument("--config", help="a TOML run configuration (default: none, the built-in defaults)")
    evolve.add_argument("--task", help=_default("task.name", "digits, mnist1d, fashion-mnist or module:function"))
    evolve.add_argument("--algorithm", help=_default("algorithm.name",
                                                     "ga, mu_plus_lambda, nsga2, aging or random (the baseline)"))
    evolve.add_argument("--generations", type=_positive,
                        help=_default("algorithm.generations", "generations after the initial one"))
    evolve.add_argument("--population", type=_positive, help=_default("algorithm.population", "individuals"))
    evolve.add_argument("--workers", type=_positive, help=_default("evaluator.workers", "CPUs of the local Ray "
                                                                                       "instance"))
    evolve.add_argument("--evaluator", help=_default("evaluator.kind", "serial or ray"))
    evolve.add_argument("--address", help="a Ray cluster to join (default: RAY_ADDRESS, else a local instance)")
    evolve.add_argument("--out", help="the run directory (default runs/<task>-<algorithm>-s<seed>-<time>)")
    evolve.add_argument("--seed", type=_positive, help=_default("seed", "the run's seed"))
    evolve.add_argument("--epochs", type=_positive, help=_default("training.epochs", "training epochs per "
                                                                                      "individual"))
    evolve.add_argument("--mode", help=_default("training.mode", "inheritance: lamarckian, baldwinian or none"))
    evolve.add_argument("--prune", type=float, help=_default("training.prune_amount", "fraction of connections "
                                                                                        "pruned after training"))
    evolve.add_argument("--device", help=_default("training.device", "auto (a GPU if there is one), cpu or cuda"))
    evolve.add_argument("--batch", type=_positive,
                        help=_default("evaluator.batch", "members (genome x training seed) per tensor program: 1 "
                                                         "one by one, 0 auto"))
    evolve.add_argument("--objectives", help=_default("training.objectives", "comma-separated, e.g. accuracy,params "
                                                                             "(sizes as deepstruct.genomes.size "
                                                                             "counts them)"))
    evolve.add_argument("--set", action="append", default=[], type=_assignment, metavar="FIELD=VALUE",
                        help="override any config field, e.g. --set training.learning_rate=0.01 (repeatable; default: "
                             "none; `--check` prints every field)")
    evolve.add_argument("--no-progress", action="store_true",
                        help="no progress (default: a bar on a terminal, a line per generation otherwise)")
    evolve.add_argument("--check", action="store_true",
                        help="check the configuration (fields, task, initialiser, operators), print it as TOML and "
                             "stop: nothing is trained or written (default: off)")
    resume = sub.add_parser("resume", help="continue a run from its run directory")
    resume.add_argument("run_dir", help="the run directory (as `deepstruct evolve` printed it)")
    resume.add_argument("--evaluator", help="serial or ray (default: the run's; results do not depend on it)")
    resume.add_argument("--workers", type=_positive, help="CPUs of the local Ray instance (default: the run's)")
    resume.add_argument("--address", help="a Ray cluster to join (default: the run's, RAY_ADDRESS, else local)")
    resume.add_argument("--no-progress", action="store_true", help="no progress (default: progress on stderr)")
    resume.add_argument("--task", help=_TASK_AGAIN)
    report = sub.add_parser("report", help="(re)write logbook.csv, best genomes and plots of a run")
    report.add_argument("run_dir", help="the run directory")
    report.add_argument("--task", help=_TASK_AGAIN)
    report.add_argument("--retrain", action="store_true",
                        help="train the best genome again for best_model.pt even when the run saved it (default: "
                             "reuse it)")
    extract = sub.add_parser("extract", help="the graph of a saved model (best_model.pt)")
    extract.add_argument("model_file", help="a best_model.pt written by a run")
    extract.add_argument("--out", help="output stem (default: next to the model file)")
    return parser


def _config(args: argparse.Namespace) -> Any:
    from deepstruct.evo.config import RunConfig, load_config

    overrides: dict[str, Any] = {}
    for flag, field in _FLAGS.items():
        value = getattr(args, flag, None)
        if value is not None:
            overrides[field] = value
    if args.objectives is not None:
        overrides["training.objectives"] = [s.strip() for s in args.objectives.split(",") if s.strip()]
    overrides.update(dict(args.set))
    if args.config:
        return load_config(args.config, overrides)
    return RunConfig().override(overrides)


def _named_task(args: argparse.Namespace) -> str | None:
    """The task the user named on this command line (``--task`` or ``--set task.name=...``), if any."""
    named = dict(getattr(args, "set", []) or []).get("task.name", args.task)
    return named if isinstance(named, str) else None


def _named_again(args: argparse.Namespace, config: Any, where: str) -> Any:
    """The task of a saved run, loaded here when ``--task`` names it again (else None: the engine loads a built-in
    task itself and refuses a user task). Only the task named on the command line is ever imported."""
    from deepstruct.evo.tasks import load_task

    if args.task is None:
        return None
    if args.task != config.task.name:
        raise UsageError(f"--task {args.task} is not the task of {where} ({config.task.name}); a run keeps its task")
    return load_task(config.task, seed=config.seed, allow_import=False, trusted=args.task)


def _evolve(args: argparse.Namespace) -> int:
    from deepstruct.evo.run import EvolutionRun
    from deepstruct.evo.tasks import is_user_task

    config = _config(args)
    # a user task named only inside the --config file is not imported (config files are shared like results)
    trusted = not args.config or not is_user_task(config.task.name) or _named_task(args) == config.task.name
    run = EvolutionRun(config, progress=not args.no_progress, allow_import=trusted)
    if (run.run_dir / "config.json").exists():
        raise UsageError(f"out: {run.run_dir} already holds a run; resume it with `deepstruct resume {run.run_dir}`")
    _check_memory(run)
    if args.check:
        from deepstruct.evo.config import config_to_toml

        sys.stdout.write(config_to_toml(config))
        print(f"deepstruct: the configuration is valid (task {config.task.name}, run directory {run.run_dir}); "
              "nothing was trained or written", file=sys.stderr)
        return 0
    print(f"deepstruct: run directory {run.run_dir} ({config.task.name}, {config.algorithm.name}, "
          f"{config.evaluator.kind} evaluator)", file=sys.stderr)
    return _finish(_run(run))


def _check_memory(run: Any) -> None:
    """Refuse a run whose genomes and batches would not fit in this machine's memory; say what it will take."""
    from deepstruct.evo.budget import check_fits, estimate

    data = sum(int(getattr(a, "nbytes", 0)) for a in run.task.arrays().values())
    found = estimate(run.config, run.task.num_inputs, run.task.num_classes, data)
    check_fits(found)
    print(f"deepstruct: {found.describe()}", file=sys.stderr)


def _run(run: Any) -> Any:
    """``run.run()``; a full disk becomes :class:`DiskFull` naming the run directory (the previous checkpoint is
    intact: checkpoints are replaced atomically, and a torn journal line is dropped on resume)."""
    try:
        return run.run()
    except OSError as exc:
        if exc.errno not in NO_SPACE:
            raise
        where = f" writing {exc.filename}" if exc.filename else ""
        if (run.run_dir / "config.json").is_file():
            then = f"its last checkpoint is intact: free some space, then `deepstruct resume {run.run_dir}`"
        else:
            then = "nothing of the run was saved: free some space and start it again"
        raise DiskFull(f"no space left on device in the run directory {run.run_dir}{where}; {then}") from exc


def _finish(run: Any) -> int:
    from deepstruct.evo.report import summary_lines

    for line in summary_lines(run.run_dir):
        print(line)
    names = ["config.toml", "checkpoint.json", "journal.jsonl", "logbook.csv", "best/", "best_model.pt",
             "fitness.png", "pareto.png", "best_network.png"]
    print(f"results in {run.run_dir}: {', '.join(n for n in names if (run.run_dir / n.rstrip('/')).exists())}")
    return 0


def _resume(args: argparse.Namespace) -> int:
    from deepstruct.evo.run import EvolutionRun
    from deepstruct.evo.store import read_config

    overrides = {f"evaluator.{name}": getattr(args, key) for key, name in
                 (("evaluator", "kind"), ("workers", "workers"), ("address", "address"))
                 if getattr(args, key) is not None}
    from deepstruct.evo.store import lock_run_dir

    run_dir = Path(args.run_dir)
    task = _named_again(args, read_config(run_dir), args.run_dir)  # the config resume reads
    lock_run_dir(run_dir).close()  # a directory in use is refused before anything is said or loaded
    run = EvolutionRun.resume(run_dir, evaluator_overrides=overrides, progress=not args.no_progress, task=task)
    total = run.config.algorithm.generations
    if run.resumed is not None and run.resumed.get("finished"):
        from deepstruct.evo.report import write_report

        print(f"deepstruct: {run_dir} is finished (generation {run.generation} of {total}): nothing to resume; "
              "writing its report", file=sys.stderr)
        for line in write_report(run_dir, task=task, log=None if args.no_progress else _stderr):
            print(line)
        return 0
    where = (f"after generation {run.generation} of {total} ({run.evaluations} evaluations journalled)"
             if run.generation >= 0 else "from the start (no generation finished)")
    if not args.no_progress:  # --no-progress: quiet until the summary (or the one error line)
        print(f"deepstruct: resuming {run_dir} {where}", file=sys.stderr)
    return _finish(_run(run))


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _report(args: argparse.Namespace) -> int:
    from deepstruct.evo.config import ConfigError, RunConfig
    from deepstruct.evo.persistence import read_json
    from deepstruct.evo.report import write_report

    task = None
    if args.task is not None:  # the report trains the best genome with the checkpoint's config: name that task
        path = Path(args.run_dir) / "checkpoint.json"
        if not path.is_file():
            raise ConfigError(f"{args.run_dir} has no checkpoint.json (not a run directory, or no generation finished)")
        try:
            data = read_json(path)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        config = data.get("config") if isinstance(data, dict) else None
        if not isinstance(config, dict):
            raise ConfigError(f"{path}: no config in the checkpoint")
        task = _named_again(args, RunConfig.from_dict(config), str(path))
    for line in write_report(args.run_dir, task=task, retrain=args.retrain, log=_stderr):
        print(line)
    return 0


def _extract(args: argparse.Namespace) -> int:
    from deepstruct.evo.extract import extract_model_file

    for line in extract_model_file(args.model_file, args.out):
        print(line)
    return 0


_COMMANDS = {"evolve": _evolve, "resume": _resume, "report": _report, "extract": _extract}


def _one_line(text: str) -> str:
    """``text`` with line breaks and other unprintable characters escaped: an error is one line, whatever file
    names or values it quotes."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii")
                   for c in text)


#: The longest error message printed (a value read from a file may be megabytes long).
MAX_MESSAGE = 600


def _error(message: str) -> None:
    line = _one_line(message[: MAX_MESSAGE * 4])
    if len(line) > MAX_MESSAGE:
        line = f"{line[: MAX_MESSAGE - 20]}... ({len(message)} characters)"
    print(f"deepstruct: error: {line}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``deepstruct`` console script; returns the exit code."""
    from deepstruct.evo.config import ConfigError

    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    try:
        args = build_parser().parse_args(argv)
        return _COMMANDS[args.command](args)
    except (UsageError, ConfigError) as exc:
        _error(str(exc))
        return 2
    except FileNotFoundError as exc:
        _error(f"{exc.strerror}: {exc.filename}")
        return 2
    except DiskFull as exc:
        _error(str(exc))
        return 1
    except ConnectionError as exc:  # joining a Ray cluster (a ConnectionError is an OSError without a file)
        from deepstruct.evo.cluster import explain

        _error(explain(exc) or f"{type(exc).__name__}: {exc}")
        return 1
    except OSError as exc:  # report or extract on a full disk (a run's own writes are DiskFull), a read-only
        # directory, a path below a regular file: one line naming the file
        where = f": {exc.filename}" if exc.filename else ""
        if exc.errno in NO_SPACE:
            _error(f"no space left on device{f' writing {exc.filename}' if exc.filename else ''}")
        else:
            _error(f"{exc.strerror or type(exc).__name__}{where}")
        return 1
    except ValueError as exc:  # a file refused on the way (not a regular file, damaged, too large)
        _error(str(exc))
        return 2
    except KeyboardInterrupt:
        print("deepstruct: interrupted; continue with `deepstruct resume RUN_DIR`", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - never a traceback for a user (MemoryError, RecursionError too)
        from deepstruct.evo.cluster import explain

        _error(explain(exc) or f"unexpected {type(exc).__name__}: {exc} (please report this with the command line)")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
