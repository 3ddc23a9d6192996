"""DDP under ``torchrun``: join the process group, wrap the model, agree on flags."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> tuple[Dist, torch.device]:
    """Join the process group that ``torchrun`` describes (gloo on CPU, NCCL on CUDA)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(), device
    import torch.distributed as dist

    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(rank, world), device


def wrap_ddp(model: torch.nn.Module, info: Dist, device: torch.device) -> torch.nn.Module:
    """``model`` itself on one process, else DistributedDataParallel. Unused parameters are
    allowed: nnU-Net decoders keep their deep-supervision heads, and fine-tuning may freeze
    the encoder."""
    if info.world <= 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)


def max_over_ranks(values: list[float], info: Dist, device: torch.device) -> list[float]:
    """Element-wise maximum of ``values`` over all ranks (the values themselves on one)."""
    if info.world <= 1:
        return values
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t.tolist()
