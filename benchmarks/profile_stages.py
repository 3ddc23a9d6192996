"""Per-stage CPU time of the engine (docs/profile.md): each stage's functions are wrapped and
timed in process CPU time, exclusive of the stages they call; one thread.

    python benchmarks/profile_stages.py fdif-paper 8     # preset, volumes
"""

import functools
import os
import sys
import tempfile
import time

import nibabel as nib
import numpy as np
import torch

import fdif_core.engine.compose as C
import fdif_core.engine.grid as Gr
import fdif_core.engine.pose as P
import fdif_core.engine.sdf.geometry as Gm
import fdif_core.engine.sdf.library as L
import fdif_core.engine.sdf.ops as O
import fdif_core.engine.sdf.sections as S
import fdif_core.engine.textures.displacements as D
import fdif_core.engine.textures.mappers as M
from fdif_core.presets import load_preset

acc = {}
stack = []
clock = time.process_time


def wrap(mod, attr, stage, cls=None):
    tgt = cls or mod
    fn = getattr(tgt, attr)

    @functools.wraps(fn)
    def w(*a, **k):
        t0 = clock()
        stack.append(0.0)
        try:
            return fn(*a, **k)
        finally:
            dt = clock() - t0
            child = stack.pop()
            acc[stage] = acc.get(stage, 0.0) + dt - child
            if stack:
                stack[-1] += dt

    setattr(tgt, attr, w)
    return w


wrap(C, "sample_pose", "sampling (params, pose)")
wrap(L, "sample_params", "sampling (params, pose)")
wrap(L, "authors_thickness", "onion minima (authors' thickness)")
wrap(L, "depth", "onion depth (exact geometry)")
wrap(C.Recipe, "voxels", "culling (boxes, block bounds)", None)
wrap(Gr, "block_voxels", "voxel lists (block -> points)")
wrap(C.grid, "block_voxels", "voxel lists (block -> points)")
wrap(P.Pose, "to_object", "pose (world -> object)")
for f in ("polygon", "star", "circle", "ellipse"):
    wrap(S, f, "section fields (2D)")
wrap(O, "profile_scale", "profiles (scale s(z))")
wrap(O, "scaled_section", "profiles (s d2(q/s))")
wrap(O, "extrude", "extrusion / onion / solids")
wrap(O, "onion", "extrusion / onion / solids")
wrap(O, "revolve", "extrusion / onion / solids")
wrap(O, "octahedron", "extrusion / onion / solids")
wrap(O, "octahedron_bound", "extrusion / onion / solids")
wrap(O, "profiled_extrude", "extrusion / onion / solids")
wrap(Gm, "evaluate", "extrusion / onion / solids")
wrap(C, "evaluate", "extrusion / onion / solids")
wrap(D.Displacement, "__call__", "displacement", None)
wrap(M.Mapper, "__call__", "mappers", None)
wrap(C.Recipe, "field", "field glue (coords, disp frame)", None)
wrap(C.Recipe, "_paint", "label composition (paint)", None)
wrap(C.Recipe, "render", "render loop (index_add, masks, clip)", None)
torch.set_num_threads(1)
name = sys.argv[1]
n = int(sys.argv[2])
r = load_preset(name).recipe()
r.render(r.scene(10**6)[:2])
acc.clear()
t0 = clock()
for i in range(n):
    s = r.render(r.scene(i))
total = clock() - t0
# NIfTI writing


d = tempfile.mkdtemp()
t1 = clock()
for i in range(n):
    img = nib.Nifti1Image(s.image.numpy(), np.eye(4))
    nib.save(img, os.path.join(d, f"i{i}.nii.gz"))
    img = nib.Nifti1Image(s.label.numpy(), np.eye(4))
    nib.save(img, os.path.join(d, f"l{i}.nii.gz"))
acc["NIfTI writing (gzip, image+label)"] = clock() - t1
print(
    f"{name}: {1000 * total / n:.0f} ms/volume render+sampling (process CPU, 1 thread, {n} volumes)"
)
for k, v in sorted(acc.items(), key=lambda kv: -kv[1]):
    print(f"| {k} | {1000 * v / n:.1f} | {100 * v / total:.0f} % |")
