"""Run ``nnUNetv2_train`` command lines through nnU-Net's own entry point, with tiny epochs.

Usage: ``python nnunet_tiny_train.py OUT_DIR ARGV_JSON``: ARGV_JSON is a list of argument
lists (what follows ``nnUNetv2_train``). nnU-Net's ``run_training_entry`` runs each one
(``-pretrained_weights`` included) with one epoch of 2 training and 1 validation
iterations and without the final sliding-window validation of the fold; the network's
state at the start of training (after the pre-trained weights were loaded) is saved as
``OUT_DIR/start_<k>.pt``.
"""

from __future__ import annotations

import json
import sys

import torch


def main() -> None:
    from nnunetv2.run import run_training
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    out, runs = sys.argv[1], json.loads(sys.argv[2])
    start = nnUNetTrainer.on_train_start
    current = {"k": 0}

    def snapshot_start(self) -> None:
        start(self)
        self.num_epochs, self.num_iterations_per_epoch, self.num_val_iterations_per_epoch = 1, 2, 1
        state = {k: v.detach().clone() for k, v in self.network.state_dict().items()}
        torch.save(state, f"{out}/start_{current['k']}.pt")

    nnUNetTrainer.on_train_start = snapshot_start
    nnUNetTrainer.perform_actual_validation = lambda self, *a, **k: None
    for k, argv in enumerate(runs):
        current["k"] = k
        sys.argv = ["nnUNetv2_train", *argv]
        run_training.run_training_entry()


if __name__ == "__main__":
    main()
