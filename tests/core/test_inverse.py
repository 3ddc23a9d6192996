"""Streamed sliding window and slab-wise inverse mapping agree with MONAI's whole-volume path."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import torch

from fdif_core.evaluation import inverse
from fdif_core.evaluation.inverse import ArgmaxWriter, axis_maps
from fdif_core.evaluation.sliding import sliding_chunks
from fdif_core.real import load_dataset
from fdif_core.real.preprocess import make_plan, preprocess_case, preprocess_transforms
from fdif_core.real.toy import write_toy_dataset


@pytest.mark.parametrize(
    ("shape", "roi", "overlap"),
    [
        ((2, 20, 17, 23), (8, 8, 8), 0.5),
        ((2, 6, 30, 5), (8, 8, 8), 0.25),
        ((2, 9, 11, 40), (4, 6, 7), 0.5),
    ],
)
def test_sliding_chunks_equal_monai_sliding_window(shape, roi, overlap):
    from monai.inferers import sliding_window_inference

    torch.manual_seed(0)
    net = torch.nn.Conv3d(2, 4, 3, padding=1)
    x = torch.randn(shape)
    with torch.no_grad():
        ref = sliding_window_inference(x[None], roi, 3, net, overlap=overlap, mode="gaussian")[0]
        parts = list(sliding_chunks(x, net, roi, overlap=overlap, sw_batch_size=3))
    starts = [a for a, _ in parts]
    assert starts == sorted(starts) and starts[0] == 0
    ends = [*starts[1:], shape[-1]]
    assert all(a + p.shape[-1] == b for (a, p), b in zip(parts, ends, strict=True))
    torch.testing.assert_close(torch.cat([p for _, p in parts], -1), ref, atol=1e-5, rtol=0)


def test_axis_maps_read_permutation_flip_scale_and_shift():
    src = np.diag([2.0, 1.0, 3.0, 1.0])
    src[:3, 3] = (10, 0, 5)
    dst = np.array([[0, -1.0, 0, 20], [0.5, 0, 0, 4], [0, 0, 3, 5], [0, 0, 0, 1]])
    m = axis_maps(src, dst)
    assert [a.src for a in m] == [1, 0, 2]
    assert (m[0].scale, m[0].offset) == (0.5, 4.0)  # dst axis 0 -> src y: 0.5 i / 1 mm + 4
    assert (m[1].scale, m[1].offset) == (-0.5, 5.0)  # flipped x: (20 - i - 10) / 2
    assert (m[2].scale, m[2].offset) == (1.0, 0.0)
    oblique = dst.copy()
    oblique[0, 0] = 0.3
    with pytest.raises(ValueError, match="oblique"):
        axis_maps(src, oblique)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """A toy case stored LPS at 1.5 x 1.5 x 3 mm, preprocessed to RAS at 1 x 1 x 2 mm with
    a foreground crop (the image is zero outside a box)."""
    root = tmp_path_factory.mktemp("inv")
    ds = load_dataset(write_toy_dataset(root / "ds", num_cases=1))
    c = next(iter(ds.cases.values()))
    img = nib.load(c.images[0])
    data = np.asarray(img.dataobj).astype(np.float32)
    mask = np.zeros_like(data)
    mask[3:20, 2:22, 1:14] = 1
    nib.save(nib.Nifti1Image(data * mask + mask, img.affine), str(c.images[0]))
    plan = make_plan(ds, sorted(ds.cases), normalization="none", crop_foreground=True)
    plan.spacing = (1.0, 1.0, 2.0)
    t = preprocess_transforms(plan, label=False)
    d = preprocess_case(t, {"image": str(c.images[0]), "case": c.id})
    return t, d


def _probs(shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((3, *(max(s // 4, 1) for s in shape)), generator=g)
    x = torch.nn.functional.interpolate(x[None], size=shape, mode="trilinear")[0]
    return torch.softmax(4 * x, 0)


def test_slabwise_argmax_matches_invertd(case):
    """The same labels as MONAI's Invertd of the full probabilities then argmax (the former
    path), fed in slabs of any size."""
    from monai.data import MetaTensor
    from monai.transforms import Invertd

    from fdif_core.real.preprocess import tracking_meta

    t, d = case
    image = d["image"]
    assert tuple(image.shape[1:]) != tuple(image.meta["spatial_shape"])  # resampled + cropped
    probs = _probs(tuple(image.shape[1:]))
    with tracking_meta():
        data = dict(d)
        data["pred"] = MetaTensor(probs, meta=image.meta)
        data["pred"].applied_operations = list(image.applied_operations)
        inv = Invertd("pred", t, orig_keys="image", nearest_interp=False)(data)["pred"]
    expected = torch.argmax(inv.as_tensor(), 0).numpy()
    shape = tuple(int(s) for s in image.meta["spatial_shape"])
    for slab, shortcut in ((1, True), (3, True), (100, True), (3, False)):
        w = ArgmaxWriter(tuple(image.shape[1:]), np.asarray(image.affine),
                         shape, np.asarray(image.meta["original_affine"]))  # fmt: skip
        w.shortcut = shortcut  # False: every voxel interpolated
        for a in range(0, probs.shape[-1], slab):
            w.add(a, probs[..., a : a + slab])
        got = w.result()
        assert got.shape == expected.shape
        assert (got != expected).sum() <= got.size // 1000  # 0 here; float ties aside
        assert (got[expected == 0] == 0).mean() > 0.999  # outside the crop: background


def test_writer_refuses_missing_slabs(case):
    _, d = case
    image = d["image"]
    w = ArgmaxWriter(tuple(image.shape[1:]), np.asarray(image.affine),
                     tuple(int(s) for s in image.meta["spatial_shape"]),
                     np.asarray(image.meta["original_affine"]))  # fmt: skip
    w.add(0, _probs(tuple(image.shape[1:]))[..., :2])
    with pytest.raises(RuntimeError, match="never received"):
        w.result()


def _dense_labels(probs: np.ndarray, src_to_dst: np.ndarray, dst_shape) -> tuple[np.ndarray, ...]:
    """Trilinear interpolation of every channel at every original voxel (zeros outside the
    preprocessed grid, scipy's ``grid-constant``), its argmax, its top-two margin (inf
    where all channels are 0: outside the grid, label 0) and the interpolated values."""
    from scipy import ndimage

    q = np.linalg.inv(src_to_dst) @ np.vstack(
        [np.indices(dst_shape).reshape(3, -1), np.ones((1, int(np.prod(dst_shape))))]
    )
    dense = np.stack(
        [ndimage.map_coordinates(p, q[:3], order=1, mode="grid-constant", cval=0.0)
         for p in probs.astype(np.float64)]
    )  # fmt: skip
    top = np.sort(dense, 0)
    margin = np.where(top[-1] > 0, top[-1] - top[-2], np.inf)
    dense = dense.reshape(-1, *dst_shape)
    return dense.argmax(0), margin.reshape(dst_shape), dense


@pytest.mark.parametrize(
    ("dense_share", "slab_bytes", "work_bytes"),
    [(0.25, None, None), (0.0, None, None), (2.0, None, None), (0.0, 3000, None),
     (2.0, 3000, None), (0.0, None, 3000)],
)  # fmt: skip
@pytest.mark.parametrize("seed", range(8))
def test_writer_equals_dense_interpolation_and_argmax(
    seed, dense_share, slab_bytes, work_bytes, monkeypatch
):
    """Random probabilities (smooth regions or pure noise), permuted, flipped, anisotropic
    grids, crops inside the original image and grids reaching past it, any slab size: the
    labels are the argmax of a dense trilinear interpolation wherever its top two
    probabilities differ by more than float rounding; whichever way the voxels that need
    interpolation are done (``dense_share`` 0: whole slices, 2: voxel by voxel) and however
    small the batches (``SLAB_BYTES``) and the blocks and bands of the whole-slice path
    (``WORK_BYTES``, ``BAND``: many of each)."""
    if slab_bytes is not None:
        monkeypatch.setattr(inverse, "SLAB_BYTES", slab_bytes)
    if work_bytes is not None:
        monkeypatch.setattr(inverse, "WORK_BYTES", work_bytes)
        monkeypatch.setattr(inverse, "BAND", 3)
    rng = np.random.default_rng(seed)
    c = int(rng.integers(2, 7))
    src_shape, src_affine, dst_shape, dst_affine, m = _random_grids(
        rng, (6, 24), (0.45, 0.7, 1.0, 1.5, 2.0, 3.0), 1.2
    )
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn((c, *src_shape), generator=g)
    if seed % 2:  # smooth regions (boundaries are rare) rather than noise (all boundary)
        small = torch.randn((c, *(max(s // 3, 1) for s in src_shape)), generator=g)
        logits = torch.nn.functional.interpolate(small[None], size=src_shape, mode="trilinear")[0]
    probs = torch.softmax(3 * logits, 0)
    expected, margin, _ = _dense_labels(probs.numpy(), m, dst_shape)
    for slab in (1, int(rng.integers(2, 6)), src_shape[2]):
        w = ArgmaxWriter(src_shape, src_affine, dst_shape, dst_affine)
        w.dense_share = dense_share
        for a in range(0, src_shape[2], slab):
            w.add(a, probs[..., a : a + slab].contiguous())
        got = w.result()
        sure = margin > 1e-5
        assert sure.mean() > 0.9
        np.testing.assert_array_equal(got[sure], expected[sure])


def _random_grids(
    rng: np.random.Generator,
    sizes: tuple[int, int] = (5, 20),
    scales: tuple[float, ...] = (0.4, 0.7, 0.77, 1.0, 1.3, 2.0, 2.5),
    stretch: float = 1.3,
):
    """Random original / preprocessed grids: axis permutation, flips, anisotropic scales,
    crops inside the original image and grids reaching past it. Returns the shapes, the
    affines and the index map (original index = m @ preprocessed index)."""
    dst_shape = tuple(int(s) for s in rng.integers(*sizes, 3))
    perm = rng.permutation(3)
    scale = rng.choice(list(scales), 3) * rng.choice([-1, 1], 3)
    src_shape = tuple(
        max(2, int(dst_shape[perm[t]] / abs(scale[t]) * rng.uniform(0.5, stretch)))
        for t in range(3)
    )
    m = np.zeros((4, 4))
    m[3, 3] = 1
    for t in range(3):
        extent = abs(scale[t]) * (src_shape[t] - 1)
        lo = rng.uniform(-0.3 * extent, dst_shape[perm[t]] - 0.7 * extent)
        m[perm[t], t] = scale[t]
        m[perm[t], 3] = lo if scale[t] > 0 else lo + extent
    dst_affine = np.diag([*rng.uniform(0.5, 3, 3) * rng.choice([-1, 1], 3), 1.0])
    dst_affine[:3, 3] = rng.uniform(-100, 100, 3)
    return src_shape, dst_affine @ m, dst_shape, dst_affine, m


@pytest.mark.parametrize("seed", range(12))
def test_writer_on_speckled_near_ties_picks_a_maximum(seed, monkeypatch):
    """Speckled labels turned into probabilities with only two or three distinct values per
    voxel (an untrained network's noise, the worst case: most voxels' corners disagree,
    and many interpolated values tie exactly): every voxel's label is a maximum of the
    dense float64 interpolation up to float rounding (1e-6), and the first maximum wherever
    the top two differ by more than 1e-5; small blocks and bands, any slab size."""
    rng = np.random.default_rng(100 + seed)
    monkeypatch.setattr(inverse, "WORK_BYTES", int(rng.choice([2000, 20000, 2**24])))
    monkeypatch.setattr(inverse, "BAND", int(rng.choice([1, 2, 5, 32])))
    src_shape, src_affine, dst_shape, dst_affine, m = _random_grids(rng)
    c = int(rng.integers(2, 15))
    g = torch.Generator().manual_seed(seed)
    lab = torch.randint(0, c, src_shape, generator=g)
    keep = torch.rand(src_shape, generator=g) < rng.uniform(0, 0.5)  # some smooth runs
    lab = torch.where(keep, torch.zeros_like(lab), lab)
    onehot = torch.nn.functional.one_hot(lab, c).permute(3, 0, 1, 2).float()
    second = torch.nn.functional.one_hot(torch.randint(0, c, src_shape, generator=g), c)
    logits = 4 * onehot + float(rng.choice([0, 2])) * second.permute(3, 0, 1, 2).float()
    probs = torch.softmax(logits, 0).contiguous()
    expected, margin, dense = _dense_labels(probs.numpy(), m, dst_shape)
    slab = int(rng.integers(1, src_shape[2] + 1))
    w = ArgmaxWriter(src_shape, src_affine, dst_shape, dst_affine)
    w.dense_share = float(rng.choice([0.0, 0.25]))
    for a in range(0, src_shape[2], slab):
        w.add(a, probs[..., a : a + slab].contiguous())
    got = w.result()
    picked = np.take_along_axis(dense, got[None].astype(np.int64), 0)[0]
    np.testing.assert_array_less(dense.max(0) - picked, 1e-6)
    sure = margin > 1e-5
    np.testing.assert_array_equal(got[sure], expected[sure])
    assert (got == expected).mean() > 0.99


def test_first_max_equals_torch_max_with_ties():
    """The writer's argmax over channels is torch's first maximum, ties included."""
    g = torch.Generator().manual_seed(0)
    for c in (1, 2, 14, 300):
        x = torch.randint(0, 3, (c, 5, 7, 4), generator=g).float()  # many ties
        first = inverse._FirstMax(c, 5 * 7 * 4 + 3)  # buffers larger than needed
        np.testing.assert_array_equal(first(x), torch.max(x, 0).indices.numpy())
        strided = torch.randint(0, 3, (c, 5, 7, 9), generator=g).float()[..., 2:6]
        np.testing.assert_array_equal(first(strided), torch.max(strided, 0).indices.numpy())


def test_writer_takes_half_precision_probabilities():
    """bf16 probabilities (an autocast forward pass) are mapped as their float32 values."""
    rng = np.random.default_rng(7)
    src_shape, src_affine, dst_shape, dst_affine, _ = _random_grids(rng)
    g = torch.Generator().manual_seed(7)
    probs = torch.softmax(torch.randn((5, *src_shape), generator=g), 0).bfloat16()
    labels = []
    for p in (probs, probs.float()):
        w = ArgmaxWriter(src_shape, src_affine, dst_shape, dst_affine)
        w.add(0, p)
        labels.append(w.result())
    np.testing.assert_array_equal(labels[0], labels[1])
