"""Tasks: classification data sets as numpy arrays, split into train / validation / test.

Shipped: ``digits`` (scikit-learn, the default), ``mnist1d`` (generated locally with
``mnist1d.data.make_dataset``; never downloaded) and ``fashion-mnist`` (the four standard IDX files, gzipped or
not, from the Debian package ``dataset-fashion-mnist`` or from any directory named by ``task.params.path``). A
user-defined task is any ``module:function`` returning a :class:`Task` or arrays ``(x, y)``;
:func:`register_task` adds a name.

A name read from a file (a run directory's ``config.json``, a TOML config) never makes deepstruct import code by
itself: :func:`load_task` imports a ``module:function`` task only with ``allow_import=True``, which the command
line passes only when the user names the same task again (``--task module:function``); otherwise it raises
:class:`UntrustedTaskError`.
"""

from __future__ import annotations

import gzip
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepstruct.evo.config import ConfigError, TaskConfig

__all__ = ["Task", "TASKS", "register_task", "load_task", "split_task", "is_user_task", "read_idx",
           "UntrustedTaskError", "FASHION_MNIST_DIR", "FASHION_MNIST_FILES"]

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                       "t10k-labels-idx1-ubyte")
"""The standard IDX file names (each also accepted with ``.gz``, and with ``.idx`` in place of ``-idx``)."""
_IDX_MAX_BYTES = 1 << 31  # no IDX file of a task is larger; a header claiming more is refused before reading


class UntrustedTaskError(ConfigError):
    """A ``module:function`` task was named in a file but not by the caller, so it was not imported."""


@dataclass(frozen=True)
class Task:
    """A classification task: float32 inputs (flattened) and int64 labels for each split."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    @property
    def num_inputs(self) -> int:
        return int(self.x_train.shape[1])

    def arrays(self) -> dict[str, np.ndarray]:
        """The plain arrays (what goes to the Ray object store)."""
        return {k: getattr(self, k) for k in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")}


def split_task(name: str, x: np.ndarray, y: np.ndarray, config: TaskConfig, *, seed: int,
               x_test: np.ndarray | None = None, y_test: np.ndarray | None = None) -> Task:
    """Shuffle with ``seed`` and split ``(x, y)`` into train / validation (/ test unless given)."""
    x = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
    y = np.asarray(y).astype(np.int64).reshape(-1)
    if len(x) != len(y) or len(x) < 10:
        raise ConfigError(f"task {name!r}: need at least 10 samples and as many labels as inputs "
                          f"(got {len(x)} inputs, {len(y)} labels)")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    if config.max_samples:
        order = order[: config.max_samples]
    x, y = x[order], y[order]
    n = len(x)
    n_val = max(1, int(round(n * config.validation_fraction)))
    if x_test is None or y_test is None:
        n_test = max(1, int(round(n * config.test_fraction)))
        x_test, y_test = x[:n_test], y[:n_test]
        x, y = x[n_test:], y[n_test:]
    else:
        x_test = np.asarray(x_test, dtype=np.float32).reshape(len(x_test), -1)
        y_test = np.asarray(y_test).astype(np.int64).reshape(-1)
    x_val, y_val, x_train, y_train = x[:n_val], y[:n_val], x[n_val:], y[n_val:]
    if not (len(x_train) and len(x_val) and len(x_test)):
        raise ConfigError(f"task {name!r}: {n} samples (task.max_samples={config.max_samples}) leave "
                          f"{len(x_train)} for training, {len(x_val)} for validation and {len(x_test)} for testing; "
                          "each needs at least one")
    num_classes = int(max(y_train.max(), y_val.max(), y_test.max())) + 1
    return Task(name, np.ascontiguousarray(x_train), y_train, np.ascontiguousarray(x_val), y_val,
                np.ascontiguousarray(x_test), y_test, num_classes)


def _digits(config: TaskConfig, seed: int) -> Task:
    from sklearn.datasets import load_digits

    data = load_digits()
    return split_task("digits", data.data / 16.0, data.target, config, seed=seed)


def _mnist1d(config: TaskConfig, seed: int) -> Task:
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    for key, value in config.params.items():
        if not hasattr(args, key) or key == "url":
            raise ConfigError(f"task.params.{key} is not an mnist1d dataset argument")
        setattr(args, key, value)
    data = make_dataset(args)  # generated locally; never get_dataset(), which downloads
    return split_task("mnist1d", data["x"], data["y"], config, seed=seed, x_test=data["x_test"],
                      y_test=data["y_test"])


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file of unsigned bytes (``.gz`` or not), bounded by its header; a bad file is a ConfigError.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "labels-idx1-ubyte"
    >>> _ = path.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
    >>> read_idx(path).tolist()
    [7, 8, 9]
    """
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")) as fh:
            magic = fh.read(4)
            if len(magic) < 4 or magic[:3] != b"\x00\x00\x08" or not 1 <= magic[3] <= 4:
                raise ConfigError(f"{path} is not an IDX file of unsigned bytes (magic {magic.hex() or 'missing'})")
            dims = fh.read(4 * magic[3])
            if len(dims) < 4 * magic[3]:
                raise ConfigError(f"{path}: the IDX header is truncated")
            shape = tuple(int.from_bytes(dims[4 * i: 4 * i + 4], "big") for i in range(magic[3]))
            size = int(np.prod(shape, dtype=np.int64)) if all(shape) else 0
            if size > _IDX_MAX_BYTES:
                raise ConfigError(f"{path}: the IDX header claims {size} bytes, over the limit {_IDX_MAX_BYTES}")
            raw = fh.read(size + 1)
    except (OSError, EOFError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{path}: cannot read the IDX file ({type(exc).__name__}: {exc})") from None
    if len(raw) != size:
        raise ConfigError(f"{path}: the IDX header gives shape {shape} ({size} bytes) but the file holds "
                          f"{len(raw) if len(raw) <= size else 'more'} bytes of data")
    return np.frombuffer(raw, dtype=np.uint8).reshape(shape)


_FASHION_HELP = ("get Fashion-MNIST either by installing the Debian package dataset-fashion-mnist (apt-get install "
                 f"dataset-fashion-mnist, files in {FASHION_MNIST_DIR}) or by putting the four standard IDX files "
                 f"({', '.join(FASHION_MNIST_FILES)}, .gz or not) in a directory and naming it with "
                 "--set task.params.path=DIR")


def _find_idx(directory: Path, stem: str) -> Path:
    for name in (stem, stem.replace("-idx", ".idx")):
        for candidate in (directory / name, directory / (name + ".gz")):
            if candidate.is_file():
                return candidate
    raise ConfigError(f"Fashion-MNIST file {stem}[.gz] not found in {directory}: {_FASHION_HELP}")


def _fashion_mnist(config: TaskConfig, seed: int) -> Task:
    unknown = set(config.params) - {"path"}
    if unknown:
        raise ConfigError(f"task.params.{sorted(unknown)[0]} is not a fashion-mnist parameter (only path)")
    path = config.params.get("path", FASHION_MNIST_DIR)
    if not isinstance(path, str | Path) or not str(path):
        raise ConfigError(f"task.params.path must be a directory name, got {path!r}")
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise ConfigError(f"Fashion-MNIST not found: {directory} is not a directory; {_FASHION_HELP}")
    images, labels, test_images, test_labels = (read_idx(_find_idx(directory, stem)) for stem in FASHION_MNIST_FILES)
    for x, y, what in ((images, labels, "train"), (test_images, test_labels, "t10k")):
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ConfigError(f"Fashion-MNIST {what} files in {directory}: {len(x)} images of shape {x.shape[1:]} "
                              f"and labels of shape {y.shape} do not match (images N x H x W, N labels)")
    if images.shape[1:] != test_images.shape[1:]:
        raise ConfigError(f"Fashion-MNIST in {directory}: train images are {images.shape[1:]}, test images "
                          f"{test_images.shape[1:]}")
    scale = np.float32(255.0)
    return split_task("fashion-mnist", images / scale, labels, config, seed=seed, x_test=test_images / scale,
                      y_test=test_labels)


TaskLoader = Callable[[TaskConfig, int], Task]
TASKS: dict[str, TaskLoader] = {"digits": _digits, "mnist1d": _mnist1d, "fashion-mnist": _fashion_mnist}


def register_task(name: str, loader: TaskLoader) -> None:
    """Make ``loader(task_config, seed) -> Task`` available as ``task.name = name``."""
    globals()["TASKS"][name] = loader


def _user_task(spec: str, config: TaskConfig, seed: int) -> Task:
    module_name, _, attr = spec.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"task.name {spec!r}: cannot import {attr!r} from {module_name!r} ({exc})") from None
    if not callable(function):
        raise ConfigError(f"task.name {spec!r}: {attr!r} of {module_name!r} is not a function")
    try:
        result: Any = function(**config.params)
    except Exception as exc:  # noqa: BLE001 - whatever the user's function raises, the task cannot be loaded
        raise ConfigError(f"task.name {spec!r}: the function failed with task.params {str(config.params)[:80]} "
                          f"({type(exc).__name__}: {str(exc)[:200]})") from None
    if isinstance(result, Task):
        return result
    if isinstance(result, tuple) and len(result) == 2:
        return split_task(spec, result[0], result[1], config, seed=seed)
    raise ConfigError(f"task.name {spec!r}: the function must return a Task or arrays (x, y)")


