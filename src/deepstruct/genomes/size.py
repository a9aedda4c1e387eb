"""The size of a network: one definition for the run summary, the logbook, the plots, ``extract`` and objectives.

A network (a genome, or a model decoded from one) has

- ``vertices``: its hidden vertices (neurons); interface units (inputs, outputs) are not counted;
- ``hidden_edges``: connections between two hidden vertices (a genome's ``num_edges``; the ``edges`` objective);
- ``interface_edges``: connections from an input to a hidden vertex, from a hidden vertex to an output, and from
  an input straight to an output;
- ``connections``: every connection, ``hidden_edges + interface_edges`` (the ``connections`` objective);
- ``params``: every trainable number of the network: its connections plus one bias per hidden vertex and per
  output (the ``params`` objective);
- ``depth``: its hidden layers (longest path, in vertices).

A model is measured from its masks (a pruned connection is not counted), so a genome and the model decoded from it
have the same size. Pruning may leave a hidden vertex with no connection on a path from an input to an output:
the model still holds (and counts) it; its re-encoded genome drops it.

Examples
--------
>>> from deepstruct.genomes import Genome
>>> g = Genome(4, 2, edges=[(0, 1)], input_edges=[(2, 0)], output_edges=[(1, 0), (0, 1)])
>>> size = genome_size(g)
>>> size.vertices, size.hidden_edges, size.interface_edges, size.connections, size.params
(2, 1, 3, 4, 8)
>>> size.describe()
'2 vertices, 1 hidden edge, 3 interface edges, 8 parameters'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from deepstruct.graph.layering import compute_layers

__all__ = ["NetworkSize", "genome_size", "model_size", "SIZE_FIELDS"]

#: The counts of :class:`NetworkSize`, in order (also the size statistics of a run's logbook).
SIZE_FIELDS = ("vertices", "hidden_edges", "interface_edges", "connections", "params", "depth")


@dataclass(frozen=True)
class NetworkSize:
    """The size of one network (see the module docstring for what each count holds)."""

    vertices: int
    hidden_edges: int
    interface_edges: int
    params: int
    depth: int

    @property
    def connections(self) -> int:
        """Every connection: hidden edges plus interface edges."""
        return self.hidden_edges + self.interface_edges

    def as_stats(self) -> dict[str, float]:
        """The counts as a run's evaluation statistics (floats; ``edges`` is ``hidden_edges``)."""
        counts = {**asdict(self), "connections": self.connections, "edges": self.hidden_edges}
        return {name: float(value) for name, value in counts.items()}

    def describe(self) -> str:
        """The counts in words: ``24 vertices, 17 hidden edges, 1,170 interface edges, 1,221 parameters``."""
        def n(count: int, word: str) -> str:
            return f"{count:,} {word}{'' if count == 1 else 's'}"

        return (f"{n(self.vertices, 'vertex').replace('vertexs', 'vertices')}, {n(self.hidden_edges, 'hidden edge')}, "
                f"{n(self.interface_edges, 'interface edge')}, {n(self.params, 'parameter')}")


def genome_size(genome: Any) -> NetworkSize:
    """The size of a :class:`~deepstruct.genomes.Genome` (its hidden graph and its explicit interface)."""

    vertices, hidden = genome.num_vertices, genome.num_edges
    interface = genome.num_interface_edges
    depth = len(set(compute_layers(genome.graph).values())) if vertices else 0
    return NetworkSize(vertices, hidden, interface, hidden + interface + vertices + genome.num_outputs, depth)


def model_size(model: Any) -> NetworkSize:
    """The size of a decoded model (``MaskedDeepDAN`` or ``MaskedDeepFFN``), read from its masks through the
    phenotype's one mask reader (``model.connections()``, :mod:`deepstruct.sparse.connections`).

    A connection from a model input (units ``0 .. inputs - 1``) or into the output matrix (the last) is an
    interface edge, every other one a hidden edge.
    """
    matrices = model.connections()
    inputs = int(matrices[0].layer.weight.shape[1])  # the first matrix reads the model inputs only
    hidden = interface = 0
    for matrix in matrices[:-1]:
        _, cols = matrix.entries()
        from_inputs = int(np.count_nonzero(matrix.sources(cols) < inputs))
        interface += from_inputs
        hidden += len(cols) - from_inputs
    interface += matrices[-1].count
    layers = [m.layer for m in matrices]
    biases = sum(layer.bias.numel() for layer in layers if layer.bias is not None)
    vertices = sum(int(layer.out_features) for layer in layers[:-1])
    return NetworkSize(vertices, hidden, interface, hidden + interface + biases, len(layers) - 1)
