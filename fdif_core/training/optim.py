"""Loss, optimiser, learning-rate schedule and mixed precision of every training run.

DiceCE / Dice / CE (MONAI losses), AdamW or nnU-Net's SGD, a linear warm-up then cosine,
poly(0.9) or constant decay, and AMP: bf16 autocast, or fp16 autocast with a grad scaler. A
step whose gradients are not finite is skipped (no update) in every precision, as the fp16
grad scaler does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial

import torch
from torch.optim.lr_scheduler import LambdaLR

from ..presets.training import TrainConfig, amp_dtype

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def make_loss(cfg: TrainConfig, classification: bool = False) -> LossFn:
    """DiceCE / Dice / CE over the label channels (CE on the class for classification)."""
    if cfg.loss == "ce":
        ce = torch.nn.CrossEntropyLoss()
        return ce if classification else (lambda out, y: ce(out, y[:, 0]))
    from monai.losses import DiceCELoss, DiceLoss

    if cfg.loss == "dice":
        return DiceLoss(to_onehot_y=True, softmax=True)
    return DiceCELoss(to_onehot_y=True, softmax=True)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW, or SGD with Nesterov momentum 0.99 (nnU-Net)."""
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(),
            lr=cfg.lr,
            momentum=0.99,
            nesterov=True,
            weight_decay=cfg.weight_decay,
        )
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def lr_factor(step: int, *, kind: str, warmup: int, total: int) -> float:
    """Learning-rate multiplier: linear warm-up, then cosine / poly(0.9) / constant."""
    if step < warmup:
        return (step + 1) / (warmup + 1)
    t = (step - warmup) / max(1, total - warmup)
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(t, 1.0)))
    if kind == "poly":
        return max(0.0, 1.0 - t) ** 0.9
    return 1.0


def make_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig) -> LambdaLR:
    factor = partial(lr_factor, kind=cfg.schedule, warmup=cfg.warmup_steps, total=cfg.iterations)
    return LambdaLR(opt, factor)


class Amp:
    """Autocast and the (fp16) grad scaler of one run; ``step`` skips non-finite gradients."""

    def __init__(self, name: str, device: torch.device) -> None:
        self.name = name
        self.dtype = amp_dtype(name)
        self.device_type = device.type
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.dtype == torch.float16)

    def autocast(self) -> AbstractContextManager:
        dtype = self.dtype or torch.float32
        return torch.autocast(self.device_type, dtype=dtype, enabled=self.dtype is not None)

    def backward(self, loss: torch.Tensor) -> None:
        self.scaler.scale(loss).backward()

    def step(
        self, opt: torch.optim.Optimizer, params: list[torch.Tensor], clip: float | None
    ) -> bool:
        """Unscale, clip and apply the gradients; False (no update) if one is not finite."""
        self.scaler.unscale_(opt)
        grads = [p.grad for p in params if p.grad is not None]
        if clip is not None:
            norm = torch.nn.utils.clip_grad_norm_(params, clip)
        else:
            norm = torch.nn.utils.get_total_norm(grads) if grads else torch.zeros(())
        finite = bool(torch.isfinite(norm))
        if finite or self.scaler.is_enabled():
            self.scaler.step(opt)  # the fp16 scaler skips the update itself when not finite
        self.scaler.update()
        return finite
