"""Tasks: classification data sets as numpy arrays, split into train / validation / test.

Shipped: ``digits`` (scikit-learn, the default), ``mnist1d`` (generated locally with
``mnist1d.data.make_dataset``; never downloaded) and ``fashion-mnist`` (read from the Debian package
``dataset-fashion-mnist``). A user-defined task is any ``module:function`` returning a :class:`Task` or
arrays ``(x, y)``; :func:`register_task` adds a name.
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

__all__ = ["Task", "TASKS", "register_task", "load_task", "split_task", "FASHION_MNIST_DIR"]

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


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


def _read_idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 8 or raw[0] != 0 or raw[1] != 0 or raw[2] != 8:
        raise ConfigError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _find_idx(directory: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (directory / name).is_file():
            return directory / name
    raise ConfigError(f"Fashion-MNIST file {stem}[.gz] not found in {directory}: install the Debian package "
                      "dataset-fashion-mnist (apt-get install dataset-fashion-mnist)")


def _fashion_mnist(config: TaskConfig, seed: int) -> Task:
    directory = Path(config.params.get("path", FASHION_MNIST_DIR))
    if not directory.is_dir():
        raise ConfigError(f"Fashion-MNIST not found at {directory}: install the Debian package "
                          "dataset-fashion-mnist (apt-get install dataset-fashion-mnist)")
    x = _read_idx(_find_idx(directory, "train-images-idx3-ubyte")) / np.float32(255.0)
    y = _read_idx(_find_idx(directory, "train-labels-idx1-ubyte"))
    xt = _read_idx(_find_idx(directory, "t10k-images-idx3-ubyte")) / np.float32(255.0)
    yt = _read_idx(_find_idx(directory, "t10k-labels-idx1-ubyte"))
    return split_task("fashion-mnist", x, y, config, seed=seed, x_test=xt, y_test=yt)


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
    result: Any = function(**config.params)
    if isinstance(result, Task):
        return result
    if isinstance(result, tuple) and len(result) == 2:
        return split_task(spec, result[0], result[1], config, seed=seed)
    raise ConfigError(f"task.name {spec!r}: the function must return a Task or arrays (x, y)")


def load_task(config: TaskConfig, *, seed: int = 0, allow_import: bool = True) -> Task:
    """The task named by ``config.name`` (a registered name or ``module:function``).

    ``allow_import=False`` refuses a ``module:function`` task: a name read from a file someone else wrote (a
    run directory) must never make deepstruct import and call code; the caller names the task again instead.
    """
    registry = globals()["TASKS"]
    if config.name in registry:
        return registry[config.name](config, seed)
    if ":" in config.name:
        if not allow_import:
            raise ConfigError(f"task.name {config.name!r} is a user task (module:function) named in a file: it is "
                              "not imported unless you name it again (deepstruct resume/report --task "
                              f"{config.name}, or pass the task from Python)")
        return _user_task(config.name, config, seed)
    raise ConfigError(f"task.name must be one of {', '.join(registry)} or module:function; got {config.name!r}")
