"""Studio latency: parameter change -> updated slices, and -> updated isosurface.

Two measurements for one primitive at 64³ and 96³ (median and 90th percentile of
``--repeats`` changes of a shape knob):

- ``compute``: the work a change triggers (snapshot, engine field + mapper + label,
  marching cubes), without Qt;
- ``viewer``: end to end in a napari viewer: slider value set -> the Designer's worker
  thread renders -> the Image/Labels layers (then the Surface layer) hold the new data ->
  the canvas has drawn it (slices in 2D, the isosurface in 3D; Mesa's software OpenGL
  under Xvfb). Needs a display (``xvfb-run -a python benchmarks/bench_studio.py``).

Each line carries the 1-minute load average measured when it finished (figures are only
comparable at similar load). ``burst``: a drag of ``--repeats`` changes 16 ms apart (a
60 Hz slider) in the viewer: how many frames were rendered and dropped, and whether the
last frame shown is the last state (intermediate frames are dropped, never queued).

Targets on an idle 2-core CPU at 64³: p90 ≤ 100 ms to slices, ≤ 250 ms to the
isosurface. ``--formula`` also times
the same change with the ridge displacement and the sinusoidal mapper typed as formulas
(``family: expression``), side by side with the built-ins, and prints the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from fdif_studio.model import DesignState
from fdif_studio.model.render import default_device, isosurface, render_volumes, surface_field

PRIMITIVE = "star_6_prism_convex"


RIDGE = "a * (abs(sin(f * x)) + abs(sin(f * y)) + abs(sin(f * z)))"
SINUSOIDAL = "0.5 * peak * (cos(2 * pi * d / w) + 1)"


def configure(s: DesignState, formula: bool = False) -> DesignState:
    s.set_primitive(PRIMITIVE)
    s.set_pose(angles_deg=(25.0, -40.0, 10.0))
    if formula:
        s.set_displacement("expression", {"expr": RIDGE, "a": 0.03, "f": 30.0})
        s.set_mapper("expression", {"expr": SINUSOIDAL, "peak": 128.0, "w": 3.0})
    else:
        s.set_displacement("ridge", {"amplitude": 0.03, "frequency": 30.0})
        s.set_mapper("sinusoidal", {"wavelength": 3.0})
    return s


def radii(n: int) -> list[float]:
    return [0.22 + 0.08 * (i % 2) + 0.001 * i for i in range(n)]


def load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def stats(xs: list[float]) -> str:
    xs = sorted(x * 1e3 for x in xs)
    p90 = xs[min(len(xs) - 1, round(0.9 * (len(xs) - 1)))]
    return f"median {statistics.median(xs):6.1f} ms, p90 {p90:6.1f} ms  (load {load():.1f})"


def bench_compute(
    res: int, repeats: int, device: str, formula: bool = False
) -> tuple[list[float], list[float], list[float]]:
    """Wall seconds to slices and to isosurface, and CPU seconds of the whole change."""
    s = configure(DesignState(), formula)
    render_volumes(s.request(res, device))  # warm-up
    slices, surfaces, cpu = [], [], []
    for r in radii(repeats):
        c0 = time.process_time()
        t0 = time.perf_counter()
        s.set_knob("radius", r)
        req = s.request(res, device)
        vol = render_volumes(req)
        if device != "cpu":
            torch.cuda.synchronize()
        t1 = time.perf_counter()
        isosurface(surface_field(vol), req.recipe.shape)
        t2 = time.perf_counter()
        cpu.append(time.process_time() - c0)
        slices.append(t1 - t0)
        surfaces.append(t2 - t0)
    return slices, surfaces, cpu


def bench_viewer(res: int, repeats: int) -> dict[str, list[float]]:
    """End to end in a viewer: in 2D until the slices are drawn, in 3D until the isosurface
    is drawn (the canvas' draw event after the layer got the new data)."""
    import napari
    from qtpy.QtWidgets import QApplication

    from fdif_studio.panels import Designer, Studio

    viewer = napari.Viewer(show=True)
    studio = Studio(viewer)
    viewer.window.add_dock_widget(studio, name="FDIF Studio", area="right")
    d: Designer = studio.designer
    app = QApplication.instance()
    plot_dock = studio.plots.parentWidget()  # the plots redraw once changes pause (0.4 s):
    plot_dock.hide()  # timed apart below, so a slow change does not also time a redraw
    d._drag_res.value = d._full_res.value = res  # one render per change at this resolution
    configure(d.state)
    d.sync()
    d.request_render(full=True)
    while d.busy:
        app.processEvents()
    marks: dict[str, float] = {}
    original = d._on_result

    def timed(result):
        original(result)  # layers updated in place; the canvas redraws on the next event
        # the first result of a change (a later one, e.g. after the pause check, is not it)
        marks.setdefault("surface" if hasattr(result, "faces") else "slices", time.perf_counter())

    def drawn(_event=None):
        for key in ("slices", "surface"):
            if key in marks and f"{key} drawn" not in marks:
                marks[f"{key} drawn"] = time.perf_counter()

    d.runner.on_result = timed
    viewer.window._qt_viewer.canvas._scene_canvas.events.draw.connect(drawn)
    out: dict[str, list[float]] = {}
    for ndisplay, key in ((2, "slices"), (3, "surface")):
        viewer.dims.ndisplay = ndisplay
        viewer.reset_view()
        for r in radii(repeats):
            marks.clear()
            t0 = time.perf_counter()
            d.shape_widgets["radius"].value = r
            while d.busy or f"{key} drawn" not in marks:
                app.processEvents()
                time.sleep(0.0005)
            out.setdefault(f"{key} in layer", []).append(marks[key] - t0)
            out.setdefault(f"{key} drawn", []).append(marks[f"{key} drawn"] - t0)
    viewer.dims.ndisplay = 2
    frames: list[int] = []
    d.runner.on_result = lambda r: (frames.append(r.version) if hasattr(r, "image") else None,
                                    original(r))  # fmt: skip
    dropped = d.runner.dropped
    for r in radii(repeats):  # a 60 Hz drag: changes 16 ms apart, not waiting for frames
        d.shape_widgets["radius"].value = r + 0.01
        t_next = time.perf_counter() + 0.016
        while time.perf_counter() < t_next:
            app.processEvents()
            time.sleep(0.0005)
    while d.busy:
        app.processEvents()
        time.sleep(0.0005)
    out["burst"] = [float(len(frames)), float(d.runner.dropped - dropped),
                    float(frames[-1] == d.state.version)]  # fmt: skip
    plot_dock.show()
    for _ in range(repeats):
        t0 = time.perf_counter()
        studio.plots.redraw()
        studio.plots.canvas.draw()
        out.setdefault("plots", []).append(time.perf_counter() - t0)
    viewer.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--res", type=int, nargs="+", default=[64, 96])
    ap.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (0: the studio's, cores - 1)"
    )
    ap.add_argument("--device", default=default_device())
    ap.add_argument("--no-viewer", action="store_true", help="skip the napari measurement")
    ap.add_argument("--formula", action="store_true", help="also time the textures as formulas")
    args = ap.parse_args()
    torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) - 1))
    print(
        f"load average {load():.1f}; {PRIMITIVE} + ridge + sinusoidal; device {args.device}; "
        f"torch threads {torch.get_num_threads()}; {os.cpu_count()} CPUs; "
        f"{args.repeats} changes each"
    )
    for res in args.res:
        sl, su, cpu = bench_compute(res, args.repeats, args.device)
        print(f"compute {res:3d}³  slices:     {stats(sl)}")
        print(f"compute {res:3d}³  isosurface: {stats(su)}   (CPU time {stats(cpu)})")
        if args.formula:
            fsl, fsu, fcpu = bench_compute(res, args.repeats, args.device, formula=True)
            print(f"formula {res:3d}³  slices:     {stats(fsl)}")
            print(f"formula {res:3d}³  isosurface: {stats(fsu)}   (CPU time {stats(fcpu)})")
            ratio = statistics.median(fcpu) / statistics.median(cpu)
            print(f"formula / built-in CPU time per change at {res}³: {ratio:.2f}")
    if args.no_viewer or not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return
    for res in args.res:
        out = bench_viewer(res, args.repeats)
        print(f"viewer  {res:3d}³  slices in layers:  {stats(out['slices in layer'])}")
        print(f"viewer  {res:3d}³  slices drawn (2D): {stats(out['slices drawn'])}")
        print(f"viewer  {res:3d}³  surface in layer:  {stats(out['surface in layer'])}")
        print(f"viewer  {res:3d}³  surface drawn (3D): {stats(out['surface drawn'])}")
        print(f"viewer  {res:3d}³  plots redrawn (after a pause): {stats(out['plots'])}")
        frames, dropped, last = out["burst"]
        print(f"viewer  {res:3d}³  burst of {args.repeats} changes 16 ms apart: {frames:.0f} "
              f"frames rendered, {dropped:.0f} requests dropped, last frame = last state: "
              f"{bool(last)}  (load {load():.1f})")  # fmt: skip


if __name__ == "__main__":
    main()
