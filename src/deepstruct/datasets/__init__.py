"""Small tasks generated locally (no download), with explicit randomness."""

from deepstruct.datasets.reber import (
    SYMBOLS,
    ReberData,
    corrupt,
    embedded_reber_string,
    is_embedded_reber,
    is_reber,
    reber_dataset,
    reber_string,
)

__all__ = ["SYMBOLS", "ReberData", "reber_string", "embedded_reber_string", "is_reber", "is_embedded_reber",
           "corrupt", "reber_dataset"]
