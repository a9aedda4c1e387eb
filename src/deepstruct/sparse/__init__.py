"""Sparse neural networks whose connectivity is a graph: masked layers and the models built from them."""

from deepstruct.sparse._sizes import magnitude_threshold
from deepstruct.sparse.cells import CellConstructor, ConvCell, DeepCellDAN, ReductionCell
from deepstruct.sparse.dan import MaskedDeepDAN
from deepstruct.sparse.ffn import MaskedDeepFFN
from deepstruct.sparse.learnable_mask import LearnableMaskLinearLayer  # registers mask_as_params=True
from deepstruct.sparse.masked_linear import (
    MaskableModule,
    MaskedLinearLayer,
    init_by_fan_in_,
    maskable_layers,
    maskable_layers_with_name,
)
from deepstruct.sparse.population import PopulationDAN, plan_batches
from deepstruct.sparse.recurrent import MaskedGRU, MaskedLSTM, MaskedRNN, hidden_mask

__all__ = [
    "MaskedLinearLayer", "MaskableModule", "maskable_layers", "init_by_fan_in_",
    "MaskedDeepFFN", "MaskedDeepDAN", "DeepCellDAN", "ConvCell", "ReductionCell", "CellConstructor",
    "magnitude_threshold", "MaskedRNN", "MaskedLSTM", "MaskedGRU", "hidden_mask", "PopulationDAN", "plan_batches",
    "maskable_layers_with_name", "LearnableMaskLinearLayer",
]
