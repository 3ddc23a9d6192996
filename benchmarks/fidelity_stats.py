"""Statistics shared by ``fidelity.py`` (this project) and ``authors_reference.py`` (the authors'
released generator, run in its own environment), so both sides are measured the same way.

Only the standard library and numpy: the authors' environment has nothing of this project.
"""

from __future__ import annotations

import re

import numpy as np

HIST_EDGES = [1, 17, 33, 49, 65, 81, 97, 113, 129]  # non-zero intensities, 8 bins of 16 levels

_POLYGON = {
    "Triangle": 3,
    "Square": 4,
    "Pentagon": 5,
    "Hexagon": 6,
    "Heptagon": 7,
    "Octagon": 8,
    "Nonagon": 9,
}
_COUNT = {"Three": 3, "Four": 4, "Five": 5, "Six": 6, "Seven": 7, "Eight": 8}
_BASIC = {
    "Sphere": "sphere",
    "Torus": "torus",
    "Cone": "cone",
    "Octahedron": "octahedron",
    "Cylinder": "cylinder",
    "ConvexCylinder": "cylinder_convex",
    "ConcaveCylinder": "cylinder_concave",
    "ConeCylinder": "cylinder_cone",
}
BASIC = list(_BASIC.values())


def project_name(authors_class: str) -> str:
    """This project's class name for one of the authors' class names (``OnionedFiveStarConePrism``
    -> ``star_5_prism_cone_onion``)."""
    if authors_class in _BASIC:
        return _BASIC[authors_class]
    m = re.fullmatch(
        r"(Onioned)?(?:(\w+?)Star|(" + "|".join(_POLYGON) + r"))(Convex|Concave|Cone)?"
        r"(Prism|Torus|Revolution)",
        authors_class,
    )
    if m is None:
        raise ValueError(f"unknown authors' class {authors_class}")
    onion, star_count, polygon, profile, kind = m.groups()
    section, n = ("star", _COUNT[star_count]) if star_count else ("polygon", _POLYGON[polygon])
    name = f"{section}_{n}_{kind.lower()}"
    if profile:
        name += f"_{profile.lower()}"
    return name + ("_onion" if onion else "")


def family(name: str) -> str:
    """Fidelity family of a class: each basic class alone, the rest by construction
    (``polygon_5_prism_cone_onion`` -> ``polygon_prism_cone_onion``)."""
    if name in BASIC:
        return name
    return re.sub(r"_\d+_", "_", name)


def volume_stats(image: np.ndarray, label: np.ndarray) -> dict:
    """Whole-volume statistics of one rendered sample (uint8 image, integer labels)."""
    image = np.asarray(image)
    label = np.asarray(label)
    ids, counts = np.unique(label[label > 0], return_counts=True)
    nz = image[image > 0].astype(np.int64)
    hist, _ = np.histogram(nz, bins=HIST_EDGES)
    return {
        "foreground_fraction": float((label > 0).mean()),
        "zero_fraction": float((image == 0).mean()),
        "labels_visible": len(ids),
        "visible_voxels": [int(c) for c in counts],
        "histogram": [int(h) for h in hist],
    }


def summarize_volumes(per_volume: list[dict]) -> dict:
    """Means over volumes; the histogram as fractions of all non-zero voxels."""
    hist = np.sum([v["histogram"] for v in per_volume], axis=0).astype(float)
    voxels = [c for v in per_volume for c in v["visible_voxels"]]
    return {
        "volumes": len(per_volume),
        "foreground_fraction": float(np.mean([v["foreground_fraction"] for v in per_volume])),
        "zero_fraction": float(np.mean([v["zero_fraction"] for v in per_volume])),
        "labels_visible": float(np.mean([v["labels_visible"] for v in per_volume])),
        "visible_voxels_per_label": float(np.mean(voxels)),
        "histogram": (hist / hist.sum()).tolist(),
    }


def ratio_ci(
    ours: list[int], theirs: list[int], reps: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Ratio of medians (ours / theirs) with a percentile bootstrap 95 % interval."""
    a, b = np.asarray(ours, float), np.asarray(theirs, float)
    rng = np.random.default_rng(seed)
    ra = np.median(rng.choice(a, (reps, len(a))), axis=1)
    rb = np.median(rng.choice(b, (reps, len(b))), axis=1)
    boot = ra / np.maximum(rb, 1.0)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return float(np.median(a) / max(np.median(b), 1.0)), float(lo), float(hi)


def draws_per_class(n_classes_in_family: int, minimum: int = 40, per_family: int = 120) -> int:
    """Draws for each class: at least ``minimum``, and ``per_family`` in all for small families."""
    return max(minimum, -(-per_family // n_classes_in_family))
