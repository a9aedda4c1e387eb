"""The batch plan of masked DANs, re-exported from the torch-free :mod:`deepstruct.batch_plan` (plain data, so
that planners such as :func:`deepstruct.genomes.shape.member_shape` and the evolution engine's batching never
import torch)."""

from deepstruct.batch_plan import Layout, MemberShape, padded_weights, plan_batches

__all__ = ["MemberShape", "Layout", "padded_weights", "plan_batches"]
