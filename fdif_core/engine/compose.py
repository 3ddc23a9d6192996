"""Algorithm 1: sample K objects, evaluate them, sum mapped intensities and paint labels.

``Recipe`` takes a resolved ``EngineSpec``; ``Recipe.scene(index)`` draws plain-data
object specs from a generator seeded by (seed, index), and
``render(scene)`` evaluates them, each only inside its own bounding box, on any device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
import torch

from ..dtypes import label_dtype
from . import culling, grid
from .pose import Pose, sample_pose
from .sdf.library import (
    PRIMITIVES,
    evaluate,
    sample_params,
)
from .spec import EngineSpec
from .textures.displacements import Displacement
from .textures.mappers import Mapper
from .types import Device, Params, Shape3

CHUNK = 1 << 17  # points evaluated at once


@dataclass(frozen=True)
class ObjectSpec:
    """One sampled object: plain data, replayable."""

    primitive: str
    params: Params
    pose: Pose
    mapper: int  # index into Recipe.mappers
    displacement: int  # index into Recipe.displacements, -1 = none


@dataclass
class Sample:
    """A rendered volume: ``image`` uint8 (D, H, W) and ``label`` integer (D, H, W)."""

    image: torch.Tensor
    label: torch.Tensor
    labels: dict[str, torch.Tensor] = field(default_factory=dict)
    objects: list[ObjectSpec] = field(default_factory=list)
    volumes: list[int] = field(default_factory=list)


@lru_cache(maxsize=256)
def _reversed_axes(pose: Pose) -> Pose:
    """The same map on points whose axes are listed in reverse order (P M, P t)."""
    return Pose(pose.matrix[::-1], pose.translation[::-1])


def sample_seed(seed: int, index: int) -> int:
    """Seed of sample ``index``: a pure function of (preset seed, index)."""
    return int(
        np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(index)]).generate_state(1, np.uint64)[0]
        >> 1
    )


class Recipe:
    """A resolved recipe (``EngineSpec``): class list, instances, label layout, rendering."""

    def __init__(self, spec: EngineSpec) -> None:
        self.spec = spec
        self.classes: list[str] = list(spec.classes)
        self.mappers: list[Mapper] = list(spec.mappers)
        self.displacements: list[Displacement] = list(spec.displacements)
        self.shape: Shape3 = tuple(spec.shape)  # type: ignore[assignment]
        self.G = float(min(self.shape))
        self.pose_ranges = spec.pose
        self._ranges = {c: dict(spec.ranges.get(c, {})) for c in self.classes}
        self._disp_choices = list(range(len(self.displacements))) + (
            [-1] if spec.include_none else []
        )

    # ------------------------------------------------------------------ labels
    @property
    def mode(self) -> str:
        return self.spec.label_mode

    def _disp_names(self) -> list[str]:
        return [d.name for d in self.displacements] + (["none"] if -1 in self._disp_choices else [])

    def task_names(self) -> dict[str, list[str]]:
        """Per label map, its class names in label order (0 = background)."""
        tasks = {"shape": ["background", *self.classes]}
        if self.mode == "multitask":
            tasks["displacement"] = ["background", *self._disp_names()]
            tasks["mapper"] = ["background", *(m.name for m in self.mappers)]
        elif self.mode == "classes":
            names = [[c] for c in self.classes]
            for part in self.spec.combine:
                opts = [m.name for m in self.mappers] if part == "mapper" else self._disp_names()
                names = [[*n, o] for n in names for o in opts]
            tasks["shape"] = ["background", *("+".join(n) for n in names)]
        return tasks

    @property
    def label_names(self) -> list[str]:
        """Names of the main label map's values: index i = label i; 0 = background."""
        return self.task_names()["shape"]

    @property
    def families(self) -> list[str]:
        fam = ["background"] + [PRIMITIVES.get(c).family for c in self.classes]
        if self.mode == "classes":
            per = len(self.label_names[1:]) // len(self.classes)
            fam = ["background"] + [f for f in fam[1:] for _ in range(per)]
        return fam

    def label_of(self, obj: ObjectSpec) -> dict[str, int]:
        c = self.classes.index(obj.primitive)
        d = obj.displacement if obj.displacement >= 0 else len(self.displacements)
        out = {"shape": c + 1}
        if self.mode == "multitask":
            out["displacement"], out["mapper"] = d + 1, obj.mapper + 1
        elif self.mode == "classes":
            idx = c
            for part in self.spec.combine:
                if part == "mapper":
                    idx = idx * len(self.mappers) + obj.mapper
                else:
                    idx = idx * len(self._disp_choices) + d
            out["shape"] = idx + 1
        return out

    # ------------------------------------------------------------------ sampling
    def generator(self, index: int) -> torch.Generator:
        return torch.Generator().manual_seed(sample_seed(self.spec.seed, index))

    def draw_object(
        self,
        gen: torch.Generator,
        primitive: str | None = None,
        size_scale: float = 1.0,
        translation_scale: float = 1.0,
    ) -> ObjectSpec:
        def pick(n: int) -> int:
            return int(torch.randint(n, (), generator=gen))

        name = primitive or self.classes[pick(len(self.classes))]
        cls = PRIMITIVES.get(name)
        geometry = self.spec.geometry.get(name, "exact")
        extent = tuple(s * translation_scale for s in self.shape)
        pose = sample_pose(gen, self.pose_ranges, extent)  # type: ignore[arg-type]
        params = sample_params(
            cls, gen, self.G * size_scale, self._ranges.get(name), geometry, pose, self.lattice()
        )
        disp = self._disp_choices[pick(len(self._disp_choices))]
        mapper = pick(len(self.mappers))
        return ObjectSpec(name, params, pose, mapper, disp)

    def scene(self, index: int) -> list[ObjectSpec]:
        """The K objects of sample ``index`` (pure function of preset and index)."""
        gen = self.generator(index)
        return [self.draw_object(gen) for _ in range(self.spec.per_volume)]

    # ------------------------------------------------------------------ rendering
    def lattice(self) -> list[torch.Tensor]:
        """World coordinates of the reference grid's voxels, per world axis (one list per
        recipe, shared by every sampled object: read it, never write it)."""
        return self._lattice

    @cached_property
    def _lattice(self) -> list[torch.Tensor]:
        if self.spec.grid == "authors":
            return [torch.arange(n, dtype=torch.float32) - n / 2.0 for n in reversed(self.shape)]
        return [grid.axis_coords(n, n) for n in self.shape]

    def world(self, pts: torch.Tensor, shape: Shape3) -> torch.Tensor:
        """Reference coordinates of voxel centres -> the points the engine evaluates at.

        ``authors`` grid: shifted by half a voxel (-G/2 .. G/2 - 1), as the authors'
        generator lays its grid out; their (x, y, z) is the reversed array axis order, which
        :meth:`frame_pose` and the displacement take care of (no copy of the points).
        ``pts`` is shifted in place (callers pass freshly built points).
        """
        if self.spec.grid != "authors":
            return pts
        steps = [r / n for r, n in zip(self.shape, shape, strict=True)]
        if len(set(steps)) == 1:  # one value: a flat pass (the same float32 subtraction)
            return pts.sub_(pts.new_tensor(0.5 * steps[0]))
        return pts.sub_(0.5 * pts.new_tensor(steps))

    def frame_pose(self, obj: ObjectSpec) -> Pose:
        """The object's pose acting on array-order points (its own, or with x = last axis)."""
        return _reversed_axes(obj.pose) if self.spec.grid == "authors" else obj.pose

    def array_box(self, lo: list[float], hi: list[float], shape: Shape3):
        """Box of evaluated points -> box in reference coordinates of voxel centres."""
        if self.spec.grid != "authors":
            return lo, hi
        half = [0.5 * r / n for r, n in zip(self.shape, shape, strict=True)]
        return [x + d for x, d in zip(lo, half, strict=True)], [
            x + d for x, d in zip(hi, half, strict=True)
        ]

    def displacement_frame(self) -> tuple[torch.Tensor | float, float]:
        """(divisor of the coordinates, multiplier of Δ): G/2 and G/2 (``centred`` grid), the
        largest coordinate per axis (x, y, z) and along x (``authors`` grid: 47 and 47).
        Built once per recipe: read the tensor, never write it."""
        return self._displacement_frame

    @cached_property
    def _displacement_frame(self) -> tuple[torch.Tensor | float, float]:
        if self.spec.grid == "authors":
            top = [n / 2.0 - 1.0 for n in reversed(self.shape)]
            return torch.tensor(top), top[0]
        return self.G / 2.0, self.G / 2.0

    @cached_property
    def _world_divisor(self) -> torch.Tensor | float:
        """:meth:`displacement_frame`'s divisor; one float when it is the same on every axis
        (a cube: the same float32 division without a per-axis broadcast)."""
        div = self.displacement_frame()[0]
        if isinstance(div, torch.Tensor) and len(set(div.tolist())) == 1:
            return float(div[0])
        return div

    def field(self, obj: ObjectSpec, pts: torch.Tensor) -> torch.Tensor:
        """φ̃ (reference voxels) of one object at the points ``pts`` (N, 3) of :meth:`world`."""
        local = self.frame_pose(obj).to_object(pts)
        phi = evaluate(PRIMITIVES.get(obj.primitive), obj.params, local)
        if obj.displacement >= 0:
            phi = phi + self.delta(obj, pts, local)
        return phi

    def delta(self, obj: ObjectSpec, pts: torch.Tensor, local: torch.Tensor) -> torch.Tensor:
        """Δ (reference voxels) of the object's displacement at the points ``pts`` of
        :meth:`world` (object coordinates ``local``)."""
        x, mul = self.delta_input(obj, pts, local)
        return self.displacements[obj.displacement](x) * mul

    def delta_input(
        self, obj: ObjectSpec, pts: torch.Tensor, local: torch.Tensor
    ) -> tuple[torch.Tensor, float]:
        """(x̂, multiplier): the coordinates Δ reads at ``pts`` (``local``) and the factor
        that turns its value into reference voxels. Linear in the points, so it also maps
        per-axis half-widths of an axis-aligned box (world space)."""
        disp = self.displacements[obj.displacement]
        if self.spec.displacement_space == "object":
            div, mul = self.G / 2.0, self.G / 2.0
            space = local
        else:
            div, mul = self._world_divisor, self.displacement_frame()[1]
            space = pts
            if self.spec.grid == "authors":  # their (x, y, z) = reversed array axes
                if not disp.spec.axis_symmetric:
                    space = pts.flip(-1)
                elif isinstance(div, torch.Tensor):  # no reordered copy of the points
                    div = div.flip(0)
        if isinstance(div, torch.Tensor):
            div = div.to(pts.device)
        return space / div, mul

    def mapper_position(self, obj: ObjectSpec, pts: torch.Tensor) -> torch.Tensor | None:
        """What a mapper formula calls x, y, z at ``pts`` (object coordinates / (G/2), as
        an object-space Δ sees them); None when the object's mapper reads only d."""
        if not self.mappers[obj.mapper].uses_position:
            return None
        return self.frame_pose(obj).to_object(pts) / (self.G / 2.0)

    def reach(self, obj: ObjectSpec) -> float:
        """Field value below which a voxel matters: mapper halo plus displacement outreach."""
        out = self.mappers[obj.mapper].halo()
        if obj.displacement >= 0:
            out += self.delta_range(obj)[0]
        return out

    def delta_range(self, obj: ObjectSpec) -> tuple[float, float]:
        """How far (reference voxels) Δ moves the object's surface outwards and inwards."""
        world = self.spec.displacement_space == "world"
        mul = self.displacement_frame()[1] if world else self.G / 2.0
        disp = self.displacements[obj.displacement]
        return disp.outward() * mul, disp.inward() * mul

    def voxels(
        self, obj: ObjectSpec, shape: Shape3, device: torch.device, full_grid: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Flat indices and world coordinates of the voxels the object may touch
        (:func:`culling.voxels`); ``full_grid``: every voxel (the naive baseline)."""
        return culling.voxels(self, obj, shape, device, full_grid)

    def render(
        self,
        objects: list[ObjectSpec],
        shape: Shape3 | None = None,
        device: Device = "cpu",
        full_grid: bool = False,
    ) -> Sample:
        """Image and labels of ``objects`` on a grid of ``shape`` (default: the preset's).

        Intensities are summed into one running volume and each object keeps only the
        indices of its inside voxels, so memory does not grow with K full fields.
        """
        shape = tuple(shape or self.shape)  # type: ignore[assignment]
        dev = torch.device(device)
        image = torch.zeros(shape, dtype=torch.float32, device=dev)
        flat_image = image.view(-1)
        masks: list[torch.Tensor | None] = []
        for obj in objects:
            found = self.voxels(obj, shape, dev, full_grid)
            if found is None:
                masks.append(None)
                continue
            idx, pts = found
            mapper = self.mappers[obj.mapper]
            inside = []
            for s in range(0, len(idx), CHUNK):
                phi = self.field(obj, pts[s : s + CHUNK])
                g = mapper(phi, self.mapper_position(obj, pts[s : s + CHUNK]))
                flat_image.index_add_(0, idx[s : s + CHUNK], g)
                inside.append(idx[s : s + CHUNK][phi <= 0.0])
            masks.append(
                inside[0] if len(inside) == 1 else torch.cat(inside) if inside else idx[:0]
            )
        volumes = [0 if m is None else len(m) for m in masks]
        lo_clip, hi_clip = self.spec.clip
        image_u8 = image.clamp_(lo_clip, hi_clip).to(torch.uint8)
        labels = self._paint(objects, masks, volumes, shape, dev)
        return Sample(image_u8, labels["shape"], labels, list(objects), volumes)

    def _paint(self, objects, masks, volumes, shape, dev) -> dict[str, torch.Tensor]:
        n_labels = max(len(v) for v in self.task_names().values())
        dtype = getattr(torch, label_dtype(n_labels))
        maps = {k: torch.zeros(shape, dtype=dtype, device=dev) for k in self.task_names()}
        order = sorted(range(len(objects)), key=lambda i: (-volumes[i], i))  # largest first
        for i in order:
            if masks[i] is None or volumes[i] == 0:
                continue
            for task, value in self.label_of(objects[i]).items():
                maps[task].view(-1).index_fill_(0, masks[i], value)  # = value at masks[i]
        return maps

    def sample(self, index: int, shape: Shape3 | None = None, device: Device = "cpu") -> Sample:
        """Sample ``index`` of this recipe."""
        return self.render(self.scene(index), shape, device)

    # ------------------------------------------------------------------ classification
    def classification_sample(
        self, index: int, shape: Shape3 | None = None, device: Device = "cpu"
    ) -> tuple[torch.Tensor, int]:
        """One primitive per volume: (float32 image, z-scored per preset, class index from 0)."""
        gen = self.generator(index)
        cfg = self.spec.classification
        obj = self.draw_object(
            gen, size_scale=cfg.size_scale, translation_scale=0.5 / cfg.size_scale
        )
        s = self.render([obj], shape, device)
        img = s.image.float()
        if cfg.normalize == "zscore":
            img = (img - img.mean()) / img.std().clamp_min(1e-6)
        label = self.label_of(obj)["shape"] - 1
        return img, label
