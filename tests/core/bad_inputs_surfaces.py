"""Bad inputs of the surfaces added after the first corpus (issue 21), by class.

Output paths (every command that writes), untrusted JSON (nnU-Net plans, ``dataset.json``,
splits, manifests, journals, run files), identifiers that become file names, ranges
before start (report, study, formulas, patch vs volume), datasets with special files, and
the study spec. Each is a :class:`~tests.core.bad_inputs.Bad` run by
``tests/core/test_bad_inputs.py`` like the rest of the corpus: exit 2, one line, nothing
changed, bounded memory and time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from .bad_inputs import (
    PRETRAIN,
    TINY,
    Bad,
    Setup,
    fifo,
    folder,
    merged,
    nnunet_toy,
    ok_ckpt,
    preset_file,
    run_folder,
    sparse,
    symlink,
    toy,
    write,
)

PLANS = "Dataset990_Toy/nnUNetResEncUNetLPlans.json"
DSJ = "Dataset990_Toy/dataset.json"
PT = ("pretrain", "--preset", "{ws}/pt.yaml", "--out", "{ws}/run", "--no-progress")
NN = (*PT, "--nnunet-plans", "{ws}/" + PLANS)
EXPORT = ("export-weights", "{ws}/run", "--dataset", "{ws}/Dataset990_Toy",
          "--plans", "nnUNetResEncUNetLPlans")  # fmt: skip
REPORT = ("report", "{ws}/run")
FT = ("finetune", "--dataset", "{ws}/ds", "--scratch", "--out", "{ws}/run", "--max-steps", "1",
      "--no-progress", "--preset", "quick")  # fmt: skip
HUGE_INT = "9" * 351


def pt_preset(ws: Path) -> None:
    preset_file({"pretrain": PRETRAIN}, name="pt.yaml")(ws)


def text_edit(rel: str, change: Callable[[str], str]) -> Setup:
    """Rewrite a workspace text file with ``change(text)``."""

    def setup(ws: Path) -> None:
        p = ws / rel
        p.write_text(change(p.read_text()))

    return setup


def json_edit(rel: str, change: Callable[[Any], Any]) -> Setup:
    def setup(ws: Path) -> None:
        p = ws / rel
        p.write_text(json.dumps(change(json.loads(p.read_text()))))

    return setup


def arch(change: Callable[[dict[str, Any]], None]) -> Setup:
    """Edit the 3d_fullres architecture of the toy plans."""

    def edit(plans: dict[str, Any]) -> dict[str, Any]:
        change(plans["configurations"]["3d_fullres"]["architecture"])
        return plans

    return json_edit(PLANS, edit)


def config(key: str, value: Any) -> Setup:
    def edit(plans: dict[str, Any]) -> dict[str, Any]:
        plans["configurations"]["3d_fullres"][key] = value
        return plans

    return json_edit(PLANS, edit)


def replace_file(rel: str, setup_new: Setup) -> Setup:
    def setup(ws: Path) -> None:
        (ws / rel).unlink()
        setup_new(ws)

    return setup


def deep(n: int = 5000) -> str:
    return '{"a": ' * n + "1" + "}" * n


# ---------------------------------------------------------------- untrusted JSON, by reader
JSON_BAD: list[tuple[str, Callable[[str], Setup], tuple[str, ...]]] = [
    ("nan", lambda r: text_edit(r, lambda t: t.replace("{", '{"x": NaN, ', 1)), ("non-finite number NaN",)),
    ("infinity", lambda r: text_edit(r, lambda t: t.replace("{", '{"x": Infinity, ', 1)), ("non-finite number Infinity",)),
    ("neg-infinity", lambda r: text_edit(r, lambda t: t.replace("{", '{"x": -Infinity, ', 1)), ("non-finite number -Infinity",)),
    ("float-overflow", lambda r: text_edit(r, lambda t: t.replace("{", '{"x": 1e999, ', 1)), ("1e999", "not finite")),
    ("huge-int", lambda r: text_edit(r, lambda t: t.replace("{", '{"x": ' + HUGE_INT + ", ", 1)), ("351 digits",)),
    ("deep", lambda r: write(r, deep()), ("nested 5000 levels",)),
    ("deep-list", lambda r: write(r, "[" * 100_000 + "]" * 100_000), ("nested 100000 levels",)),
    ("list", lambda r: write(r, "[]"), ("JSON object is expected", "got list")),
    ("string", lambda r: write(r, '"plans"'), ("JSON object is expected", "got str")),
    ("null", lambda r: write(r, "null"), ("JSON object is expected", "got NoneType")),
    ("invalid", lambda r: write(r, "{plans: 1"), ("not valid JSON",)),
    ("empty", lambda r: write(r, ""), ("not valid JSON",)),
    ("utf16", lambda r: write(r, '{"a": 1}'.encode("utf-16")), ("not UTF-8",)),
    ("dev-zero", lambda r: replace_file(r, symlink(r, "/dev/zero")), ("character device",)),
    ("fifo", lambda r: replace_file(r, fifo(r)), ("FIFO",)),
    ("folder", lambda r: replace_file(r, folder(r)), ("a folder",)),
    ("sparse-huge", lambda r: replace_file(r, sparse(r, 1 << 34)), ("bytes", "at most 67,108,864")),
]  # fmt: skip


def _plans() -> list[Bad]:
    out = []
    T = nnunet_toy()
    for name, make, expect in JSON_BAD:  # the plans file of --nnunet-plans
        out.append(Bad(f"nnunet-plans/plans-{name}", NN, ("nnUNetResEncUNetLPlans.json", *expect),
                       (pt_preset, T, make(PLANS))))  # fmt: skip
    for name, make, expect in JSON_BAD[:6] + JSON_BAD[7:9] + JSON_BAD[13:15]:  # dataset.json
        out.append(Bad(f"nnunet-plans/dataset-json-{name}", NN, ("dataset.json", *expect),
                       (pt_preset, T, make(DSJ))))  # fmt: skip
    for name, make, expect in JSON_BAD[:3] + JSON_BAD[5:8] + JSON_BAD[13:15]:  # export's plans
        out.append(Bad(f"export/plans-{name}", EXPORT, ("nnUNetResEncUNetLPlans.json", *expect),
                       (run_folder(), T, make(PLANS))))  # fmt: skip
    classes = [
        ("class-os-system", arch(lambda a: a.update(network_class_name="os.system")), ("'os.system'", "refused before import")),
        ("class-subprocess", arch(lambda a: a.update(network_class_name="subprocess.Popen")), ("'subprocess.Popen'", "not an allowed architecture")),
        ("class-builtins-exec", arch(lambda a: a.update(network_class_name="builtins.exec")), ("'builtins.exec'",)),
        ("class-pathlib", arch(lambda a: a.update(network_class_name="pathlib.Path")), ("'pathlib.Path'",)),
        ("class-dna-module", arch(lambda a: a.update(network_class_name="dynamic_network_architectures.architectures.unet.torch")), ("not an allowed architecture",)),
        ("class-not-text", arch(lambda a: a.update(network_class_name=5)), ("'5'", "not an allowed architecture")),
        ("conv-op-os-system", arch(lambda a: a["arch_kwargs"].update(conv_op="os.system")), ("arch_kwargs.conv_op", "'os.system'", "refused before import")),
        ("nonlin-torch-load", arch(lambda a: a["arch_kwargs"].update(nonlin="torch.load")), ("arch_kwargs.nonlin", "'torch.load'")),
        ("norm-op-eval", arch(lambda a: a["arch_kwargs"].update(norm_op="builtins.eval")), ("arch_kwargs.norm_op",)),
        ("extra-import", arch(lambda a: (a["_kw_requires_import"].append("conv_bias"), a["arch_kwargs"].update(conv_bias="os.remove"))), ("arch_kwargs.conv_bias", "'os.remove'")),
        ("arch-not-mapping", config("architecture", [1, 2]), ("architecture", "mapping")),
        ("no-configurations", json_edit(PLANS, lambda p: {k: v for k, v in p.items() if k != "configurations"}), ("no 'configurations'",)),
        ("configurations-list", json_edit(PLANS, lambda p: {**p, "configurations": [1]}), ("no 'configurations'",)),
        ("patch-text", config("patch_size", ["a", 64, 64]), ("nnUNetResEncUNetLPlans.json",)),
        ("patch-huge", config("patch_size", [3000, 3000, 3000]), ("patch_size", "limits.max_voxels")),
        ("patch-zero", config("patch_size", [0, 64, 64]), ("patch_size", "1..4096")),
        ("spacing-negative", config("spacing", [-1.0, 1.0, 1.0]), ("spacing", "[1e-06, 1e+06]")),
        ("spacing-zero", config("spacing", [0, 1.0, 1.0]), ("spacing", "[1e-06, 1e+06]")),
        ("spacing-huge", config("spacing", [1e300, 1.0, 1.0]), ("spacing", "[1e-06, 1e+06]")),
    ]  # fmt: skip
    for name, setup, expect in classes:
        out.append(Bad(f"nnunet-plans/{name}", NN, expect, (pt_preset, T, setup)))
    out += [
        Bad("nnunet-plans/trainer-dotted", (*NN, "--nnunet-trainer", "os.system"), ("--nnunet-trainer", "'os.system'", "not a trainer class name"), (pt_preset, T)),
        Bad("nnunet-plans/trainer-path", (*NN, "--nnunet-trainer", "../x"), ("--nnunet-trainer", "'../x'"), (pt_preset, T)),
        Bad("nnunet-plans/missing", (*PT, "--nnunet-plans", "{ws}/none.json"), ("none.json", "no such"), (pt_preset,)),
        Bad("nnunet-plans/dataset-json-missing", NN, ("dataset.json", "missing"), (pt_preset, T, lambda ws: (ws / DSJ).unlink())),
        Bad("nnunet-plans/dev-zero", (*PT, "--nnunet-plans", "/dev/zero"), ("/dev/zero", "character device"), (pt_preset,)),
        Bad("export/class-os-system", EXPORT, ("'os.system'", "refused before import"), (run_folder(), T, arch(lambda a: a.update(network_class_name="os.system")))),
        Bad("export/dataset-json-list", EXPORT, ("dataset.json", "JSON object is expected"), (run_folder(), T, write(DSJ, "[]"))),
    ]  # fmt: skip
    return out


# ---------------------------------------------------------------- identifiers, outputs
def _export() -> list[Bad]:
    T = nnunet_toy()
    R = (run_folder(), T)
    names = [("dotdot", "../../../x"), ("slash", "a/b"), ("dot", ".hidden"), ("only-dots", ".."),
             ("long", "x" * 300), ("space", "my plans"), ("backslash", "a\\b"), ("newline", "a\nb")]  # fmt: skip
    out = [
        Bad(f"export/plans-name-{n}", (*EXPORT, "--plans-name", v), ("--plans-name", "file name"), R)
        for n, v in names
    ]
    out += [
        Bad(f"export/plans-{n}", ("export-weights", "{ws}/run", "--dataset", "{ws}/Dataset990_Toy", "--plans", v), ("--plans", "file name"), R)
        for n, v in names[:3]
    ]  # fmt: skip
    out += [
        Bad("export/dataset-name-escapes", ("export-weights", "{ws}/run", "--dataset", "../../etc"), ("--dataset", "'../../etc'", "file name"), R),
        Bad("export/plans-name-is-source", (*EXPORT, "--plans-name", "nnUNetResEncUNetLPlans", "--overwrite"), ("--plans-name", "would replace the plans file it starts from"), R),
        Bad("export/plans-name-links-source", (*EXPORT, "--plans-name", "mine", "--overwrite"), ("--plans-name mine", "would replace"), (*R, symlink("Dataset990_Toy/mine.json", "{ws}/Dataset990_Toy/nnUNetResEncUNetLPlans.json"))),
        Bad("export/configuration-path", (*EXPORT, "--configuration", "../x"), ("--configuration", "file name"), R),
        Bad("export/out-is-checkpoint-file", ("export-weights", "{ws}/c.pt", "--out", "{ws}/c.pt", "--overwrite"), ("c.pt", "own input"), (ok_ckpt(),)),
        Bad("export/out-symlink-to-input", ("export-weights", "{ws}/c.pt", "--out", "{ws}/w.pth", "--overwrite"), ("w.pth", "own input"), (ok_ckpt(), symlink("w.pth", "{ws}/c.pt"))),
        Bad("export/out-symlink-to-last", ("export-weights", "{ws}/c.pt", "--out", "{ws}/w.pth", "--overwrite"), ("w.pth", "keeps for itself"), (ok_ckpt(), run_folder(), symlink("w.pth", "{ws}/run/last.pt"))),
        Bad("export/out-run-preset", ("export-weights", "{ws}/run", "--out", "{ws}/run/preset.yaml", "--overwrite"), ("preset.yaml", "keeps for itself"), (run_folder(),)),
        Bad("export/out-run-json", ("export-weights", "{ws}/c.pt", "--out", "{ws}/run/run.json", "--overwrite"), ("run.json", "keeps for itself"), (ok_ckpt(), run_folder())),
        Bad("export/out-dev-null", ("export-weights", "{ws}/run", "--out", "/dev/null", "--overwrite"), ("/dev/null", "not a regular file"), (run_folder(),)),
        Bad("export/out-blank", ("export-weights", "{ws}/run", "--out", "   "), ("--out", "empty path"), (run_folder(),)),
    ]  # fmt: skip
    return out


def _report() -> list[Bad]:
    R = (run_folder(),)
    own = ["last.pt", "best.pt", "log.jsonl", "preset.yaml", "preview.png", "run.json", "other.pt"]
    out = [
        Bad(f"report/out-own-{f.replace('.', '-')}", (*REPORT, "--out", "{ws}/run/" + f, "--overwrite"), (f, "keeps for itself"), R)
        for f in own
    ]  # fmt: skip
    out += [
        Bad("report/out-existing", (*REPORT, "--out", "{ws}/notes.png"), ("notes.png", "exists", "--overwrite"), (*R, write("notes.png", "mine"))),
        Bad("report/out-empty", (*REPORT, "--out", ""), ("--out", "empty path"), R),
        Bad("report/out-blank", (*REPORT, "--out", "  "), ("--out", "empty path"), R),
        Bad("report/out-folder", (*REPORT, "--out", "{ws}/figs"), ("figs", "is a folder"), (*R, folder("figs"))),
        Bad("report/out-fifo", (*REPORT, "--out", "{ws}/pipe", "--overwrite"), ("pipe", "not a regular file"), (*R, fifo("pipe"))),
        Bad("report/out-symlink-to-last", (*REPORT, "--out", "{ws}/r.png", "--overwrite"), ("r.png", "keeps for itself"), (*R, symlink("r.png", "{ws}/run/last.pt"))),
        Bad("report/out-other-run-last", (*REPORT, "--out", "{ws}/run2/last.pt", "--overwrite"), ("last.pt", "keeps for itself"), (*R, run_folder("run2"))),
        Bad("report/out-is-run", (*REPORT, "--out", "{ws}/run", "--overwrite"), ("own input",), R),
        Bad("report/out-dev-null", (*REPORT, "--out", "/dev/null", "--overwrite"), ("/dev/null",), R),
        Bad("report/volumes-billion", (*REPORT, "--volumes", "1000000000"), ("--volumes", "allowed 1..100000"), R),
        Bad("report/volumes-zero", (*REPORT, "--volumes", "0"), ("--volumes", "allowed 1.."), R),
        Bad("report/volumes-negative", (*REPORT, "--volumes", "-5"), ("--volumes", "allowed 1.."), R),
        Bad("report/volumes-text", (*REPORT, "--volumes", "all"), ("--volumes", "'all' is not an integer"), R),
        Bad("report/volumes-memory", (*REPORT, "--volumes", "100000"), ("report: needs about", "limits.max_memory_gib"), (*R, _run_limit(0.5))),
        Bad("report/run-missing", ("report", "{ws}/none"), ("none",), ()),
        Bad("report/run-dev-zero", ("report", "/dev/zero"), ("/dev/zero",), ()),
    ]  # fmt: skip
    return out


def _run_limit(gib: float) -> Setup:
    """The run's best.pt whose preset has a memory limit (limits are outside the hash)."""

    def setup(ws: Path) -> None:
        from .bad_inputs import checkpoint_state, torch_bytes

        data = merged(TINY, {"pretrain": PRETRAIN, "limits": {"max_memory_gib": gib}})
        state = checkpoint_state(preset=yaml.safe_dump(data))
        (ws / "run" / "best.pt").write_bytes(torch_bytes(state))

    return setup