def is_user_task(name: str) -> bool:
    """Whether ``name`` is a ``module:function`` task (not a registered name): loading it imports code."""
    return name not in globals()["TASKS"] and ":" in name


def load_task(config: TaskConfig, *, seed: int = 0, allow_import: bool = True, trusted: str | None = None) -> Task:
    """The task named by ``config.name`` (a registered name or ``module:function``).

    ``allow_import=False`` refuses a ``module:function`` task with :class:`UntrustedTaskError`, unless
    ``trusted`` is that same name: a name read from a file someone else wrote (a run directory, a config file)
    must never make deepstruct import and call code; the caller names the task again instead (``trusted``, the
    command line's ``--task module:function``) or passes the :class:`Task`.

    Examples
    --------
    >>> load_task(TaskConfig(name="os:system"), allow_import=False)
    Traceback (most recent call last):
    ...
    deepstruct.evo.tasks.UntrustedTaskError: task.name 'os:system' is a user task (module:function) named in a file: ...
    """
    registry = globals()["TASKS"]
    if config.name in registry:
        return registry[config.name](config, seed)
    if ":" in config.name:
        if not allow_import and trusted != config.name:
            raise UntrustedTaskError(
                f"task.name {config.name!r} is a user task (module:function) named in a file: it is not imported "
                f"unless you name it again: --task {config.name} (deepstruct evolve --config, resume, report), or "
                "pass the Task from Python (EvolutionRun(..., task=...))")
        return _user_task(config.name, config, seed)
    raise ConfigError(f"task.name must be one of {', '.join(registry)} or module:function; got {config.name!r}")
