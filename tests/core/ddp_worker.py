"""One rank of the DDP test (``torchrun --nproc_per_node 2 ddp_worker.py TASK OUT TOY``):
train 2 steps of the tiny preset, recording the stream positions this rank consumed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main(task: str, out: str, toy: str) -> None:
    torch.set_num_threads(1)
    from fdif_core.cli.commands._common import training_report
    from fdif_core.real.patches import PatchStream
    from fdif_core.synthetic.stream import BatchStream
    from tests.core.conftest import Trainer

    seen: list[int] = []
    if task == "pretrain":
        make = BatchStream.make

        def recording(self, t):
            batch = make(self, t)
            seen.extend(batch.indices)
            return batch

        BatchStream.make = recording  # type: ignore[method-assign]
    else:
        get = PatchStream.__getitem__

        def recording_item(self, i):
            seen.append(i)
            return get(self, i)

        PatchStream.__getitem__ = recording_item  # type: ignore[method-assign]
    trainer = Trainer(task, Path(toy))
    over = {"iterations": 2, "checkpoint_interval": 2, "val_interval": 0}
    res = trainer.start(trainer.preset(**over), Path(out))
    import torch.distributed as dist

    rank = dist.get_rank()
    torch.save({"seen": seen, "model": res.model.state_dict()}, f"{out}/rank{rank}.pt")
    if rank == 0:
        training_report(task, argparse.Namespace(), res, ())
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:4])
