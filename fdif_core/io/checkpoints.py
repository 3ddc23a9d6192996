"""Training checkpoints: plain dicts of tensors written atomically, read with ``weights_only``.

A checkpoint holds ``model``, ``optimizer``, ``scheduler``, ``scaler`` state dicts, ``rng``
(torch, CUDA, NumPy and Python generator states), ``step`` (steps done), ``preset_hash``,
``preset`` (YAML text), ``model_name``, ``task``, ``label_names`` and ``best_val``.
"""

from __future__ import annotations

import io
import pickle
import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import UserError
from .atomic import write_bytes

REQUIRED = ("model", "optimizer", "scheduler", "step", "preset_hash")


def rng_state() -> dict[str, Any]:
    """Every random generator a training step may touch, as tensors and plain data."""
    np_state = np.random.get_state(legacy=False)
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": n["key"].numpy().astype(np.uint32), "pos": n["pos"]},
            "has_gauss": n["has_gauss"],
            "gauss": n["gauss"],
        }
    )
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))


def training_state(model, opt, sched, scaler, step: int, preset) -> dict[str, Any]:
    """What every run's checkpoint holds to resume exactly: weights, optimiser, schedule,
    grad scaler, all RNG states, the step and the preset (text and hash)."""
    return {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "scaler": scaler.state_dict() if scaler.is_enabled() else {},
        "rng": rng_state(),
        "step": step,
        "preset_hash": preset.hash(),
        "preset": preset.to_yaml(),
    }


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Serialise ``state`` to memory, then write it atomically (never a partial file); a
    failed write (a full disk) is one ``UserError`` line and leaves the previous file."""
    buf = io.BytesIO()
    torch.save(state, buf)
    try:
        write_bytes(path, buf.getvalue())
    except OSError as err:
        raise UserError(
            f"{path}: cannot write the checkpoint ({err.strerror or err}); the previous one is kept"
        ) from None


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint safely; a missing or corrupt file is one ``UserError`` line."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no checkpoint there")
    try:
        with warnings.catch_warnings():  # torch warns about odd pickle protocols
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle, zip and torch errors all mean "unreadable"
        raise UserError(f"{path}: not a readable checkpoint ({_unreadable(path, err)})") from None
    if not isinstance(state, dict) or any(k not in state for k in REQUIRED):
        raise UserError(f"{path}: not an fdif-core pre-training checkpoint (missing fields)")
    check_state(path, state)
    return state


def _unreadable(path: Path, err: Exception) -> str:
    """Why ``torch.load`` failed, in words."""
    if path.stat().st_size == 0:
        return "an empty file"
    if isinstance(err, pickle.UnpicklingError):
        return "not a tensors-only PyTorch file: weights_only loading refuses it"
    if isinstance(err, EOFError):
        return "truncated"
    return f"corrupt or truncated: {type(err).__name__}"


def check_state(path: Path, state: dict[str, Any]) -> None:
    """The fields every use of a checkpoint relies on have the right types; weights finite."""
    model, step = state["model"], state["step"]
    if not isinstance(model, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in model.items()
    ):
        raise UserError(f"{path}: model: not a state dict of named tensors")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise UserError(f"{path}: step: {step!r} is not a step count (0 or more)")
    for key in ("preset", "preset_hash", "model_name"):
        if key in state and not isinstance(state[key], str):
            raise UserError(f"{path}: {key}: expected text, got {type(state[key]).__name__}")
    for name, t in model.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise UserError(
                f"{path}: weights {name} hold NaN or inf (the run diverged?); "
                "use an earlier checkpoint"
            )
