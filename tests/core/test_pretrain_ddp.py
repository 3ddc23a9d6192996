"""DistributedDataParallel on the CPU: 2 gloo processes, as ``torchrun`` would start them."""

from __future__ import annotations

import os
import socket

import torch
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    from fdif_core.synthetic import stream
    from fdif_core.training import pretrain as P

    from .pretrain_presets import tiny

    seen: list[int] = []
    make = stream.BatchStream.make

    def recording(self, t):
        batch = make(self, t)
        seen.extend(batch.indices)
        return batch

    stream.BatchStream.make = recording  # type: ignore[method-assign]
    preset = tiny(iterations=2, val_volumes=0, checkpoint_interval=2)
    res = P.pretrain(preset, out, progress=False)
    torch.save({"seen": seen, "model": res.model.state_dict()}, f"{out}/rank{rank}.pt")
    import torch.distributed as dist

    dist.destroy_process_group()


def test_two_gloo_ranks_differ_in_data_and_agree_in_weights(tmp_path):
    mp.spawn(_rank, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2))
    # 2 steps x batch 2 per rank (more were made ahead by the prefetcher): positions interleave
    assert r0["seen"][:4] == [0, 1, 4, 5] and r1["seen"][:4] == [2, 3, 6, 7]
    assert not set(r0["seen"]) & set(r1["seen"])
    assert all(torch.equal(r0["model"][k], r1["model"][k]) for k in r0["model"])
    init = torch.load(tmp_path / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(init[k], r0["model"][k]) for k in init)  # rank 0 wrote the run
    from fdif_core.training.pretrain import read_log

    rows = read_log(tmp_path)
    assert [r["step"] for r in rows if "loss" in r] == [1, 2]  # one log, from rank 0