def _outputs() -> list[Bad]:
    P = (preset_file(name="ok.yaml"),)
    G = ("generate", "--preset", "{ws}/ok.yaml", "--out", "{ws}/ds", "--quiet", "--format", "nnunet")
    return [
        Bad("fetch-data/out-not-empty", ("fetch-data", "tptbox-spine", "--out", "{ws}/d"), ("--out", "not empty", "mine.txt", "--overwrite"), (folder("d", "mine.txt"),)),
        Bad("fetch-data/out-empty", ("fetch-data", "tptbox-spine", "--out", ""), ("--out", "empty path"), ()),
        Bad("fetch-data/out-blank", ("fetch-data", "pyradiomics", "--out", " "), ("--out", "empty path"), ()),
        Bad("fetch-data/out-file", ("fetch-data", "pyradiomics", "--out", "{ws}/notes.txt"), ("notes.txt", "not a folder"), (write("notes.txt", "mine"),)),
        Bad("fetch-data/out-run", ("fetch-data", "pyradiomics", "--out", "{ws}/run"), ("not empty",), (run_folder(),)),
        Bad("fetch-data/out-dev-null", ("fetch-data", "pyradiomics", "--out", "/dev/null"), ("/dev/null", "not a folder"), ()),
        Bad("sample/out-is-preset", ("sample", "--preset", "{ws}/ok.yaml", "--out", "{ws}/ok.yaml", "--overwrite"), ("ok.yaml", "own input"), P),
        Bad("sample/out-holds-preset", ("sample", "--preset", "{ws}/o/ok.yaml", "--out", "{ws}/o", "--overwrite"), ("holds the command's own input",), (preset_file(name="o/ok.yaml"),)),
        Bad("sample/out-symlink-preset", ("sample", "--preset", "{ws}/ok.yaml", "--out", "{ws}/l", "--overwrite"), ("own input",), (*P, symlink("l", "{ws}/ok.yaml"))),
        Bad("generate/out-is-preset", ("generate", "--preset", "{ws}/ok.yaml", "--out", "{ws}/ok.yaml"), ("own input",), P),
        Bad("generate/dataset-name-dotdot", (*G, "--dataset-name", "../../x"), ("--dataset-name", "file name"), P),
        Bad("generate/dataset-name-slash", (*G, "--dataset-name", "a/b"), ("--dataset-name",), P),
        Bad("generate/dataset-name-dot", (*G, "--dataset-name", ".x"), ("--dataset-name", "leading dot"), P),
        Bad("generate/dataset-name-long", (*G, "--dataset-name", "n" * 200), ("--dataset-name", "over 100"), P),
        Bad("generate/out-blank", ("generate", "--preset", "{ws}/ok.yaml", "--out", "\t"), ("--out", "empty path"), P),
        Bad("pretrain/out-is-preset", ("pretrain", "--preset", "{ws}/pt.yaml", "--out", "{ws}/pt.yaml"), ("own input",), (pt_preset,)),
        Bad("pretrain/out-is-data", (*PT[:4], "{ws}/ds", "--data", "{ws}/ds"), ("own input",), (pt_preset, toy())),
        Bad("pretrain/trainer-name", (*PT, "--nnunet-trainer", "x/y"), ("--nnunet-trainer",), (pt_preset,)),
        Bad("finetune/out-is-dataset", ("finetune", "--dataset", "{ws}/ds", "--scratch", "--out", "{ws}/ds"), ("own input",), (toy(),)),
        Bad("finetune/cache-is-file", (*FT, "--cache", "{ws}/notes.txt"), ("--cache", "not a folder"), (toy(), write("notes.txt", "x"))),
        Bad("finetune/cache-is-dataset", (*FT, "--cache", "{ws}/ds"), ("--cache", "own input"), (toy(),)),
        Bad("finetune/cache-empty", (*FT, "--cache", ""), ("--cache", "empty path"), (toy(),)),
        Bad("finetune/out-is-weights", ("finetune", "--dataset", "{ws}/ds", "--weights", "{ws}/c.pt", "--out", "{ws}/c.pt"), ("own input",), (toy(), ok_ckpt())),
        Bad("evaluate/out-is-weights", ("evaluate", "--weights", "{ws}/c.pt", "--out", "{ws}/c.pt"), ("own input",), (ok_ckpt(),)),
        Bad("evaluate/out-holds-weights", ("evaluate", "--weights", "{ws}/e/c.pt", "--out", "{ws}/e", "--overwrite"), ("holds the command's own input",), (ok_ckpt("e/c.pt"),)),
        Bad("evaluate/out-is-dataset", ("evaluate", "--weights", "{ws}/c.pt", "--dataset", "{ws}/ds", "--out", "{ws}/ds", "--overwrite"), ("own input",), (ok_ckpt(), toy())),
        Bad("compare/out-is-dataset", ("compare", "--dataset", "{ws}/ds", "--out", "{ws}/ds"), ("own input",), (toy(),)),
        Bad("compare/out-is-file", ("compare", "--dataset", "{ws}/ds", "--out", "{ws}/n.txt"), ("not a folder",), (write("n.txt", "x"),)),
        Bad("study/out-empty", ("study", "{ws}/s.yaml", "--out", ""), ("--out", "empty path"), ()),
        Bad("study/out-is-spec", ("study", "{ws}/s.yaml", "--out", "{ws}/s.yaml"), ("own input",), (write("s.yaml", "x: 1\n"),)),
        Bad("study/out-is-file", ("study", "{ws}/s.yaml", "--out", "{ws}/n.txt"), ("not a folder",), (write("s.yaml", "x: 1\n"), write("n.txt", "x"))),
        Bad("study/report-out-empty", ("study", "{ws}/s.yaml", "--out", "", "--report"), ("--out", "empty path"), ()),
    ]  # fmt: skip


