"""From models back to graphs: ``GraphTransform`` (neuron or module granularity) and the compact form.

Vertex ids: the model input is ``("input", i)`` and the model output ``("output", j)`` (flat indices of one
sample); a ``MaskedDeepDAN``'s neurons keep its structure's vertex ids; other neurons are
``(module or operation name, flat neuron index)``; at module granularity vertices are names.

Large graphs: edges are numpy chunks (int32 vertex indices below 2**31 vertices) kept in memory up to a budget
and streamed to a graph directory past it (:mod:`deepstruct.transform.storage` documents the format);
:func:`load_graph` opens one again, :func:`summarize` and :func:`collapse` work on it chunk by chunk.
"""

from deepstruct.transform.compact import CompactGraph, VertexBlock, load_graph, save_graphml, save_json, to_json
from deepstruct.transform.functors import Conv2dLayerFunctor, ForgetfulFunctor, LinearLayerFunctor
from deepstruct.transform.graph_transform import GraphTransform, UnsupportedOperationWarning, strip_io
from deepstruct.transform.masked import extract_masked_dan, extract_masked_ffn
from deepstruct.transform.summary import GraphSummary, LayerSummary, collapse, group_by_channel, summarize
from deepstruct.transform.trace import TraceFailure

__all__ = [
    "GraphTransform", "CompactGraph", "VertexBlock", "UnsupportedOperationWarning", "TraceFailure",
    "extract_masked_dan", "extract_masked_ffn", "to_json", "save_json", "save_graphml", "strip_io",
    "load_graph", "summarize", "collapse", "group_by_channel", "GraphSummary", "LayerSummary",
    "ForgetfulFunctor", "LinearLayerFunctor", "Conv2dLayerFunctor",
]
