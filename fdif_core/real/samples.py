"""Real labelled scans for tests and the scaled-down comparison: pyradiomics' test cases.

The pyradiomics 3.0.1 source archive on PyPI ships five patients with lesion masks under
``data/`` (NRRD): two brain MR (``brain1``, ``brain2``), one breast MR (``breast1``) and two
lung CT (``lung1``, ``lung2``). :func:`pyradiomics_dataset` fetches the archive once with
``pip download`` into a cache folder and converts the cases to a tiny nnU-Net v2 raw dataset:
each scan cropped to a box of fixed physical size around its lesion (so that CPU runs stay
small), written as NIfTI in RAS world coordinates. Nothing is committed to the repository.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..io.atomic import atomic_path, write_text
from ..io.untrusted import read_json
from .preprocess import tracking_meta

PACKAGE, VERSION = "pyradiomics", "3.0.1"
CASES = {"brain1": "MR", "brain2": "MR", "breast1": "MR", "lung1": "CT", "lung2": "CT"}
ROI_MM = (72.0, 72.0, 60.0)  # physical size of the box kept around each lesion


def cache_root() -> Path:
    """``$FDIF_CACHE`` or the user's cache folder (``~/.cache/fdif`` on Linux; never the
    installed package)."""
    from platformdirs import user_cache_dir

    return Path(os.environ.get("FDIF_CACHE") or user_cache_dir("fdif"))


def pip_fetch(
    requirement: str, filename: str, cache: Path | None = None, *, sdist: bool,
    timeout: float = 300.0,
) -> Path:
    """A package archive (``filename``) downloaded once with ``pip download`` into ``cache``.

    Nothing is built or installed: ``--no-deps``, and for an sdist ``--no-binary :all:``.

    Raises:
        UserError: pip could not fetch it (offline, no index).
    """
    cache = cache or cache_root()
    target = cache / filename
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    kind = ["--no-binary", ":all:", "--no-build-isolation"] if sdist else ["--only-binary", ":all:"]
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", *kind,
        "--disable-pip-version-check", "-q", "-d", str(cache), requirement,
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise UserError(f"pip download {requirement} failed ({err})") from None
    if not target.is_file():  # pip may fail after downloading (metadata); the file counts
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"pip download {requirement} failed ({last[:160]})")
    return target


def fetch_sdist(cache: Path | None = None, timeout: float = 120.0) -> Path:
    """The pyradiomics sdist, downloaded once with pip (no build, no dependencies)."""
    return pip_fetch(
        f"{PACKAGE}=={VERSION}", f"{PACKAGE}-{VERSION}.tar.gz", cache, sdist=True, timeout=timeout
    )


def _extract(sdist: Path, dest: Path) -> Path:
    data = dest / "nrrd"
    if all((data / f"{c}_{k}.nrrd").is_file() for c in CASES for k in ("image", "label")):
        return data
    data.mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdist) as tar:
        for m in tar.getmembers():
            name = Path(m.name).name
            if m.isfile() and m.name.split("/")[-2:-1] == ["data"] and name.endswith(".nrrd"):
                src = tar.extractfile(m)
                assert src is not None
                with atomic_path(data / name) as tmp:
                    tmp.write_bytes(src.read())
    return data


def _crop_box(label: np.ndarray, affine: np.ndarray, roi_mm: tuple[float, float, float]):
    spacing = np.sqrt((affine[:3, :3] ** 2).sum(0))
    centre = np.argwhere(label > 0).mean(0)
    half = np.asarray(roi_mm) / spacing / 2
    lo = np.maximum(np.floor(centre - half), 0).astype(int)
    hi = np.minimum(np.ceil(centre + half), label.shape).astype(int)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))


def pyradiomics_dataset(
    out: str | Path,
    cases: list[str] | None = None,
    *,
    modality: str | None = None,
    roi_mm: tuple[float, float, float] = ROI_MM,
    cache: Path | None = None,
) -> Path:
    """Write pyradiomics' labelled scans as an nnU-Net v2 raw dataset (``imagesTr``...).

    Args:
        out: dataset folder (``dataset.json``, ``imagesTr/``, ``labelsTr/``).
        cases: which of :data:`CASES` (default all five).
        modality: the channel name in ``dataset.json``; default ``CT`` when all cases are CT,
            else ``MR`` (z-score normalisation; the CT cases are then z-scored too).
        roi_mm: physical size of the box kept around each lesion.
        cache: download cache (default :func:`cache_root`).

    Returns:
        The dataset folder.
    """
    import nibabel as nib
    from monai.transforms import LoadImage

    cases = list(cases or CASES)
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        raise UserError(f"pyradiomics case {unknown[0]!r}: allowed: {', '.join(CASES)}")
    modality = modality or ("CT" if all(CASES[c] == "CT" for c in cases) else "MR")
    root = Path(out)
    done = root / "dataset.json"
    meta = {
        "name": "pyradiomics",
        "description": f"{PACKAGE} {VERSION} test cases (lesion masks), cropped {roi_mm} mm",
        "channel_names": {"0": modality},
        "labels": {"background": 0, "lesion": 1},
        "numTraining": len(cases),
        "file_ending": ".nii.gz",
        "source": {"package": f"{PACKAGE}=={VERSION}", "cases": cases, "roi_mm": list(roi_mm)},
    }
    if done.is_file() and read_json(done, "conversion marker", None) == meta:
        return root
    src = _extract(fetch_sdist(cache), cache or cache_root())
    load = LoadImage(image_only=True)  # NRRD via pynrrd; affine converted to RAS
    for case in cases:
        try:
            with tracking_meta():
                img = load(str(src / f"{case}_image.nrrd"))
                lab = load(str(src / f"{case}_label.nrrd"))
        except Exception as err:
            raise UserError(f"pyradiomics case {case}: cannot read NRRD ({err})") from None
        affine = np.asarray(img.affine, dtype=np.float64)
        label = (np.asarray(lab) > 0).astype(np.uint8)
        box = _crop_box(label, affine, roi_mm)
        for arr, path, dtype in (
            (np.asarray(img), root / "imagesTr" / f"{case}_0000.nii.gz", np.float32),
            (label, root / "labelsTr" / f"{case}.nii.gz", np.uint8),
        ):
            nii = nib.Nifti1Image(arr.astype(dtype), affine).slicer[box]
            nii.header.set_data_dtype(dtype)
            with atomic_path(path) as tmp:
                nib.save(nii, str(tmp))
    write_text(done, json.dumps(meta, indent=2))
    return root
