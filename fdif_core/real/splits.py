"""Cross-validation splits as nnU-Net v2 makes them, or the dataset's own validation list.

``splits_final.json`` is a list of ``{"train": [ids], "val": [ids]}``, one per fold. It is
made once (a deterministic function of the sorted case ids, identical to nnU-Net's
``generate_crossval_split``: scikit-learn ``KFold(5, shuffle=True, random_state=12345)``)
and reused: a ``splits_final.json`` in the dataset folder (e.g. copied from
``nnUNet_preprocessed``) wins over a fresh one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import ArgumentError, UserError
from ..io.atomic import write_text
from .datalist import Dataset

SPLITS_FILE = "splits_final.json"
NNUNET_SEED = 12345


def kfold_splits(ids: list[str], n_splits: int = 5, seed: int = NNUNET_SEED) -> list[dict]:
    """nnU-Net's 5-fold split of case ids (same result as its scikit-learn ``KFold``).

    Args:
        ids: case identifiers (sorted here, as nnU-Net sorts them).
        n_splits: number of folds (at most the number of cases).
        seed: ``KFold`` random state; nnU-Net uses 12345.

    Returns:
        One ``{"train": [...], "val": [...]}`` per fold; every id is in one val list.
    """
    ids = sorted(ids)
    n = len(ids)
    if n < n_splits:
        raise UserError(f"{n} training case(s) cannot make {n_splits} folds; need {n_splits}")
    order = np.arange(n)
    np.random.RandomState(seed).shuffle(order)
    sizes = np.full(n_splits, n // n_splits, dtype=int)
    sizes[: n % n_splits] += 1
    splits, start = [], 0
    for size in sizes:
        val = np.zeros(n, dtype=bool)
        val[order[start : start + size]] = True
        start += size
        splits.append(
            {
                "train": [ids[i] for i in np.flatnonzero(~val)],
                "val": [ids[i] for i in np.flatnonzero(val)],
            }
        )
    return splits


def read_splits(path: Path) -> list[dict]:
    """Read and check a ``splits_final.json``."""
    from ..io.untrusted import read_json

    data = read_json(path, "splits file", list)
    ok = isinstance(data, list) and all(
        isinstance(s, dict)
        and isinstance(s.get("train"), list)
        and isinstance(s.get("val"), list)
        and all(isinstance(c, str) for c in s["train"] + s["val"])
        for s in data
    )
    if not ok or not data:
        raise UserError(
            f"{path}: expected a list of {{'train': [case ids], 'val': [case ids]}} folds"
        )
    return data


def fold_cases(
    ds: Dataset, fold: int | str, run_dir: Path | None = None, n_splits: int = 5
) -> tuple[list[str], list[str]]:
    """Training and validation case ids for a fold.

    Args:
        ds: the dataset.
        fold: ``0..n_splits-1`` (nnU-Net splits), ``"dataset"`` (the dataset's own
            validation list) or ``"all"`` (train on every case, validate on none).
        run_dir: where the splits used are recorded (``RUN/splits_final.json``).
        n_splits: number of folds when the splits are made here.

    Returns:
        (train ids, val ids).
    """
    if fold == "dataset":
        if ds.validation is None:
            raise ArgumentError(
                "fold", f"{ds.root} has no validation list; use a fold 0..{n_splits - 1}", fold
            )
        return [c.id for c in ds.training], [c.id for c in ds.validation]
    if fold == "all":
        return sorted(ds.cases), []
    try:
        k = int(fold)
    except ValueError:
        raise ArgumentError("fold", f"allowed: 0..{n_splits - 1}, dataset, all", fold) from None
    ids = sorted(ds.cases)
    own = ds.root / SPLITS_FILE
    recorded = run_dir / SPLITS_FILE if run_dir is not None else None
    if own.exists() or own.is_symlink():  # read (and checked) whatever it is
        splits = read_splits(own)
    elif recorded is not None and recorded.is_file():
        splits = read_splits(recorded)
    else:
        splits = kfold_splits(ids, n_splits)
    if not 0 <= k < len(splits):
        raise ArgumentError("fold", f"allowed: 0..{len(splits) - 1}, dataset, all", k)
    if recorded is not None and not recorded.is_file():
        write_text(recorded, json.dumps(splits, indent=2))
    train, val = splits[k]["train"], splits[k]["val"]
    unknown = sorted(set(train + val) - set(ids))
    if unknown:
        raise UserError(f"{SPLITS_FILE}: fold {k} names unknown case(s): {unknown[:5]}")
    return list(train), list(val)
