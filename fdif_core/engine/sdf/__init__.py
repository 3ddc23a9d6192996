"""Signed distance functions: 2D sections, 3D constructions and the primitive library."""

from .library import FDIF_CLASSES, PRIMITIVES, PrimitiveClass, evaluate, half_extents, sample_params

__all__ = [
    "FDIF_CLASSES",
    "PRIMITIVES",
    "PrimitiveClass",
    "evaluate",
    "half_extents",
    "sample_params",
]
