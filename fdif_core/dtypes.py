"""The one rule for a label map's data type, in memory (torch) and on disk (NumPy, NIfTI)."""

from __future__ import annotations


def label_dtype(num_labels: int) -> str:
    """The smallest type that holds label values ``0 .. num_labels - 1`` and that torch can
    paint into: ``uint8`` up to 256 values, ``int16`` up to 32768, else ``int32`` (a NumPy
    and a torch dtype name alike)."""
    if num_labels <= 256:
        return "uint8"
    return "int16" if num_labels <= 32768 else "int32"