# ---------------------------------------------------------------- study specs
STUDY: dict[str, Any] = {
    "version": 1,
    "name": "s",
    "dataset": {"path": "ds"},
    "folds": [{"val": ["toy_000"], "train": ["toy_001", "toy_002"]}],
    "regimes": {"low": 1},
    "seeds": [0],
    "arms": [{"name": "scratch"}, {"name": "a", "preset": "a.yaml"}],
    "pretrain_shape": [16, 16, 16],
    "pretrain": {k: v for k, v in PRETRAIN.items() if k != "model_kwargs"}
    | {"model_kwargs": {"features_per_stage": [4, 8]}},
    "finetune": "finetune/quick",
}


def study(patch: dict[str, Any]) -> Setup:
    def setup(ws: Path) -> None:
        (ws / "s").mkdir(exist_ok=True)
        (ws / "s" / "spec.yaml").write_text(yaml.safe_dump(merged(STUDY, patch)))
        (ws / "s" / "a.yaml").write_text(yaml.safe_dump(TINY))

    return setup


def _studies() -> list[Bad]:
    S = ("study", "{ws}/s/spec.yaml", "--out", "{ws}/out")
    rows: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
        ("seed-negative", {"seeds": [-1]}, ("seeds.0", "-1")),
        ("seed-too-big", {"seeds": [2**32]}, ("seeds.0", "4294967295")),
        ("seed-text", {"seeds": ["one"]}, ("seeds: item 0", "'one'")),
        ("seed-bool", {"seeds": [True]}, ("seeds: item 0", "true")),
        ("seed-float", {"seeds": [1.5]}, ("seeds.0", "1.5")),
        ("seeds-twice", {"seeds": [1, 1]}, ("seeds must be distinct",)),
        ("seeds-empty", {"seeds": []}, ("seeds",)),
        ("shape-4000", {"pretrain_shape": [4000, 4000, 4000]}, ("pretrain_shape", "64,000,000,000 voxels", "limits.max_voxels")),
        ("shape-zero", {"pretrain_shape": [0, 16, 16]}, ("pretrain_shape.0",)),
        ("shape-negative", {"pretrain_shape": [16, -16, 16]}, ("pretrain_shape.1",)),
        ("shape-two", {"pretrain_shape": [16, 16]}, ("pretrain_shape",)),
        ("shape-text", {"pretrain_shape": "big"}, ("pretrain_shape",)),
        ("shape-below-patch", {"pretrain_shape": [8, 8, 8]}, ("patch_size [16, 16, 16] is larger", "volume.shape [8, 8, 8]")),
        ("arm-absolute", {"arms": [{"name": "scratch"}, {"name": "a", "preset": "/etc/passwd"}]}, ("arms.a.preset", "/etc/passwd", "leaves the spec's folder")),
        ("arm-dotdot", {"arms": [{"name": "scratch"}, {"name": "a", "preset": "../../../../etc/hosts"}]}, ("arms.a.preset", "leaves the spec's folder")),
        ("arm-dotdot-yaml", {"arms": [{"name": "scratch"}, {"name": "a", "preset": "../a.yaml"}]}, ("leaves the spec's folder",)),
        ("finetune-absolute", {"finetune": "/etc/passwd"}, ("study finetune", "leaves the spec's folder")),
        ("finetune-dotdot", {"finetune": "../x.yaml"}, ("study finetune", "leaves")),
        ("dataset-dotdot", {"dataset": {"path": "../../data"}}, ("dataset.path", "leaves")),
        ("dataset-absolute", {"dataset": {"path": "/etc"}}, ("dataset.path", "leaves")),
        ("budget-batch-zero", {"pretrain": {"batch_size": 0}}, ("pretrain.batch_size", "got 0")),
        ("budget-lr-nan", {"pretrain": {"lr": float("nan")}}, ("pretrain.lr", "finite")),
        ("budget-iterations-zero", {"pretrain": {"iterations": 0}}, ("pretrain.iterations", "got 0")),
        ("budget-unknown", {"pretrain": {"itertions": 5}}, ("itertions", "unknown field")),
        ("budget-patch-huge", {"pretrain": {"patch_size": [2048, 2048, 2048]}}, ("patch_size", "limits.max_voxels")),
        ("budget-workers", {"pretrain": {"num_workers": 1000}}, ("num_workers", "1000")),
        ("budget-swin-cpu", {"pretrain": {"model": "swinunetr", "model_kwargs": {}, "patch_size": [96, 96, 96], "batch_size": 8}, "pretrain_shape": [96, 96, 96]}, ("pretrain: needs about", "GiB")),
        ("regime-too-many", {"regimes": {"low": 5}}, ("regime low takes 5",)),
        ("regime-zero", {"regimes": {"low": 0}}, ("regimes.low",)),
        ("regime-name", {"regimes": {"../x": 1}}, ("regime name",)),
        ("arm-name-path", {"arms": [{"name": "scratch"}, {"name": "../a", "preset": "a.yaml"}]}, ("arms.1.name",)),
        ("arm-name-long", {"arms": [{"name": "scratch"}, {"name": "a" * 300, "preset": "a.yaml"}]}, ("arms.1.name", "at most 100")),
        ("regime-name-long", {"regimes": {"r" * 300: 1}}, ("regime name", "at most 100")),
        ("no-scratch", {"arms": [{"name": "a", "preset": "a.yaml"}, {"name": "b", "preset": "a.yaml"}]}, ("scratch",)),
        ("fold-overlap", {"folds": [{"val": ["toy_000"], "train": ["toy_000"]}]}, ("in both val and train",)),
        ("quick-zero", {"quick": {"folds": 0}}, ("quick.folds",)),
        ("curve-negative", {"curve_interval": -1}, ("curve_interval",)),
        ("version-2", {"version": 2}, ("version",)),
        ("unknown-field", {"arms_extra": 1}, ("arms_extra",)),
    ]  # fmt: skip
    out = [Bad(f"study/{n}", S, e, (study(p),)) for n, p, e in rows]
    out += [
        Bad("study/out-foreign", S, ("--out", "holds files of something else", "mine.txt"), (study({}), folder("out", "mine.txt"))),
        Bad("study/out-run-folder", (*S[:3], "{ws}/run"), ("--out", "holds files of something else"), (study({}), run_folder())),
        Bad("study/report-out-foreign", (*S, "--report"), ("--out", "something else"), (study({}), folder("out", "mine.txt"))),
        Bad("study/spec-dev-zero", ("study", "/dev/zero", "--out", "{ws}/out"), ("/dev/zero", "character device"), ()),
        Bad("study/spec-fifo", ("study", "{ws}/p.yaml", "--out", "{ws}/out"), ("FIFO",), (fifo("p.yaml"),)),
        Bad("study/spec-list", ("study", "{ws}/p.yaml", "--out", "{ws}/out"), ("mapping",), (write("p.yaml", "- 1\n"),)),
        Bad("study/spec-binary", ("study", "{ws}/p.yaml", "--out", "{ws}/out"), ("binary data",), (write("p.yaml", bytes(range(256))),)),
        Bad("study/result-nan", ("study", "{ws}/s/spec.yaml", "--out", "{ws}/out", "--report"), ("fold0_seed0.json", "non-finite"), (study({}), write("out/study.yaml", "name: s\n"), write("out/results/low/scratch/fold0_seed0.json", '{"mean": NaN}'))),
        Bad("study/result-dev-zero", ("study", "{ws}/s/spec.yaml", "--out", "{ws}/out", "--report"), ("fold0_seed0.json", "character device"), (study({}), write("out/study.yaml", "name: s\n"), folder("out/results/low/scratch"), symlink("out/results/low/scratch/fold0_seed0.json", "/dev/zero"))),
        Bad("study/result-deep", ("study", "{ws}/s/spec.yaml", "--out", "{ws}/out", "--report"), ("fold0_seed0.json", "nested"), (study({}), write("out/study.yaml", "name: s\n"), write("out/results/low/scratch/fold0_seed0.json", deep()))),
    ]  # fmt: skip
    return out


