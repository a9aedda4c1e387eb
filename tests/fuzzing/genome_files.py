"""The genome-file corpus and its oracle.

:func:`genome_corpus` starts from the live output of :func:`deepstruct.genomes.save_json` and
:func:`deepstruct.genomes.save_graphml` on a few seed genomes (so it follows the schema, whatever version it is
at) and applies one to three mutations to each case, two thirds of them structural (:mod:`.genome_json`,
:mod:`.genome_graphml`), the rest byte-level (:mod:`.byte_mutations`). :func:`load_case` loads one case with the
loader of its format and classifies the outcome, with the wall time and the peak of traced memory.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepstruct.genomes import (
    Genome,
    GenomeError,
    GenomeLimits,
    init_random_layered,
    init_watts_strogatz,
    load_graphml,
    load_json,
    save_graphml,
    save_json,
)
from tests.fuzzing.byte_mutations import Rng, mutate_bytes
from tests.fuzzing.genome_graphml import GRAPHML_MUTATIONS
from tests.fuzzing.genome_json import JSON_MUTATIONS, TEXT_MUTATIONS

__all__ = ["FuzzCase", "Outcome", "seed_genomes", "seed_files", "genome_corpus", "load_case"]


@dataclass(frozen=True)
class FuzzCase:
    """One generated file: its format (``"json"`` or ``"graphml"``), the mutations applied, and its bytes."""

    index: int
    fmt: str
    mutations: tuple[str, ...]
    data: bytes


@dataclass(frozen=True)
class Outcome:
    """How loading a case ended: ``kind`` is ``"valid"``, ``"GenomeError"`` or the name of another exception."""

    kind: str
    detail: str
    seconds: float
    peak_bytes: int


# -- seeds -------------------------------------------------------------------------------------------------
def seed_genomes() -> list[Genome]:
    """A few valid genomes covering the attributes a file can hold (activation, op, bias, weight)."""
    rng = np.random.default_rng(0)
    small = Genome(3, 2, edges=[(0, 1), (1, 2), (0, 2)])
    small.graph.nodes[1].update(activation="tanh", bias=0.25)
    small.graph.edges[0, 1]["weight"] = -1.5
    layered = init_random_layered(5, 3, 12, rng=rng, num_layers=3)
    for v in layered.vertices[:4]:
        layered.graph.nodes[v]["bias"] = float(rng.normal())
    for u, v in layered.edges[:6]:
        layered.graph.edges[u, v]["weight"] = float(rng.normal())
    world = init_watts_strogatz(4, 2, 20, rng=rng, orientation="random")
    world.graph.nodes[world.vertices[0]]["op"] = "conv3x3"
    single = Genome(1, 1, vertices=[0])
    return [small, layered, world, single]


def seed_files(directory: Path) -> dict[str, list[bytes]]:
    """The bytes of every seed genome as written by ``save_json`` and ``save_graphml`` (into ``directory``)."""
    out: dict[str, list[bytes]] = {"json": [], "graphml": []}
    for i, genome in enumerate(seed_genomes()):
        save_json(genome, directory / f"seed{i}.json")
        save_graphml(genome, directory / f"seed{i}.graphml")
        out["json"].append((directory / f"seed{i}.json").read_bytes())
        out["graphml"].append((directory / f"seed{i}.graphml").read_bytes())
    return out


def _structural(fmt: str, data: bytes, rng: Rng, sizes: tuple[int, ...]) -> tuple[str, bytes]:
    if fmt == "json":
        name = list(JSON_MUTATIONS)[int(rng.integers(len(JSON_MUTATIONS)))]
        try:
            tree = json.loads(data)
        except (ValueError, RecursionError):  # an earlier mutation broke the text: mutate the text instead
            tree = None
        if tree is None and name not in TEXT_MUTATIONS:
            return mutate_bytes(data, rng)
        return f"json.{name}", JSON_MUTATIONS[name](tree, data, rng, sizes)
    name = list(GRAPHML_MUTATIONS)[int(rng.integers(len(GRAPHML_MUTATIONS)))]
    text = data.decode("utf-8", "replace")
    return f"graphml.{name}", GRAPHML_MUTATIONS[name](text, rng, sizes).encode("utf-8", "surrogatepass")


def genome_corpus(count: int, seed: int, seeds: dict[str, list[bytes]], *,
                  big_sizes: tuple[int, ...] = (257, 10_001, 30_000)) -> Iterator[FuzzCase]:
    """``count`` mutated genome files, alternating JSON and GraphML, a pure function of ``seed`` and ``seeds``.

    Each case is a seed file with one to three mutations; two thirds of them are structural. ``big_sizes`` are
    the vertex counts of the ``big`` mutation (at or over the vertex and depth limits).
    """
    rng = np.random.default_rng(seed)
    for index in range(count):
        fmt = "json" if index % 2 == 0 else "graphml"
        data = seeds[fmt][int(rng.integers(len(seeds[fmt])))]
        applied = []
        for _ in range(int(rng.integers(1, 4))):
            name, data = _structural(fmt, data, rng, big_sizes) if rng.random() < 2 / 3 else mutate_bytes(data, rng)
            applied.append(name)
        yield FuzzCase(index, fmt, tuple(applied), data)


def load_case(case: FuzzCase, path: Path, *, limits: GenomeLimits | None = None, trace_memory: bool = True) -> Outcome:
    """Write ``case`` to ``path``, load it with the loader of its format and classify the outcome.

    A returned genome counts as ``"valid"`` only if it validates again and survives a save and load of its own
    format unchanged; otherwise the kind is ``"invalid genome"``.
    """
    path.write_bytes(case.data)
    loader = load_json if case.fmt == "json" else load_graphml
    if trace_memory:
        tracemalloc.start()
    start = time.perf_counter()
    try:
        genome = loader(path, limits=limits)
        kind, detail = "valid", repr(genome)
    except GenomeError as err:
        kind, detail = "GenomeError", str(err)[:200]
    except Exception as err:  # noqa: BLE001 - the point: any other exception type is a finding
        kind, detail = type(err).__name__, str(err)[:200]
    seconds = time.perf_counter() - start
    peak = 0
    if trace_memory:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    if kind == "valid":
        try:
            genome.validate()
            again = path.with_suffix(".again")
            (save_json if case.fmt == "json" else save_graphml)(genome, again)
            if loader(again, limits=limits) != genome:
                kind, detail = "invalid genome", "a save and load changed it"
        except Exception as err:  # noqa: BLE001
            kind, detail = "invalid genome", f"{type(err).__name__}: {err}"[:200]
    return Outcome(kind, detail, seconds, peak)
