"""Cached preprocessed cases and a deterministic stream of augmented training patches.

The deterministic preprocessing runs once per case and is cached (``PersistentDataset`` on
disk, or ``CacheDataset`` in memory), so epochs after the first never re-read NIfTI. The
stream's item ``i`` (step x batch + b) depends only on (seed, i): the case order of each
epoch is a seeded permutation and the random transforms are re-seeded per item, so a
resumed run sees exactly the patches an uninterrupted one would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from monai.transforms import Transform

from ..errors import UserError
from ..io.atomic import write_error
from . import checks
from .preprocess import case_geometry, preprocess_case

CacheMode = Literal["disk", "memory", "none"]


class Guard(Transform):
    """Deterministic wrapper: failures of ``transform`` become ``UserError`` naming the case.

    A ``monai.transforms.Transform`` (not randomizable), so the caching datasets store its
    output.
    """

    def __init__(self, transform: Any) -> None:
        self.transform = transform

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        out = preprocess_case(self.transform, item)
        geometry = case_geometry(out["image"])
        if geometry is not None:  # plain tensors: the disk cache keeps no meta-data
            out["geometry"] = geometry
        return out


def unwrap_user_error(err: BaseException) -> UserError | None:
    """The ``UserError`` that MONAI wrapped in ``RuntimeError("applying transform ...")``."""
    e: BaseException | None = err
    while e is not None:
        if isinstance(e, UserError):
            return e
        e = e.__cause__ or e.__context__
    return None


def cached_cases(
    items: list[dict[str, Any]],
    transform: Any,
    *,
    mode: CacheMode = "disk",
    cache_dir: Path | None = None,
) -> torch.utils.data.Dataset:
    """Preprocessed cases, computed once and cached.

    Args:
        items: datalist items (``{"case", "image", "label"}``).
        transform: the deterministic preprocessing (``preprocess_transforms``).
        mode: ``disk`` (``PersistentDataset`` under ``cache_dir``), ``memory``
            (``CacheDataset``) or ``none`` (preprocess on every access).
        cache_dir: folder of the disk cache; name it after the plan's digest.

    Raises:
        UserError: a case cannot be loaded or preprocessed (the message names it).
    """
    from monai.data import CacheDataset, Dataset, PersistentDataset

    guarded = Guard(transform)
    # the key is the case's files (real paths: a study's regime views of one dataset share
    # it) and their size and time (a changed file misses the cache), not the run
    items = [{**_real_paths(it), "stamp": _stamp(it)} for it in items]
    try:
        if mode == "memory":
            ds = CacheDataset(items, guarded, num_workers=0, progress=False)
            ds.spatial_shapes = [tuple(ds[i]["image"].shape[1:]) for i in range(len(ds))]
            return ds
        if mode == "disk":
            if cache_dir is None:
                raise ValueError("cache_dir is needed for the disk cache")
            cache_dir.mkdir(parents=True, exist_ok=True)
            ds = PersistentDataset(items, guarded, cache_dir=cache_dir)
            # fill now, in this process, so errors name the case
            ds.spatial_shapes = [tuple(ds[i]["image"].shape[1:]) for i in range(len(ds))]
            return ds
        ds = Dataset(items, guarded)
        return ds
    except Exception as err:
        user = unwrap_user_error(err)
        if user is not None:
            raise UserError(str(user)) from None
        if isinstance(err, OSError) and cache_dir is not None:  # the cache disk is full...
            raise write_error(cache_dir, err) from None
        raise


def padding_note(cases: Any, patch_size: tuple[int, int, int]) -> str | None:
    """One line when preprocessed cases are smaller than the patch (they are zero-padded).

    Uses the shapes :func:`cached_cases` recorded (none for ``cache: none``).
    """
    shapes = getattr(cases, "spatial_shapes", None) or []
    return checks.padding_note(shapes, patch_size, len(shapes), "preprocessed case(s)")


def _real_paths(item: dict[str, Any]) -> dict[str, Any]:
    """``item`` with its image and label paths resolved (symlinks followed)."""
    out = dict(item)
    for key in ("image", "label"):
        if key in out:
            v = out[key]
            out[key] = (
                [str(Path(f).resolve()) for f in v]
                if isinstance(v, list)
                else str(Path(v).resolve())
            )
    return out


def _stamp(item: dict[str, Any]) -> str:
    """Size and modification time of an item's files (part of its disk-cache key)."""
    files = item["image"] if isinstance(item["image"], list) else [item["image"]]
    files = [*files, *([item["label"]] if "label" in item else [])]
    out = []
    for f in files:
        try:
            st = Path(f).stat()
            out.append(f"{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            out.append("missing")
    return ";".join(out)


def item_seed(seed: int, index: int) -> int:
    """Seed of stream item ``index`` (a 32-bit value for MONAI's ``RandomState``)."""
    return int(np.random.SeedSequence([seed & 0xFFFFFFFF, index]).generate_state(1)[0])


class PatchStream(torch.utils.data.Dataset):
    """Item ``i``: the augmented crops of one case, a pure function of (seed, i).

    Args:
        cases: preprocessed cases (``cached_cases``).
        augment: random MONAI transforms returning a list of crops (``augment_transforms``).
        length: number of items (steps x batch size).
        seed: run seed.
    """

    def __init__(self, cases: Any, augment: Any, length: int, seed: int) -> None:
        self.cases = cases
        self.augment = augment
        self.length = length
        self.seed = seed
        self.n = len(cases)
        if self.n == 0:
            raise UserError("fine-tuning: no training case in this fold")

    def __len__(self) -> int:
        return self.length

    def case_index(self, i: int) -> int:
        epoch, k = divmod(i, self.n)
        order = np.random.default_rng([self.seed & 0xFFFFFFFF, epoch]).permutation(self.n)
        return int(order[k])

    def __getitem__(self, i: int) -> dict[str, Any]:
        data = dict(self.cases[self.case_index(i)])
        self.augment.set_random_state(seed=item_seed(self.seed, i))
        crops = self.augment(data)
        if isinstance(crops, dict):
            crops = [crops]
        image = torch.stack([torch.as_tensor(c["image"], dtype=torch.float32) for c in crops])
        label = torch.stack([torch.as_tensor(c["label"]).to(torch.int64) for c in crops])
        return {"image": image, "label": label, "case": str(data.get("case", i))}
