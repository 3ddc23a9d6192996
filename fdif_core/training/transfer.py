"""Transfer of pre-trained weights into a network with another output head.

Every tensor whose name and shape match is copied; the output head (the tensors whose shape
depends on the class count, found by building the architecture on the ``meta`` device with
two class counts) keeps its fresh initialisation even when the counts happen to agree.
Almost nothing matching means the wrong architecture: that is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import UserError


@dataclass
class TransferReport:
    """What :func:`transfer_weights` did.

    Attributes:
        loaded: names copied from the checkpoint.
        head: the output-head names (re-initialised).
        skipped: body names of the model left at their initialisation, with the reason.
        unused: checkpoint names the model has no place for.
    """

    loaded: list[str] = field(default_factory=list)
    head: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    unused: list[str] = field(default_factory=list)

    def summary(self) -> str:
        line = (
            f"loaded {len(self.loaded)} tensors, re-initialised the head ({len(self.head)}), "
            f"skipped {len(self.skipped)}, unused in the checkpoint {len(self.unused)}"
        )
        if self.skipped:
            first = ", ".join(f"{k} ({v})" for k, v in list(self.skipped.items())[:3])
            line += f"; skipped e.g. {first}"
        return line


def head_keys(
    name: str,
    patch_size: tuple[int, int, int],
    kwargs: dict[str, Any] | None = None,
    in_channels: int = 1,
) -> set[str]:
    """State-dict names of network ``name`` whose shape depends on the class count.

    The two probes are built on the ``meta`` device (no memory, no init) when the
    architecture allows it, else on the CPU without touching the global RNG.
    """
    from ..networks import build_network

    def shapes(n: int, device: str) -> dict[str, tuple[int, ...]]:
        with torch.device(device):
            net = build_network(name, n, patch_size, kwargs, in_channels)
        return {k: tuple(v.shape) for k, v in net.state_dict().items()}

    try:
        a, b = shapes(2, "meta"), shapes(3, "meta")
    except (RuntimeError, NotImplementedError):  # e.g. SwinUNETR calls .item() when built
        with torch.random.fork_rng():
            a, b = shapes(2, "cpu"), shapes(3, "cpu")
    return {k for k in a if k in b and a[k] != b[k]}


def _canonical(state: dict[str, torch.Tensor]) -> dict[str, str]:
    """Name -> first name of the same tensor (modules registered twice alias their tensors)."""
    first: dict[tuple[int, tuple[int, ...]], str] = {}
    out = {}
    for k, v in state.items():
        key = (v.data_ptr(), tuple(v.shape)) if v.numel() else (id(v), ())
        out[k] = first.setdefault(key, k)
    return out


def transfer_weights(
    model: torch.nn.Module,
    source: dict[str, torch.Tensor],
    head: set[str],
    *,
    min_fraction: float = 0.5,
    scope: tuple[str, ...] | None = None,
    source_name: str = "checkpoint",
) -> TransferReport:
    """Copy every matching tensor of ``source`` into ``model`` except the head.

    Tensors a network registers under two names (nnU-Net's decoder keeps a reference to
    the encoder; its conv blocks list their layers twice) are counted once.

    Args:
        model: the freshly initialised network (its head stays as it is).
        source: a pre-trained state dict.
        head: names of the model's output head (:func:`head_keys`).
        min_fraction: refuse when fewer than this fraction of the model's distinct non-head
            tensors (within ``scope``) match: a different architecture.
        scope: name prefixes the fraction is taken over (the encoder, for a classification
            pre-training that has no decoder); None = the whole network.
        source_name: how to name the checkpoint in messages.

    Raises:
        UserError: too few tensors match.
    """
    target = model.state_dict()
    canon = _canonical(target)
    report = TransferReport(head=sorted(k for k in target if k in head))
    take: dict[str, torch.Tensor] = {}
    for k in target:
        if k in head:
            continue
        if k not in source:
            why = "not in checkpoint"
        elif tuple(source[k].shape) != tuple(target[k].shape):
            why = f"shape {tuple(source[k].shape)} vs {tuple(target[k].shape)}"
        else:
            take[k] = source[k]
            continue
        if canon[k] == k:
            report.skipped[k] = why
    loaded = {canon[k] for k in take}
    report.loaded = sorted(loaded)
    report.skipped = {k: v for k, v in report.skipped.items() if k not in loaded}
    report.unused = [k for k in source if k not in target]
    body = {canon[k] for k in target if k not in head}
    if scope:
        body = {k for k in body if k.startswith(scope)}
    matched = len(loaded & body)
    if matched < min_fraction * max(len(body), 1):
        raise UserError(
            f"{source_name}: only {matched} of {len(body)} tensors match this network "
            f"(need {min_fraction:.0%}); it was pre-trained with another architecture"
        )
    model.load_state_dict(take, strict=False)
    return report
