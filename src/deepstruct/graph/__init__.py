"""Layered directed acyclic graphs: the structures that deepstruct turns into networks and back."""

from deepstruct.graph.graphml import read_structure, write_structure
from deepstruct.graph.labeled import LabeledDAG, LayerOrderError
from deepstruct.graph.layer_index import build_layer_index
from deepstruct.graph.layered import AcyclicLayeredGraph, CachedLayeredGraph, LayeredGraph
from deepstruct.graph.layering import adjacency_dicts, check_dag, compute_layers
from deepstruct.graph.orientation import ORIENTATIONS, orient
from deepstruct.graph.proportions import uniform_proportions

__all__ = [
    "LayeredGraph", "CachedLayeredGraph", "AcyclicLayeredGraph", "LabeledDAG", "LayerOrderError", "compute_layers",
    "adjacency_dicts", "check_dag", "orient", "ORIENTATIONS", "build_layer_index", "uniform_proportions",
    "read_structure", "write_structure",
]