# ---------------------------------------------------------------- formulas
def mapper(expr: str, **params: Any) -> dict[str, Any]:
    return {"mappers": {"enabled": [{"name": "m", "family": "expression", "params": {"expr": expr, **params}}]}}  # fmt: skip


def displacement(expr: str) -> dict[str, Any]:
    return {"displacements": {"enabled": [{"name": "f", "family": "expression", "params": {"expr": expr}}]}}  # fmt: skip


FORMULAS: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("literal-351-digits", mapper(f"d * {HUGE_INT}"), ("out-of-range number",)),
    ("exponent-351-digits", mapper(f"d ** {HUGE_INT}"), ("exponent", "too large")),
    ("exponent-negative-huge", mapper(f"d ** -{HUGE_INT}"), ("exponent",)),
    ("literal-1e999", mapper("d * 1e999"), ("out-of-range number",)),
    ("param-huge-int", mapper("d * a", a=10**400), ("a",)),
    ("import", mapper("__import__('os').system('true')"), ("__import__",)),
    ("attribute", mapper("d.real"), ("expression",)),
    ("lambda", mapper("(lambda: 1)()"), ("expression",)),
    ("string", mapper("'a' * 10**9"), ("expression",)),
    ("walrus", mapper("(x := 1)"), ("expression",)),
    ("subscript", mapper("d[0]"), ("expression",)),
    ("deep-parens", mapper("(" * 300 + "d" + ")" * 300), ("expression",)),
    ("displacement-351-digits", displacement(f"x * {HUGE_INT}"), ("out-of-range number",)),
    ("displacement-unknown-name", displacement("x * open"), ("open",)),
]


