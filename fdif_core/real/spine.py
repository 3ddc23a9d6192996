"""Real multi-structure scans: the two labelled spine scans in TPTBox's wheel on PyPI.

TPTBox (the "Torso Processing ToolBox", ``tptbox`` on PyPI, Apache-2.0) ships two small
test scans inside its wheel, under ``TPTBox/tests/``: a lumbar CT (``sample_ct``, 73 x 47 x
73 voxels of 1.5 mm, vertebrae L2-L4) and a cervical T2-weighted MR (``sample_mri``, 68 x
52 x 67 voxels of 1.5 mm, C5-C7), each with a vertebra mask and a vertebra *subregion* mask
(arcus, spinous process, costal and articular processes, vertebral body, endplates, discs).

:func:`spine_dataset` fetches the wheel once with ``pip download`` (nothing is installed or
committed) and writes an nnU-Net v2 raw dataset with two classes that both scans label:

- ``vertebral_body``: subregions 49 (body border), 50 (body) and 62 (endplate);
- ``posterior_elements``: subregions 41-48 (arcus, spinous, costal, articular processes).

Two scans make no folds of patients, so each scan is cut, in RAS orientation along the
superior axis, into :data:`SLABS` disjoint slabs; each slab is one case (``ct_0`` is the
most inferior CT slab). Folds built from them hold out slabs, not patients: they measure
generalisation within two scans (see docs/transfer.md).
"""

from __future__ import annotations

import itertools
import json
import zipfile
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..io.atomic import atomic_path, write_text
from ..io.untrusted import read_json
from .samples import cache_root, pip_fetch

PACKAGE, VERSION = "tptbox", "1.1.0"
WHEEL = f"{PACKAGE}-{VERSION}-py3-none-any.whl"
SCANS = {  # case prefix -> (image, subregion mask) inside the wheel
    "ct": (
        "TPTBox/tests/sample_ct/sub-ct_label-22_ct.nii.gz",
        "TPTBox/tests/sample_ct/sub-ct_seg-subreg_label-22_msk.nii.gz",
    ),
    "mr": (
        "TPTBox/tests/sample_mri/sub-mri_label-6_T2w.nii.gz",
        "TPTBox/tests/sample_mri/sub-mri_seg-subreg_label-6_msk.nii.gz",
    ),
}
CLASSES = {  # class name -> TPTBox subregion labels
    "vertebral_body": (49, 50, 62),
    "posterior_elements": (41, 42, 43, 44, 45, 46, 47, 48),
}
SLABS = 3


def case_ids(slabs: int = SLABS) -> list[str]:
    """``["ct_0", ..., "mr_<slabs-1>"]``."""
    return [f"{scan}_{k}" for scan in SCANS for k in range(slabs)]


def _extract(wheel: Path, dest: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    with zipfile.ZipFile(wheel) as zf:
        for member in (m for pair in SCANS.values() for m in pair):
            target = dest / Path(member).name
            if not target.is_file():
                try:
                    data = zf.read(member)
                except KeyError:
                    raise UserError(f"{wheel.name}: no {member} in the wheel") from None
                with atomic_path(target) as tmp:
                    tmp.write_bytes(data)
            out[member] = target
    return out


def merge_labels(subregions: np.ndarray) -> np.ndarray:
    """TPTBox subregion labels -> 0 background, 1.. the :data:`CLASSES` in order."""
    out = np.zeros(subregions.shape, np.uint8)
    for value, codes in enumerate(CLASSES.values(), start=1):
        out[np.isin(subregions, codes)] = value
    return out


def slab_bounds(length: int, slabs: int) -> list[tuple[int, int]]:
    """``slabs`` disjoint, contiguous, nearly equal ranges covering ``range(length)``."""
    edges = np.linspace(0, length, slabs + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]


def spine_dataset(out: str | Path, *, slabs: int = SLABS, cache: Path | None = None) -> Path:
    """Write TPTBox's two labelled spine scans as an nnU-Net v2 raw dataset of slab cases.

    Args:
        out: dataset folder (``dataset.json``, ``imagesTr/``, ``labelsTr/``).
        slabs: slabs per scan along the superior axis (each one case).
        cache: download cache (default ``$FDIF_CACHE`` or ``~/.cache/fdif``).

    Returns:
        The dataset folder (reused when it was written with the same settings).
    """
    import nibabel as nib

    if not 1 <= slabs <= 8:
        raise UserError(f"spine dataset: slabs {slabs}; allowed: 1..8")
    root = Path(out)
    meta = {
        "name": "tptbox-spine",
        "description": f"{PACKAGE} {VERSION} test scans (lumbar CT, cervical T2 MR), "
        f"{slabs} slabs each",
        "channel_names": {"0": "mixed"},
        "labels": {"background": 0, **{n: i for i, n in enumerate(CLASSES, start=1)}},
        "numTraining": len(SCANS) * slabs,
        "file_ending": ".nii.gz",
        "source": {
            "package": f"{PACKAGE}=={VERSION}",
            "files": {k: list(v) for k, v in SCANS.items()},
            "classes": {k: list(v) for k, v in CLASSES.items()},
            "slabs": slabs,
        },
    }
    done = root / "dataset.json"
    if done.is_file() and read_json(done, "conversion marker", None) == meta:
        return root
    cache = cache or cache_root()
    files = _extract(
        pip_fetch(f"{PACKAGE}=={VERSION}", WHEEL, cache, sdist=False), cache / "tptbox"
    )
    for scan, (image_member, mask_member) in SCANS.items():
        img = nib.as_closest_canonical(nib.load(str(files[image_member])))
        msk = nib.as_closest_canonical(nib.load(str(files[mask_member])))
        if img.shape != msk.shape or not np.allclose(img.affine, msk.affine, atol=1e-3):
            raise UserError(f"{PACKAGE} {scan}: image and mask geometries differ")
        image = np.asarray(img.dataobj, dtype=np.float32)
        label = merge_labels(np.asarray(msk.dataobj))
        for k, (a, b) in enumerate(slab_bounds(image.shape[2], slabs)):
            for arr, path, dtype in (
                (image, root / "imagesTr" / f"{scan}_{k}_0000.nii.gz", np.float32),
                (label, root / "labelsTr" / f"{scan}_{k}.nii.gz", np.uint8),
            ):
                nii = nib.Nifti1Image(arr.astype(dtype), img.affine).slicer[:, :, a:b]
                nii.header.set_data_dtype(dtype)
                with atomic_path(path) as tmp:
                    nib.save(nii, str(tmp))
    write_text(root / "dataset.json", json.dumps(meta, indent=2))
    return root
