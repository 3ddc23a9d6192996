"""Networks for pre-training, built from the libraries that define them.

``NETWORKS`` (:mod:`.catalogue`) maps a preset's ``model`` to a :class:`NetworkSpec`; each
family registers itself from its own module: :mod:`.swinunetr` (MONAI), :mod:`.nnunet`
(ResEnc-L, Primus-M, the small U-Net, nnU-Net's own network for a plans file, and all glue to
nnU-Net v2). Importing this package pulls in no MONAI / dynamic-network-architectures /
nnU-Net; builders import them when called.
"""

from __future__ import annotations

# the families register in catalogue order: swinunetr, then resenc_l, primus_m, unet_small, nnunet
from . import swinunetr as _swinunetr  # noqa: F401

# isort: split
from . import nnunet as _nnunet  # noqa: F401

# isort: split
from .catalogue import (
    MAX_STAGES,
    MAX_WIDTH,
    NETWORKS,
    NetworkSpec,
    attach_classifier,
    build_classifier,
    build_network,
    kwarg_problem,
    training_bytes,
)
from .nnunet import (
    nnunet_configuration,
    nnunet_input_channels,
    nnunet_module,
    nnunet_quiet,
    nnunet_trainer_class,
)

__all__ = [
    "MAX_STAGES",
    "MAX_WIDTH",
    "NETWORKS",
    "NetworkSpec",
    "attach_classifier",
    "build_classifier",
    "build_network",
    "kwarg_problem",
    "nnunet_configuration",
    "nnunet_input_channels",
    "nnunet_module",
    "nnunet_quiet",
    "nnunet_trainer_class",
    "training_bytes",
]