def _formulas() -> list[Bad]:
    out = []
    for name, patch, expect in FORMULAS:
        setup = (preset_file(patch),)
        out.append(Bad(f"formula/{name}/validate", ("presets", "validate", "{ws}/p.yaml"), expect, setup))  # fmt: skip
        out.append(Bad(f"formula/{name}/sample", ("sample", "--preset", "{ws}/p.yaml", "--out", "{ws}/out"), expect, setup))  # fmt: skip
    return out


# ---------------------------------------------------------------- patch vs volume
def _patch_volume() -> list[Bad]:
    rows = [
        ("patch-over-volume", {"pretrain": {**PRETRAIN, "patch_size": [32, 32, 32]}}, ("pretrain.patch_size [32, 32, 32] is larger", "volume.shape [16, 16, 16]")),
        ("patch-over-one-axis", {"pretrain": {**PRETRAIN, "patch_size": [16, 16, 32]}}, ("axis 2",)),
        ("patch-over-render-shape", {"pretrain": {**PRETRAIN, "render_shape": [8, 16, 16]}}, ("pretrain.render_shape [8, 16, 16]",)),
    ]  # fmt: skip
    out = []
    for name, patch, expect in rows:
        setup = (preset_file(patch),)
        out.append(Bad(f"preset/{name}/validate", ("presets", "validate", "{ws}/p.yaml"), expect, setup))  # fmt: skip
        out.append(Bad(f"preset/{name}/pretrain", ("pretrain", "--preset", "{ws}/p.yaml", "--out", "{ws}/run", "--no-progress"), expect, setup))  # fmt: skip
    return out


