"""Real datasets: layouts, splits, preprocessing, cached patches (imports MONAI lazily)."""

from __future__ import annotations

from .datalist import Case, Dataset, load_dataset
from .splits import fold_cases, kfold_splits

__all__ = ["Case", "Dataset", "fold_cases", "kfold_splits", "load_dataset"]
