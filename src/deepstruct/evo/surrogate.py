"""A surrogate that screens children: fitness predicted from graph descriptors, fitted on the journal.

Stier & Granitzer (2019) predicted the accuracy of sparse networks from structural properties of their graphs.
Here every evaluated genome of a run is data (the journal holds each one with its fitness): :func:`descriptors`
turns a genome into a few structural numbers (sizes, depth, widths, how many inputs it reads and through how
wide windows), :class:`Surrogate` fits a small random forest (scikit-learn) to the first objective, and a strategy
that screens proposes ``algorithm.screen`` mutants per child and keeps the one ranked best
(:meth:`Surrogate.best`). The forest is seeded, and it is fitted on the results of completed generations only,
so a resumed run screens exactly as the uninterrupted one did.

Examples
--------
>>> import numpy as np
>>> from deepstruct.genomes import Genome
>>> genomes = [Genome(8, 2, vertices=range(k + 1)) for k in range(12)]
>>> model = Surrogate(seed=0).fit(genomes, [0.5 + 0.01 * g.num_vertices for g in genomes])
>>> model.best([Genome(8, 2, vertices=[0]), Genome(8, 2, vertices=range(11))])
1
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deepstruct.genomes import Genome
from deepstruct.graph.layering import compute_layers

__all__ = ["descriptors", "DESCRIPTORS", "Surrogate", "held_out_r2", "JournalSurrogate"]

DESCRIPTORS = ("vertices", "hidden_edges", "input_edges", "output_edges", "direct_edges", "depth", "max_width",
               "inputs_read", "mean_fan_in", "mean_input_span", "log_size")
"""The names of :func:`descriptors`, in order."""


def descriptors(genome: Genome) -> np.ndarray:
    """Structural numbers of a genome (see :data:`DESCRIPTORS`), as a float64 vector; O(V + E)."""
    vertices, hidden = genome.num_vertices, genome.num_edges
    inputs = genome.input_edges
    input_edges = sum(len(inner) for inner in inputs.values())
    output_edges = sum(len(inner) for inner in genome.output_edges.values())
    direct = sum(len(inner) for inner in genome.direct_edges.values())
    layer_of = compute_layers(genome.graph) if vertices else {}
    widths = np.bincount(np.fromiter(layer_of.values(), dtype=np.int64, count=len(layer_of))) if layer_of \
        else np.zeros(1, dtype=np.int64)
    read = {i for inner in inputs.values() for i in inner}
    spans = [max(inner) - min(inner) + 1 for inner in inputs.values() if inner]
    size = hidden + input_edges + output_edges + direct + vertices
    return np.array([vertices, hidden, input_edges, output_edges, direct, len(widths) if layer_of else 0,
                     int(widths.max()), len(read),
                     (hidden + input_edges) / max(vertices, 1), float(np.mean(spans)) if spans else 0.0,
                     np.log1p(size)], dtype=np.float64)


class Surrogate:
    """A random forest from :func:`descriptors` to a fitness value.

    Parameters
    ----------
    seed : int
        The forest's random state (fits are reproducible).
    trees : int
        Trees of the forest.
    """

    def __init__(self, seed: int = 0, trees: int = 64) -> None:
        self.seed, self.trees = int(seed), int(trees)
        self.model = None

    def forest(self) -> Any:
        """An unfitted forest with this surrogate's settings (scikit-learn's ``RandomForestRegressor``)."""
        from sklearn.ensemble import RandomForestRegressor

        return RandomForestRegressor(n_estimators=self.trees, min_samples_leaf=2, random_state=self.seed, n_jobs=1)

    def fit(self, genomes: Sequence[Genome], values: Sequence[float]) -> Surrogate:
        """Fit on evaluated genomes and their fitness (at least two); returns ``self``."""
        if len(genomes) != len(values) or len(genomes) < 2:
            raise ValueError(f"a surrogate needs two or more genomes with a value each, got {len(genomes)} genomes "
                             f"and {len(values)} values")
        return self.fit_features(np.stack([descriptors(g) for g in genomes]), values)

    def fit_features(self, x: np.ndarray, values: Sequence[float]) -> Surrogate:
        """Fit on :func:`descriptors` rows ``x`` already computed; returns ``self``."""
        self.model = self.forest().fit(x, np.asarray(values, dtype=np.float64))
        return self

    def predict(self, genomes: Sequence[Genome]) -> np.ndarray:
        """The predicted fitness of every genome."""
        if self.model is None:
            raise ValueError("the surrogate is not fitted yet")
        return self.model.predict(np.stack([descriptors(g) for g in genomes]))

    def best(self, candidates: Sequence[Genome]) -> int:
        """The index of the candidate with the highest prediction (the first of equals)."""
        return int(np.argmax(self.predict(candidates)))


def held_out_r2(genomes: Sequence[Genome], values: Sequence[float], *, seed: int = 0, folds: int = 5) -> float:
    """The coefficient of determination of :class:`Surrogate` on held-out genomes (``folds``-fold cross
    validation, shuffled with ``seed``): how much of the fitness variance the descriptors explain."""
    from sklearn.model_selection import KFold, cross_val_predict

    x = np.stack([descriptors(g) for g in genomes])
    y = np.asarray(values, dtype=np.float64)
    model = Surrogate(seed).forest()
    predicted = cross_val_predict(model, x, y, cv=KFold(folds, shuffle=True, random_state=seed))
    total = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float(((y - predicted) ** 2).sum()) / total if total > 0 else 0.0


class JournalSurrogate:
    """The run's surrogate: refitted on the journalled results of completed generations (penalties left out),
    in the order of their keys, so that the same journal gives the same forest; descriptors are cached by key.

    It is a listener of the loops (``surrogate(state, record)`` refits after every generation);
    ``screen(candidates)`` is the strategy's hook (the index of the best candidate; the first one until there
    are ``min_results`` results to learn from).

    Parameters
    ----------
    seed : int
        The forest's random state.
    store : RunStore
        The run's store (its cache: key -> :class:`~deepstruct.evo.store.CachedResult`).
    limits : GenomeLimits
        The limits the journalled genomes are loaded with.
    """

    def __init__(self, seed: int, store: Any, limits: Any, min_results: int = 16) -> None:
        self.seed, self.store, self.limits, self.min_results = int(seed), store, limits, int(min_results)
        self.surrogate: Surrogate | None = None
        self._features: dict[str, np.ndarray] = {}

    def __call__(self, state: Any, record: dict[str, Any]) -> None:
        self.refit(state.generation)

    def refit(self, generation: int) -> None:
        """Fit on the results of generations up to ``generation`` that have a fitness and their evaluated
        genome; a re-evaluated survivor's fitness is the mean over its repeats journalled up to then."""
        cache, limits, objectives = self.store.cache, self.limits, self.store.objectives()
        results = {k: hit.merged(objectives, generation) for k, hit in cache.items()
                   if hit.generation <= generation and hit.result.evaluated is not None}
        keys = sorted(k for k, result in results.items() if result.reason is None)
        if len(keys) < self.min_results:
            return
        for key in keys:
            if key not in self._features:
                self._features[key] = descriptors(Genome.from_dict(cache[key].result.evaluated, limits=limits))
        x = np.stack([self._features[k] for k in keys])
        self.surrogate = Surrogate(self.seed).fit_features(x, [results[k].values[0] for k in keys])

    def screen(self, candidates: Sequence[Genome]) -> int:
        """The index of the candidate predicted best (the first one while there is no fit)."""
        return 0 if self.surrogate is None else self.surrogate.best(candidates)