# ---------------------------------------------------------------- datasets and run files
def _generated(ws: Path) -> None:
    from fdif_core.presets.preset import parse_preset
    from fdif_core.synthetic.export import generate

    generate(parse_preset(TINY), ws / "g", progress=False)


def _broken_generated(name: str, edit: Setup) -> tuple[Setup, ...]:
    return (preset_file(name="ok.yaml"), _generated, edit)


def _datasets() -> list[Bad]:
    R = ("generate", "--preset", "{ws}/ok.yaml", "--out", "{ws}/g", "--quiet", "--resume")
    img = "g/imagesTr/case_00000.nii.gz"
    out = [
        Bad("generated/image-dev-zero", R, ("case_00000.nii.gz", "character device", "symlink"), _broken_generated("z", replace_file(img, symlink(img, "/dev/zero")))),
        Bad("generated/image-dev-urandom", R, ("character device",), _broken_generated("u", replace_file(img, symlink(img, "/dev/urandom")))),
        Bad("generated/image-fifo", R, ("case_00000.nii.gz", "FIFO"), _broken_generated("f", replace_file(img, fifo(img)))),
        Bad("generated/image-folder", R, ("case_00000.nii.gz", "a folder"), _broken_generated("d", replace_file(img, folder(img)))),
        Bad("generated/manifest-dev-zero", R, ("fdif_manifest.json", "character device"), _broken_generated("m", replace_file("g/fdif_manifest.json", symlink("g/fdif_manifest.json", "/dev/zero")))),
        Bad("generated/manifest-nan", R, ("fdif_manifest.json", "non-finite"), _broken_generated("n", text_edit("g/fdif_manifest.json", lambda t: t.replace("{", '{"x": NaN, ', 1)))),
        Bad("generated/manifest-deep", R, ("fdif_manifest.json", "nested"), _broken_generated("p", write("g/fdif_manifest.json", deep()))),
        Bad("generated/manifest-sparse", R, ("fdif_manifest.json", "at most"), _broken_generated("s", replace_file("g/fdif_manifest.json", sparse("g/fdif_manifest.json", 1 << 34)))),
        Bad("generated/journal-dev-zero", R, ("fdif_journal.jsonl", "character device"), _broken_generated("j", symlink("g/fdif_journal.jsonl", "/dev/zero"))),
        Bad("generated/journal-fifo", R, ("fdif_journal.jsonl", "FIFO"), _broken_generated("k", fifo("g/fdif_journal.jsonl"))),
        Bad("generated/pretrain-data-json-nan", (*PT, "--data", "{ws}/g"), ("dataset.json", "non-finite"), (pt_preset, _generated, text_edit("g/dataset.json", lambda t: t.replace("{", '{"x": NaN, ', 1)))),
        Bad("generated/pretrain-data-json-list", (*PT, "--data", "{ws}/g"), ("dataset.json", "JSON object is expected"), (pt_preset, _generated, write("g/dataset.json", "[1]"))),
        Bad("generated/pretrain-data-json-dev-zero", (*PT, "--data", "{ws}/g"), ("dataset.json", "character device"), (pt_preset, _generated, replace_file("g/dataset.json", symlink("g/dataset.json", "/dev/zero")))),
        Bad("generated/pretrain-data-image-fifo", (*PT, "--data", "{ws}/g"), ("case_00000.nii.gz", "FIFO", "regular files"), (pt_preset, _generated, replace_file("g/imagesTr/case_00000.nii.gz", fifo("g/imagesTr/case_00000.nii.gz")))),
        Bad("generated/pretrain-data-image-dev-zero", (*PT, "--data", "{ws}/g"), ("case_00000.nii.gz", "character device"), (pt_preset, _generated, replace_file("g/imagesTr/case_00000.nii.gz", symlink("g/imagesTr/case_00000.nii.gz", "/dev/zero")))),
        Bad("generated/pretrain-data-labels-list", (*PT, "--data", "{ws}/g"), ("labels", "mapping"), (pt_preset, _generated, json_edit("g/dataset.json", lambda d: {**d, "labels": [1, 2]}))),
    ]  # fmt: skip
    T = toy()
    out += [
        Bad(f"dataset/json-{n}", FT, ("dataset.json", *e), (T, make("ds/dataset.json")))
        for n, make, e in JSON_BAD[:7] + JSON_BAD[13:16]
    ]
    out += [
        Bad("dataset/image-dev-zero", FT, ("case toy_000", "character device", "symlink"), (T, replace_file("ds/imagesTr/toy_000_0000.nii.gz", symlink("ds/imagesTr/toy_000_0000.nii.gz", "/dev/zero")))),
        Bad("dataset/image-fifo", FT, ("case toy_000", "FIFO"), (T, replace_file("ds/imagesTr/toy_000_0000.nii.gz", fifo("ds/imagesTr/toy_000_0000.nii.gz")))),
        Bad("dataset/label-dev-urandom", FT, ("case toy_001", "label", "character device"), (T, replace_file("ds/labelsTr/toy_001.nii.gz", symlink("ds/labelsTr/toy_001.nii.gz", "/dev/urandom")))),
        Bad("dataset/label-folder", FT, ("case toy_002", "label", "a folder"), (T, replace_file("ds/labelsTr/toy_002.nii.gz", folder("ds/labelsTr/toy_002.nii.gz")))),
        Bad("dataset/splits-nan", (*FT, "--fold", "0"), ("splits_final.json", "non-finite"), (T, write("ds/splits_final.json", '[{"train": [NaN], "val": []}]'))),
        Bad("dataset/splits-dict", (*FT, "--fold", "0"), ("splits_final.json", "JSON array is expected"), (T, write("ds/splits_final.json", "{}"))),
        Bad("dataset/splits-deep", (*FT, "--fold", "0"), ("splits_final.json", "nested"), (T, write("ds/splits_final.json", "[" * 3000 + "]" * 3000))),
        Bad("dataset/splits-dev-zero", (*FT, "--fold", "0"), ("splits_final.json", "character device"), (T, symlink("ds/splits_final.json", "/dev/zero"))),
        Bad("evaluate/run-json-nan", ("evaluate", "--weights", "{ws}/run/last.pt", "--out", "{ws}/ev"), ("run.json", "non-finite"), (_finetuned_run, write("run/run.json", '{"dataset": NaN}'))),
        Bad("evaluate/run-json-list", ("evaluate", "--weights", "{ws}/run/last.pt", "--out", "{ws}/ev"), ("run.json", "JSON object"), (_finetuned_run, write("run/run.json", "[]"))),
        Bad("evaluate/run-json-no-dataset", ("evaluate", "--weights", "{ws}/run/last.pt", "--out", "{ws}/ev"), ("--dataset", "does not name one"), (_finetuned_run, write("run/run.json", '{"dataset": 5}'))),
    ]  # fmt: skip
    return out


def _finetuned_run(ws: Path) -> None:
    from .bad_inputs import finetuned_bytes

    (ws / "run").mkdir(exist_ok=True)
    (ws / "run" / "last.pt").write_bytes(finetuned_bytes())


def surfaces() -> list[Bad]:
    return [*_plans(), *_export(), *_report(), *_outputs(), *_studies(), *_formulas(),
            *_patch_volume(), *_datasets()]  # fmt: skip

