"""``--task fashion-mnist`` from the standard IDX files in a directory the user names (gzipped or not), and clear
errors for missing or broken files that say both ways to get the data."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from deepstruct.cli import main
from deepstruct.evo.config import ConfigError, TaskConfig
from deepstruct.evo.tasks import FASHION_MNIST_FILES, load_task, read_idx


def _idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_set(directory: Path, *, gz: bool, n_train: int = 40, n_test: int = 12, side: int = 6,
               dotted: bool = False) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, size=(n_train, side, side)),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, size=(n_test, side, side)),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) + 3) % 10,
    }
    directory.mkdir(parents=True, exist_ok=True)
    for stem, array in arrays.items():
        name = stem.replace("-idx", ".idx") if dotted else stem
        raw = _idx_bytes(array)
        if gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (directory / name).write_bytes(raw)
    return arrays


@pytest.mark.parametrize(("gz", "dotted"), [(False, False), (True, False), (False, True)])
def test_fashion_mnist_from_a_named_directory(tmp_path: Path, gz: bool, dotted: bool) -> None:
    arrays = _write_set(tmp_path / "fm", gz=gz, dotted=dotted)
    task = load_task(TaskConfig(name="fashion-mnist", params={"path": str(tmp_path / "fm")}), seed=0)
    assert task.num_inputs == 36 and len(task.x_test) == 12
    assert np.array_equal(task.x_test, arrays["t10k-images-idx3-ubyte"].reshape(12, 36).astype(np.float32) / 255)
    assert np.array_equal(task.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert len(task.x_train) + len(task.x_val) == 40 and task.num_classes == 10
    assert 0.0 <= float(task.x_train.min()) and float(task.x_train.max()) <= 1.0


def test_the_idx_reader_is_bounded_by_its_header(tmp_path: Path) -> None:
    path = tmp_path / "x-idx1-ubyte"
    path.write_bytes(_idx_bytes(np.arange(5)))
    assert read_idx(path).tolist() == [0, 1, 2, 3, 4]
    cases = {
        "truncated": _idx_bytes(np.arange(5))[:-2],
        "trailing": _idx_bytes(np.arange(5)) + b"\x00",
        "magic": b"\x00\x00\x0d\x01" + _idx_bytes(np.arange(5))[4:],  # float data, not unsigned bytes
        "header": b"\x00\x00\x08\x03\x00\x00",
        "huge": b"\x00\x00\x08\x03" + struct.pack(">III", 60_000, 60_000, 60_000),
        "empty": b"",
    }
    for raw in cases.values():
        path.write_bytes(raw)
        with pytest.raises(ConfigError, match=str(path)):
            read_idx(path)
    bad_gz = tmp_path / "y-idx1-ubyte.gz"
    bad_gz.write_bytes(b"not gzip at all")
    with pytest.raises(ConfigError, match="cannot read the IDX file"):
        read_idx(bad_gz)


def test_images_and_labels_that_do_not_match_are_refused(tmp_path: Path) -> None:
    _write_set(tmp_path, gz=False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx_bytes(np.arange(39) % 10))
    with pytest.raises(ConfigError, match="do not match"):
        load_task(TaskConfig(name="fashion-mnist", params={"path": str(tmp_path)}))


def test_unknown_fashion_params_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="task.params.pth"):
        load_task(TaskConfig(name="fashion-mnist", params={"pth": str(tmp_path)}))


@pytest.mark.parametrize("make", ["none", "partial"])
def test_the_error_says_both_ways_to_get_the_data(tmp_path: Path, make: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "fm"
    if make == "partial":
        _write_set(directory, gz=True)
        (directory / f"{FASHION_MNIST_FILES[3]}.gz").unlink()
    assert main(["evolve", "--task", "fashion-mnist", "--set", f"task.params.path={directory}"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert "dataset-fashion-mnist" in lines[0] and "--set task.params.path=DIR" in lines[0]
    assert all(stem in lines[0] for stem in FASHION_MNIST_FILES)


def test_the_command_line_path_override_reads_the_files(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from deepstruct.evo.run import EvolutionRun

    _write_set(tmp_path / "fm", gz=True, n_train=60)

    class Started(BaseException):  # not an Exception: main() turns those into one error line
        pass

    def start(self: EvolutionRun) -> None:
        raise Started(self.task.num_inputs)

    monkeypatch.setattr(EvolutionRun, "run", start)
    with pytest.raises(Started, match="36"):
        main(["evolve", "--task", "fashion-mnist", "--set", f"task.params.path={tmp_path / 'fm'}",
              "--evaluator", "serial", "--out", str(tmp_path / "run")])
