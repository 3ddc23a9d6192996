"""Training data for pre-training: an endless, deterministic stream of augmented crops.

Micro-step ``t`` of rank ``r`` (of ``world``) takes the volumes at stream positions
``(t * world + r) * batch + b``: disjoint across ranks, and across DataLoader workers (worker
``w`` of ``W`` makes the micro-steps with ``t % W == w``). A stream position maps to a sample
index of the recipe (:func:`train_index`), skipping the block of validation indices, and
seeds its own augmentation, so batch ``t`` is a pure function of (preset, t, rank, world):
resuming at step ``s`` only needs ``t = s * grad_accum``.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from ..engine.compose import Recipe, sample_seed
from ..errors import ArgumentError, UserError
from ..io.untrusted import file_kind
from ..presets.preset import Preset
from ..real.checks import padding_note
from ..real.datalist import load_dataset

AUG_SALT = 0x5EED_A06  # separates augmentation seeds from sample seeds
Shape3 = tuple[int, int, int]


@dataclass(frozen=True)
class Augmentation:
    """``pretrain.augment`` as plain numbers (see ``fdif_core.presets.training``)."""

    crops_per_volume: int
    flip_prob: float
    rot90_prob: float
    rotate_deg: float
    rotate_prob: float
    scale_intensity: float
    shift_intensity: float
    intensity_prob: float


@dataclass(frozen=True)
class StreamConfig:
    """What the stream needs of a preset, resolved once (:meth:`of`) from ``pretrain:``,
    ``dataset:``, ``intensity:`` and the seed; nothing here reads the preset again."""

    seed: int
    num_samples: int  # the training block of sample indices; validation follows it
    val_volumes: int
    num_volumes: int | None  # cycle over the first N volumes; None: endless
    render_shape: Shape3 | None  # None: the preset's volume shape
    patch_size: Shape3
    batch_size: int
    task: str
    clip_max: float  # intensities are divided by it
    augment: Augmentation

    @classmethod
    def of(cls, preset: Preset) -> StreamConfig:
        cfg, aug = preset.pretrain, preset.pretrain.augment
        return cls(
            seed=preset.seed,
            num_samples=preset.dataset.num_samples,
            val_volumes=cfg.val_volumes,
            num_volumes=cfg.num_volumes,
            render_shape=None if cfg.render_shape is None else tuple(cfg.render_shape),
            patch_size=tuple(cfg.patch_size),
            batch_size=cfg.batch_size,
            task=cfg.task,
            clip_max=float(preset.intensity.clip[1]),
            augment=Augmentation(**{f.name: getattr(aug, f.name) for f in fields(Augmentation)}),
        )


@dataclass
class Batch:
    """One micro-batch: ``image`` (N, 1, *patch) float32 in [0, 1], ``target`` and indices.

    ``target`` is (N, 1, *patch) int64 labels for segmentation, (N,) int64 classes otherwise.
    """

    image: torch.Tensor
    target: torch.Tensor
    indices: list[int]


def val_indices(cfg: StreamConfig, count: int | None = None) -> list[int]:
    """Sample indices of the fixed validation set: right after the training block
    (``count``: how many, default ``val_volumes``; more continue the sequence)."""
    return [cfg.num_samples + j for j in range(cfg.val_volumes if count is None else count)]


def train_index(cfg: StreamConfig, position: int) -> int:
    """Sample index at stream ``position`` (cycles if ``num_volumes`` is set)."""
    if cfg.num_volumes is not None:
        position %= cfg.num_volumes
    return position if position < cfg.num_samples else position + cfg.val_volumes


def scale_image(image: torch.Tensor, cfg: StreamConfig) -> torch.Tensor:
    """uint8 intensities -> float32 in [0, 1] (divided by the preset's clip maximum)."""
    return image.float() / cfg.clip_max


def validation_volume(
    recipe: Recipe, cfg: StreamConfig, index: int, device: str | torch.device = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled image and label of validation volume ``index``, rendered as pre-training
    renders (``render_shape``): what validation and ``fdif-core report`` score."""
    s = recipe.sample(index, cfg.render_shape, device)
    return scale_image(s.image, cfg), s.label


# --------------------------------------------------------------------------- sources
class SyntheticSource:
    """Volumes rendered on the fly by the engine, on ``device``."""

    def __init__(
        self, recipe: Recipe, cfg: StreamConfig, device: str | torch.device = "cpu"
    ) -> None:
        self.recipe = recipe
        self.cfg = cfg
        self.device = torch.device(device)

    def volume(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(image (1, D, H, W) float32, label (1, D, H, W) int64) of sample ``index``."""
        s = self.recipe.sample(index, self.cfg.render_shape, self.device)
        return scale_image(s.image, self.cfg)[None], s.label.long()[None]

    def name(self, index: int) -> str:
        return f"synthetic sample {index}"

    def classification(self, index: int, shape: tuple[int, int, int]) -> tuple[torch.Tensor, int]:
        img, cls = self.recipe.classification_sample(index, shape, self.device)
        return img[None], cls


class DiskSource:
    """Volumes of a dataset written by ``fdif-core generate`` (Decathlon or nnU-Net layout)."""

    def __init__(self, root: str | Path, cfg: StreamConfig, num_labels: int) -> None:
        self.cfg = cfg
        self.pairs = find_pairs(Path(root), num_labels)
        self.note = self._padding_note()

    def _padding_note(self) -> str | None:
        """One line when volumes are smaller than the patch (zero-padded), as fine-tuning
        says it; from the NIfTI headers (no voxel is read)."""
        import nibabel as nib

        shapes = []
        for img_path, _ in self.pairs:
            try:
                shape = tuple(nib.load(str(img_path)).shape[:3])
            except Exception:  # unreadable: refused with its name when it is loaded
                continue
            if len(shape) == 3:
                shapes.append(shape)
        return padding_note(shapes, self.cfg.patch_size, len(self.pairs), "volume(s)")

    def name(self, index: int) -> str:
        return str(self.pairs[index % len(self.pairs)][0])

    def volume(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        import nibabel as nib

        img_path, lab_path = self.pairs[index % len(self.pairs)]
        try:
            img = np.asanyarray(nib.load(str(img_path)).dataobj)
            lab = np.asanyarray(nib.load(str(lab_path)).dataobj)
        except Exception as err:  # nibabel raises many kinds
            raise UserError(f"{img_path}: cannot read volume ({err})") from None
        image = scale_image(torch.from_numpy(np.ascontiguousarray(img)), self.cfg)
        return image[None], torch.from_numpy(lab.astype(np.int64))[None]


def find_pairs(root: Path, num_labels: int) -> list[tuple[Path, Path]]:
    """Training (image, label) files of a dataset folder from ``fdif-core generate`` (or its
    parent), read by the real datasets' reader (``fdif_core.real.datalist``)."""
    if not root.is_dir():
        raise ArgumentError("data", f"{root} is not a folder")
    cands = [root / "dataset.json", *sorted(root.glob("Dataset*/dataset.json"))]
    meta_path = next((c for c in cands if c.exists() or c.is_symlink()), None)
    if meta_path is None:
        raise ArgumentError("data", f"no dataset.json in {root} (make one with fdif-core generate)")
    ds = load_dataset(meta_path.parent, check=False)  # headers are read when a volume is
    if ds.num_classes != num_labels:
        raise UserError(
            f"{meta_path}: labels: {ds.num_classes} labels, but the preset makes {num_labels}"
        )
    pairs = [(c.images[0], c.label) for c in ds.training if c.label is not None]
    missing = [p for pair in pairs for p in pair if not p.exists()]
    if missing:
        raise ArgumentError("data", f"{missing[0]} is listed in {meta_path.name} but missing")
    special = [p for pair in pairs for p in pair if not p.is_file()]
    if special:  # a FIFO would block, /dev/zero never end
        kind = file_kind(os.stat(special[0]).st_mode)
        raise ArgumentError("data", f"{special[0]} is {kind}; a dataset holds regular files only")
    return pairs


# --------------------------------------------------------------------------- augmentation
def build_augment(cfg: StreamConfig):
    """MONAI dictionary transforms of ``pretrain.augment``: pad, random crops, flips, rot90,
    rotation, intensity scale and shift (a transform whose probability is 0 is left out)."""
    import math

    from monai import transforms as T

    aug = cfg.augment
    keys = ["image", "label"]
    patch = list(cfg.patch_size)
    crop = T.RandSpatialCropSamplesd(
        keys, roi_size=patch, num_samples=aug.crops_per_volume, random_size=False
    )
    steps = [T.SpatialPadd(keys, spatial_size=patch), crop]
    steps += [T.RandFlipd(keys, prob=aug.flip_prob, spatial_axis=a) for a in range(3)]
    if aug.rot90_prob > 0:
        steps += [
            T.RandRotate90d(keys, prob=aug.rot90_prob, max_k=3, spatial_axes=plane)
            for plane in rot90_planes(patch)
        ]
    if aug.rotate_prob > 0 and aug.rotate_deg > 0:
        r = math.radians(aug.rotate_deg)
        modes = ["bilinear", "nearest"]
        steps.append(T.RandRotated(keys, r, r, r, prob=aug.rotate_prob, mode=modes))
    if aug.scale_intensity > 0:
        steps.append(T.RandScaleIntensityd("image", aug.scale_intensity, prob=aug.intensity_prob))
    if aug.shift_intensity > 0:
        steps.append(T.RandShiftIntensityd("image", aug.shift_intensity, prob=aug.intensity_prob))
    return T.Compose(steps, lazy=False)


def rot90_planes(patch: list[int]) -> list[tuple[int, int]]:
    """Plane of the random 90-degree rotation: the first pair of equal patch edges ((0, 1)
    for a cube, MONAI's default), so the crop keeps its shape; none if all edges differ."""
    for a, b in ((0, 1), (0, 2), (1, 2)):
        if patch[a] == patch[b]:
            return [(a, b)]
    return []


def augment_seed(cfg: StreamConfig, position: int) -> int:
    return sample_seed(cfg.seed ^ AUG_SALT, position) % (2**32)


# --------------------------------------------------------------------------- batches
class BatchStream(torch.utils.data.IterableDataset):
    """Endless micro-batches from ``start`` on, for one rank; splits itself over workers."""

    def __init__(
        self,
        cfg: StreamConfig,
        source: SyntheticSource | DiskSource,
        start: int = 0,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.source = source
        self.start = start
        self.rank = rank
        self.world = world
        self._augment = None

    def positions(self, t: int) -> list[int]:
        """Stream positions of the volumes in micro-step ``t`` of this rank."""
        b = self.cfg.batch_size
        return [(t * self.world + self.rank) * b + i for i in range(b)]

    def make(self, t: int) -> Batch:
        """Micro-batch ``t`` (a pure function of preset, t, rank and world)."""
        cfg = self.cfg
        pos = self.positions(t)
        if cfg.task == "classification":
            imgs, classes = zip(
                *(self.source.classification(train_index(cfg, p), cfg.patch_size) for p in pos),
                strict=True,
            )
            return Batch(torch.stack(imgs), torch.tensor(classes, dtype=torch.long), pos)
        if self._augment is None:
            self._augment = build_augment(cfg)
        images, labels = [], []
        for p in pos:
            image, label = self.source.volume(train_index(cfg, p))
            self._augment.set_random_state(seed=augment_seed(cfg, p))
            for crop in self._augment({"image": image, "label": label}):
                images.append(torch.as_tensor(crop["image"]))
                labels.append(torch.as_tensor(crop["label"]))
        return Batch(torch.stack(images).float(), torch.stack(labels).long(), pos)

    def __iter__(self) -> Iterator[Batch]:
        info = torch.utils.data.get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        t = self.start + wid
        while True:
            yield self.make(t)
            t += nw


def quiet_worker(_worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: SIGINT and SIGTERM sent to the whole process group
    (Ctrl-C, ``timeout``, SLURM, torchrun) are for the training process, which saves a
    checkpoint and stops its workers (DataLoader ends them itself); a worker that died of
    it first would lose the step and print "DataLoader worker ... killed by signal"."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def collate_none(batch: Batch) -> Batch:
    return batch


class Prefetcher:
    """Makes batches in a background thread (on the GPU: its own CUDA stream), ``depth`` ahead."""

    def __init__(self, stream: BatchStream, device: torch.device, depth: int = 2) -> None:
        self._stream = stream
        self._device = device
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()

    def _work(self) -> None:
        cuda = self._device.type == "cuda"
        if cuda:
            torch.cuda.set_device(self._device)
        side = torch.cuda.Stream(self._device) if cuda else None
        try:
            with torch.cuda.stream(side) if cuda else contextlib.nullcontext():
                for batch in self._stream:
                    if cuda:
                        side.synchronize()  # type: ignore[union-attr]
                    while not self._stop.is_set():
                        try:
                            self._queue.put(batch, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if self._stop.is_set():
                        return
        except BaseException as err:  # surface errors in the training thread
            self._queue.put(err)

    def __iter__(self) -> Prefetcher:
        return self

    def __next__(self) -> Batch:
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        if self._device.type == "cuda":  # made on the side stream, used on the current one
            main = torch.cuda.current_stream(self._device)
            for t in (item.image, item.target):
                if t.is_cuda:
                    t.record_stream(main)
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def batches(
    cfg: StreamConfig,
    source: SyntheticSource | DiskSource,
    start: int,
    rank: int,
    world: int,
    device: torch.device,
    workers: int,
):
    """Iterator over micro-batches from ``start``: in-process prefetch on CUDA (and with
    ``workers == 0``), else DataLoader worker processes. Returns (iterator, closer)."""
    stream = BatchStream(cfg, source, start, rank, world)
    if device.type == "cuda" or workers == 0:
        pre = Prefetcher(stream, device)
        return pre, pre.close
    loader = torch.utils.data.DataLoader(
        stream,
        batch_size=None,
        num_workers=workers,
        collate_fn=collate_none,
        prefetch_factor=2,
        persistent_workers=False,
        worker_init_fn=quiet_worker,
        generator=torch.Generator(),  # keep the global RNG untouched (resume equivalence)
    )
    it = iter(loader)
    return it, getattr(it, "_shutdown_workers", lambda: None)
