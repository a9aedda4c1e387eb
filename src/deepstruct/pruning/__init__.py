"""Pruning: magnitude and random mask computation (per layer or global), density reports, lottery tickets.

In the spirit of ``torch.nn.utils.prune``: pruning clears mask entries of
:class:`~deepstruct.sparse.MaskedLinearLayer` s and never revives them, so pruned weights stay pruned.
"""

from deepstruct.pruning.lottery import (
    PruningRound,
    iterative_magnitude_pruning,
    masks_of,
    reinitialize,
    rewind_weights,
    set_masks,
    snapshot_weights,
)
from deepstruct.pruning.masks import (
    SCOPES,
    density_report,
    format_density_report,
    output_layer,
    prune_by_magnitude,
    prune_random,
)
from deepstruct.pruning.saliency import (
    PruningStrategy,
    find_network_threshold,
    get_network_weight_count,
    magnitude_class_blinded,
    magnitude_class_blinded_absolute,
    magnitude_class_distributed,
    magnitude_class_distributed_absolute,
    magnitude_class_uniform,
    magnitude_class_uniform_absolute,
    prune_layer_by_saliency,
    prune_network_by_saliency,
    random_pruning,
    random_pruning_absolute,
    reset_pruned_network,
    set_distributed_saliency,
    set_random_masks,
    set_random_saliency,
)

__all__ = [
    "prune_by_magnitude", "prune_random", "density_report", "format_density_report", "output_layer",
    "iterative_magnitude_pruning", "PruningRound", "snapshot_weights", "rewind_weights", "reinitialize",
    "masks_of", "set_masks", "SCOPES", "PruningStrategy", "prune_network_by_saliency", "prune_layer_by_saliency",
    "set_random_saliency", "set_random_masks", "set_distributed_saliency", "get_network_weight_count",
    "find_network_threshold", "reset_pruned_network", "magnitude_class_blinded", "magnitude_class_blinded_absolute",
    "magnitude_class_uniform", "magnitude_class_uniform_absolute", "magnitude_class_distributed",
    "magnitude_class_distributed_absolute", "random_pruning", "random_pruning_absolute",
]
