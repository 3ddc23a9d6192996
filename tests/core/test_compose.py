"""Algorithm 1: determinism, culling exactness, label painting, label modes, variants."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from fdif_core.engine.compose import ObjectSpec, sample_seed
from fdif_core.engine.pose import Pose
from fdif_core.engine.sdf.library import FDIF_CLASSES
from fdif_core.presets import Preset, load_preset, parse_preset


def small(**over) -> Preset:
    base = {"volume": {"shape": [32, 32, 32]}, "objects": {"per_volume": 6}, "seed": 7}
    base.update(over)
    return parse_preset(base)


def test_sample_is_a_pure_function_of_preset_and_index() -> None:
    r1, r2 = small().recipe(), small().recipe()
    a = [r1.sample(i) for i in (3, 1, 2)]
    b = {i: r2.sample(i) for i in (1, 2, 3)}
    for s, i in zip(a, (3, 1, 2), strict=True):
        assert torch.equal(s.image, b[i].image) and torch.equal(s.label, b[i].label)
    assert not torch.equal(b[1].image, b[2].image)
    assert sample_seed(7, 1) != sample_seed(8, 1) != sample_seed(7, 2)
    other = small(seed=8).recipe().sample(1)
    assert not torch.equal(other.image, b[1].image)


@pytest.mark.parametrize("preset", ["fdif-paper", "fdif-exact", "primgeoseg"])
def test_culled_render_equals_full_grid(preset: str) -> None:
    r = load_preset(preset).recipe()
    for i in range(2):
        objs = r.scene(i)[:8]
        a, b = r.render(objs, (40, 40, 40)), r.render(objs, (40, 40, 40), full_grid=True)
        assert torch.equal(a.image, b.image)
        assert torch.equal(a.label, b.label)
        assert a.volumes == b.volumes


def test_unrotated_exact_profiled_onions_are_not_clipped_by_their_box() -> None:
    """An exact profiled onion's shell reaches t x L across the axis (the field is divided
    by the profile's Lipschitz constant L): an unrotated one, whose box is its world box,
    renders the same culled as on the full grid (the box once missed t (L - 1))."""
    r = load_preset("fdif-exact").recipe()
    gen = torch.Generator().manual_seed(0)
    for name in ("polygon_4_prism_concave_onion", "star_8_prism_convex_onion"):
        for _ in range(8):
            obj = r.draw_object(gen, primitive=name)
            obj = dataclasses.replace(obj, pose=Pose.identity(), displacement=-1)
            a, b = r.render([obj], (48, 48, 48)), r.render([obj], (48, 48, 48), full_grid=True)
            assert torch.equal(a.image, b.image) and torch.equal(a.label, b.label)


@pytest.mark.parametrize("shape", [(37, 42, 45), (33, 40, 41)])
def test_culled_render_equals_full_grid_at_odd_shapes(shape: tuple[int, int, int]) -> None:
    """Partial blocks and sub-blocks at the far faces: the same voxels, the same values."""
    r = load_preset("fdif-paper").recipe()
    objs = r.scene(3)[:10]
    a, b = r.render(objs, shape), r.render(objs, shape, full_grid=True)
    assert torch.equal(a.image, b.image) and torch.equal(a.label, b.label)
    assert a.volumes == b.volumes and sum(a.volumes) > 0


@pytest.mark.parametrize("preset", ["fdif-paper", "fdif-exact"])
def test_culled_render_equals_full_grid_for_every_displacement(preset: str) -> None:
    """Culling bounds Δ per block (its value at the block centre and its Lipschitz
    constant) where the family has one: every displacement, world (fdif-paper) and object
    space (fdif-exact), negative amplitudes (one-sided families then move the surface
    outwards) included, renders the same voxels culled as on the full grid."""
    from fdif_core.engine.textures.displacements import DISPLACEMENTS, Displacement

    r = load_preset(preset).recipe()
    extra = [Displacement("neg_" + f, f, {"amplitude": -0.05}) for f in ("ridge", "sharp_max")]
    r.displacements = [DISPLACEMENTS.get(n) for n in DISPLACEMENTS.names] + extra
    for k in range(len(r.displacements)):
        objs = [dataclasses.replace(o, displacement=k) for o in r.scene(k)[:5]]
        a, b = r.render(objs, (37, 40, 43)), r.render(objs, (37, 40, 43), full_grid=True)
        assert torch.equal(a.image, b.image) and torch.equal(a.label, b.label), r.displacements[k]
        assert a.volumes == b.volumes and sum(a.volumes) > 0


def test_image_and_label_types_and_ranges() -> None:
    r = load_preset("fdif-paper").recipe()
    s = r.sample(0)
    assert s.image.dtype == torch.uint8 and s.image.shape == (96, 96, 96)
    assert int(s.image.max()) <= 128 and int(s.image.max()) > 0
    assert s.label.dtype == torch.uint8 and int(s.label.max()) <= 109
    assert len(r.label_names) == 110 and r.label_names[0] == "background"


def sphere(radius: float, x: float, mapper: int = 0, name: str = "sphere") -> ObjectSpec:
    pose = Pose.build((x, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0))
    return ObjectSpec(name, {"radius": radius}, pose, mapper, -1)


def test_smaller_objects_win_overlaps_and_intensities_add() -> None:
    preset = small(
        classes={"include": ["sphere", "octahedron"]},
        mappers={
            "enabled": ["flat_128", {"name": "half", "family": "constant", "params": {"value": 50}}]
        },
    )
    r = preset.recipe()
    big = sphere(10.0, 0.0, mapper=1)
    little = ObjectSpec(
        "octahedron", {"size": 5.0}, Pose.build((4.0, 0, 0), (0, 0, 0), (0, 0, 0)), 1, -1
    )
    for order in ([big, little], [little, big]):
        s = r.render(order)
        centre = (16 + 4, 16, 16)  # voxel nearest (4.5, 0.5, 0.5)
        assert s.label[centre] == r.label_names.index("octahedron")
        assert s.label[16 - 8, 16, 16] == r.label_names.index("sphere")
        assert s.image[centre] == 100  # 50 + 50
        assert s.image[16 - 8, 16, 16] == 50
    clipped = r.render([sphere(10.0, 0.0, 0), sphere(10.0, 0.0, 0)])
    assert clipped.image[16, 16, 16] == 128  # 256 clipped to 128


def test_resolution_independence() -> None:
    r = small().recipe()
    hi = r.sample(4, (64, 64, 64)).label
    lo = r.sample(4, (32, 32, 32)).label
    down = hi[::2, ::2, ::2]
    assert (down == lo).float().mean() > 0.9


def test_label_mode_classes_and_multitask() -> None:
    combo = small(
        labels={"mode": "classes", "combine": ["mapper", "displacement"]},
        classes={"include": ["basic"]},
    ).recipe()
    n_maps, n_disp = len(combo.mappers), len(combo.displacements) + 1
    assert len(combo.label_names) == 1 + 8 * n_maps * n_disp
    s = combo.sample(0)
    for obj in s.objects:
        name = combo.label_names[combo.label_of(obj)["shape"]]
        disp = combo.displacements[obj.displacement].name if obj.displacement >= 0 else "none"
        assert name == f"{obj.primitive}+{combo.mappers[obj.mapper].name}+{disp}"
    multi = small(labels={"mode": "multitask"}).recipe()
    s = multi.sample(0)
    assert set(s.labels) == {"shape", "displacement", "mapper"}
    inside = s.labels["shape"] > 0
    assert torch.equal(inside, s.labels["mapper"] > 0) and torch.equal(
        inside, s.labels["displacement"] > 0
    )
    assert int(s.labels["mapper"].max()) <= len(multi.mappers)


def test_classification_variant() -> None:
    r = small().recipe()
    img, cls = r.classification_sample(3)
    assert img.dtype == torch.float32 and abs(img.mean().item()) < 1e-4
    assert img.std().item() == pytest.approx(1.0, abs=1e-3)
    assert 0 <= cls < len(r.classes)
    img2, cls2 = r.classification_sample(3)
    assert torch.equal(img, img2) and cls == cls2


@pytest.mark.parametrize("chunk", range(4))
def test_every_class_is_visible_at_96(chunk: int) -> None:
    """Each class's geometry (no displacement, which may erode thin shells) shows up."""
    r = parse_preset({"displacements": {"enabled": []}}).recipe()
    for name in FDIF_CLASSES[chunk::4]:
        for index in range(2):
            obj = r.draw_object(r.generator(1000 + index), primitive=name)
            s = r.render([obj])
            assert s.volumes[0] >= 200, (name, index, s.volumes)
            assert int(s.image.max()) > 0


def test_voxel_buffers_equal_the_allocating_path() -> None:
    """``out=`` (one preallocated buffer) lists the same voxels, bit for bit, in the same order."""
    from fdif_core.engine import grid

    shape, ref, gen = (16, 20, 24), (32, 32, 32), torch.Generator().manual_seed(0)
    starts = torch.stack([torch.randint(0, n // 4, (9,), generator=gen) * 4 for n in shape], dim=1)
    keep = torch.rand(9, 8, generator=gen) < 0.5
    whole = grid.block_voxels(starts, 4, shape, ref)
    part = grid.sub_block_voxels(starts, keep, 4, shape, ref)
    n, m = len(whole[0]), len(part[0])
    assert n == 9 * 64 and m == int(keep.sum()) * 8
    idx, pts = torch.full((n + m,), -1), torch.full((n + m, 3), float("nan"))
    grid.block_voxels(starts, 4, shape, ref, out=(idx[:n], pts[:n]))
    grid.sub_block_voxels(starts, keep, 4, shape, ref, out=(idx[n:], pts[n:]))
    assert torch.equal(idx, torch.cat([whole[0], part[0]]))
    assert torch.equal(pts, torch.cat([whole[1], part[1]]))
