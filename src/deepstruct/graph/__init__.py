"""Layered directed acyclic graphs: the structures that deepstruct turns into networks and back."""

from deepstruct.graph.layered import CachedLayeredGraph, LabeledDAG, LayeredGraph
from deepstruct.graph.layering import adjacency_dicts, check_dag, compute_layers
from deepstruct.graph.orientation import ORIENTATIONS, orient

__all__ = [
    "LayeredGraph", "CachedLayeredGraph", "LabeledDAG", "compute_layers", "adjacency_dicts", "check_dag", "orient",
    "ORIENTATIONS",
]
