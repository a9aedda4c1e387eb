"""``GraphTransform``: from a torch model to its graph (networkx, or compact numpy edge arrays)."""

from __future__ import annotations

import os
import warnings

import networkx as nx
import torch
from torch import nn

from deepstruct._validation import is_int
from deepstruct.sparse import MaskedDeepDAN, MaskedDeepFFN, magnitude_threshold
from deepstruct.transform.compact import CompactGraph
from deepstruct.transform.masked import extract_masked_dan, extract_masked_ffn
from deepstruct.transform.modules import module_graph
from deepstruct.transform.neurons import neuron_graph
from deepstruct.transform.trace import record

__all__ = ["GraphTransform", "UnsupportedOperationWarning", "strip_io"]


class UnsupportedOperationWarning(UserWarning):
    """Some operations of a model were not understood; they are connected conservatively and listed."""


class GraphTransform:
    """Extract the graph of a model, as in the paper: ``GraphTransform(torch.randn(1, 784)).transform(model)``.

    ``MaskedDeepDAN`` and ``MaskedDeepFFN`` are read straight from their masks (exact, vectorised, no forward
    pass). Any other model runs once on the first sample of ``random_input`` (its batch dimension is not part
    of the graph), traced with ``torch.fx`` or, where that fails, with forward hooks, so the graph follows the
    real data flow (residual connections, concatenations, reused modules). Extraction never changes the model:
    no mask is recomputed, no ``forward`` patched, no running statistic updated (the pass runs in eval mode
    under ``no_grad`` with the RNG forked, and the training flags are restored).

    Parameters
    ----------
    random_input : torch.Tensor, optional
        An input with a leading batch dimension; needed for models other than ``MaskedDeepDAN``/``MaskedDeepFFN``.
    granularity : {"neuron", "module"}
        ``"neuron"``: a vertex per neuron (``Linear``/masked layers: per output feature; ``Conv1d``/``Conv2d``:
        per output channel and position), an edge per connection whose weight is non-zero (masked layers: whose
        mask is set). ``"module"``: a vertex per module call or tensor operation.
    include_weights : bool
        Put each connection's weight on its edge (``weight``); edges of unweighted operations carry 1.0.
    threshold : float, optional
        Keep only connections with ``|w| > threshold`` (on top of the masks).
    leaf_modules : tuple of types
        Further module types to treat as single calls (reported as unsupported unless known).
    memory_budget : int, optional
        Bytes of edge arrays to hold in memory (default: a quarter of the machine's memory); past it, edge
        chunks are streamed to a new temporary directory as they are produced (named in a warning and in the
        result's ``directory``; the caller removes it).
    directory : path, optional
        Stream the edges of :meth:`extract` to this new (or empty) directory from the start; the result is
        backed by it and can be opened again with :meth:`CompactGraph.load` (format:
        :mod:`deepstruct.transform.storage`).

    Examples
    --------
    >>> from deepstruct.sparse import MaskedDeepFFN
    >>> graph = GraphTransform(torch.randn(1, 4)).transform(MaskedDeepFFN(4, 2, [3]))
    >>> graph.number_of_nodes(), graph.number_of_edges()
    (9, 18)
    >>> sorted(graph.nodes)[:2]
    [('input', 0), ('input', 1)]
    """

    def __init__(
        self,
        random_input: torch.Tensor | None = None,
        *,
        granularity: str = "neuron",
        include_weights: bool = False,
        threshold: float | None = None,
        leaf_modules: tuple[type, ...] = (),
        memory_budget: int | None = None,
        directory: str | os.PathLike[str] | None = None,
    ) -> None:
        if granularity not in ("neuron", "module"):
            raise ValueError(f"granularity must be 'neuron' or 'module', got {granularity!r}")
        if threshold is not None:
            threshold = magnitude_threshold("threshold", threshold)
        if random_input is not None and (not isinstance(random_input, torch.Tensor) or random_input.dim() < 1):
            raise ValueError("random_input must be a tensor with a leading batch dimension, e.g. torch.randn(1, 784)")
        self.random_input = random_input
        self.granularity = granularity
        self.include_weights = include_weights
        self.threshold = threshold
        self.leaf_modules = tuple(leaf_modules)
        if memory_budget is not None and (not is_int(memory_budget) or memory_budget < 0):
            raise ValueError(f"memory_budget must be a number of bytes >= 0, got {memory_budget!r}")
        self.memory_budget = memory_budget
        self.directory = directory

    def _check_masked_input(self, size_input: int) -> None:
        if self.random_input is not None and self.random_input[:1].numel() != size_input:
            raise ValueError(f"random_input has {self.random_input[:1].numel()} features per sample but the model "
                             f"reads {size_input}")

    def extract(self, model: nn.Module) -> CompactGraph:
        """The graph as a :class:`~deepstruct.transform.CompactGraph` (numpy edge arrays; for large models)."""
        if not isinstance(model, nn.Module):
            raise ValueError(f"expected a torch.nn.Module, got {type(model).__name__}")
        if self.granularity == "neuron" and isinstance(model, (MaskedDeepDAN, MaskedDeepFFN)):
            self._check_masked_input(model.size_input)
            extract = extract_masked_dan if isinstance(model, MaskedDeepDAN) else extract_masked_ffn
            graph = extract(model, include_weights=self.include_weights, threshold=self.threshold)  # type: ignore[arg-type]
            return graph.save(self.directory) if self.directory is not None else graph
        if self.random_input is None:
            raise ValueError(f"{type(model).__name__} needs a random_input to trace: "
                             "GraphTransform(torch.randn(1, ...))")
        rec = record(model, self.random_input, leaf_types=self.leaf_modules)
        if self.granularity == "module":
            graph = module_graph(rec)
            return graph.save(self.directory) if self.directory is not None else graph
        graph = neuron_graph(rec, include_weights=self.include_weights, threshold=self.threshold,
                             memory_budget=self.memory_budget, directory=self.directory)
        if self.directory is None and graph.directory is not None:
            warnings.warn(f"{type(model).__name__}: {graph.num_edges:,} edges exceed the memory budget; they were "
                          f"written to {graph.directory} (remove it when done, or pass directory=)", stacklevel=2)
        if graph.unsupported:
            warnings.warn(
                f"{type(model).__name__}: unsupported operations connected conservatively (every input to every "
                f"output): {', '.join(graph.unsupported)}", UnsupportedOperationWarning, stacklevel=2)
        return graph

    def transform(self, model: nn.Module) -> nx.DiGraph:
        """The graph as a networkx DAG (vertex attributes ``layer``, ``module``, ``neuron``, ``kind``)."""
        return self.extract(model).to_networkx(include_weights=self.include_weights)


def strip_io(graph: nx.DiGraph) -> nx.DiGraph:
    """A copy of an extracted graph without its input and output vertices (``module`` ``"input"``/``"output"``),
    e.g. to build a new ``MaskedDeepDAN`` from a pruned model's structure.

    Examples
    --------
    >>> from deepstruct.sparse import MaskedDeepDAN
    >>> graph = GraphTransform().transform(MaskedDeepDAN(3, 2, nx.DiGraph([(0, 1), (0, 2)])))
    >>> sorted(strip_io(graph).edges)
    [(0, 1), (0, 2)]
    """
    keep = [v for v, m in graph.nodes(data="module") if m not in ("input", "output")]
    return graph.subgraph(keep).copy()
