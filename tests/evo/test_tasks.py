"""Tasks: the shipped data sets, Fashion-MNIST from IDX files, user-defined tasks, clear errors."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from deepstruct.evo.config import ConfigError, TaskConfig
from deepstruct.evo.tasks import Task, load_task, split_task


def make_blobs(n: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """A user task: module:function returning arrays (x, y)."""
    rng = np.random.default_rng(0)
    y = np.arange(n) % 3
    return rng.normal(size=(n, 5)) + y[:, None], y


def test_digits_splits_are_disjoint_and_seeded() -> None:
    task = load_task(TaskConfig(), seed=1)
    assert task.num_inputs == 64 and task.num_classes == 10
    assert len(task.x_train) + len(task.x_val) + len(task.x_test) == 1797
    again = load_task(TaskConfig(), seed=1)
    assert np.array_equal(task.x_val, again.x_val)
    assert task.x_train.dtype == np.float32 and task.y_train.dtype == np.int64


def test_mnist1d_is_generated_locally() -> None:
    task = load_task(TaskConfig(name="mnist1d", params={"num_samples": 400}), seed=0)
    assert task.num_inputs == 40 and task.num_classes == 10 and len(task.x_test) == 80


def _idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def test_fashion_mnist_reads_the_debian_idx_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    _idx(tmp_path / "train-images-idx3-ubyte.gz", rng.integers(0, 256, size=(50, 28, 28)))
    _idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(50) % 10)
    _idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, size=(20, 28, 28)))
    _idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(20) % 10)
    task = load_task(TaskConfig(name="fashion-mnist", params={"path": str(tmp_path)}))
    assert task.num_inputs == 784 and len(task.x_test) == 20 and float(task.x_train.max()) <= 1.0
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(ConfigError, match="dataset-fashion-mnist"):
        load_task(TaskConfig(name="fashion-mnist", params={"path": str(tmp_path)}))


def test_user_defined_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    from deepstruct.evo import tasks

    monkeypatch.setattr(tasks, "TASKS", dict(tasks.TASKS))
    task = load_task(TaskConfig(name="tests.evo.test_tasks:make_blobs"))
    assert task.num_inputs == 5 and task.num_classes == 3
    tasks.register_task("blobs", lambda config, seed: split_task("blobs", *make_blobs(), config, seed=seed))
    assert isinstance(load_task(TaskConfig(name="blobs")), Task)
    with pytest.raises(ConfigError, match="task.name"):
        load_task(TaskConfig(name="tests.evo.test_tasks:missing"))
    with pytest.raises(ConfigError, match="task.name"):
        load_task(TaskConfig(name="cifar"))
