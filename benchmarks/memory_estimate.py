"""Training memory per network and patch, counted without a GPU.

    python benchmarks/memory_estimate.py                    # the table of docs/gpu.md
    python benchmarks/memory_estimate.py --patch 128 128 128 --crops 2

For each network (110 output channels, the paper presets' kwargs): parameters; the training
state (fp32 weights + gradients + AdamW's two moments = 16 bytes a parameter; SGD with
momentum: 12); and the activations one crop saves for its backward pass in fp32, counted
with ``torch.autograd.graph.saved_tensors_hooks`` during a forward on PyTorch's ``meta``
device (shapes only, no compute; views are counted as whole tensors, so it is an upper
bound). ``--check`` also counts a real CPU forward at a small patch and prints both: they
agree when the meta count is right.
"""

from __future__ import annotations

import argparse

import torch

MODELS = {
    "swinunetr": ("fdif-paper", {}),
    "resenc_l": ("fdif-paper-resencl", {}),
    "primus_m": ("fdif-paper-primus", {}),
}


def saved_bytes(net: torch.nn.Module, x: torch.Tensor) -> int:
    """Bytes of the tensors autograd saves for backward in one forward of ``x``."""
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = net(x)
    total += out.numel() * out.element_size()
    return total


def build(name: str, patch: tuple[int, int, int], classes: int = 110) -> torch.nn.Module:
    from fdif_core.networks import build_network
    from fdif_core.presets import load_preset

    cfg = load_preset(MODELS[name][0]).pretrain
    with torch.random.fork_rng():
        return build_network(name, classes, patch, cfg.model_kwargs)


def row(name: str, patch: tuple[int, int, int], crops: int) -> dict:
    net = build(name, patch).to("meta").train()
    params = sum(p.numel() for p in net.parameters())
    x = torch.zeros(1, 1, *patch, device="meta", requires_grad=False)
    act = saved_bytes(net, x)
    opt = "sgd" if name == "resenc_l" else "adamw"
    state = params * (12 if opt == "sgd" else 16)
    return {
        "model": name,
        "patch": "x".join(map(str, patch)),
        "params_M": params / 1e6,
        "state_GiB": state / 2**30,
        "optimizer": opt,
        "act_GiB_per_crop": act / 2**30,
        "total_GiB": (state + crops * act) / 2**30,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patch", type=int, nargs=3, action="append", help="patch (repeatable)")
    ap.add_argument("--crops", type=int, default=4, help="crops per step (paper: 4)")
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--check", action="store_true", help="meta count vs a CPU forward at 32³")
    args = ap.parse_args()
    patches = [tuple(p) for p in (args.patch or [(96, 96, 96), (128, 128, 128)])]
    print(f"| network | patch | parameters | weights + grads + optimiser | activations per crop "
          f"(fp32) | {args.crops} crops, total |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for name in args.models:
        for patch in patches:
            if name == "swinunetr" and any(p % 32 for p in patch):
                continue
            r = row(name, patch, args.crops)
            print(f"| {name} | {r['patch']} | {r['params_M']:.1f} M | {r['state_GiB']:.2f} GiB "
                  f"({r['optimizer']}) | {r['act_GiB_per_crop']:.2f} GiB | "
                  f"{r['total_GiB']:.1f} GiB |")  # fmt: skip
    if args.check:
        for name in args.models:
            patch = (64, 64, 64) if name == "swinunetr" else (32, 32, 32)
            meta = saved_bytes(
                build(name, patch).to("meta"), torch.zeros(1, 1, *patch, device="meta")
            )
            cpu = saved_bytes(build(name, patch), torch.zeros(1, 1, *patch))
            print(f"check {name} {patch}: meta {meta / 2**20:.1f} MiB, CPU {cpu / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
