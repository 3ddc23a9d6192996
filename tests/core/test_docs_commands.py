"""Every command in README.md and docs/*.md works as written.

Each ```bash line is checked by what it calls: ``fdif-core`` lines (also under ``torchrun``)
parse with the real argument parser, the presets and files they name exist and load, long
runs (pre-training or fine-tuning of more than 2,000 steps, and their resumes and
evaluations) say ``--device cuda``, fine-tuning loads weights of the same network, exported
runs are nnU-Net networks; cheap ones (list, classes, presets, a sample) run.
``nnUNetv2_*`` lines use options their ``-h`` lists, ``make`` lines name Makefile targets,
``python`` lines name scripts that exist and take the options given. docs/nnunet.md runs in
full in test_nnunet_e2e.py.
"""

from __future__ import annotations

import functools
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fdif_core.cli.main import build_parser, main
from fdif_core.presets import load_preset

from .doc_commands import DOCS, ROOT, Command, all_commands, commands

COMMANDS = all_commands()
ENV = {
    "nnUNet_raw": "/data/nnUNet_raw",
    "nnUNet_preprocessed": "/data/nnUNet_preprocessed",
    "nnUNet_results": "/data/nnUNet_results",
    "ID": "220",
    "DATASET": "Dataset220_KiTS2023",
    "k": "0",
    "PWD": "/work",
}
LONG = 2000  # steps: a longer run is a GPU run
RUN_HERE = ("list", "classes", "presets", "sample")
_VAR = re.compile(r"\$\{?(\w+)\}?")


def expand(cmd: Command) -> list[str]:
    def sub(m: re.Match) -> str:
        assert m.group(1) in ENV, f"{cmd}: unknown variable ${m.group(1)}"
        return ENV[m.group(1)]

    return shlex.split(_VAR.sub(sub, cmd.text))


def fdif_argv(args: list[str]) -> list[str] | None:
    """The ``fdif-core`` arguments of a line (plain, or ``torchrun ... -m fdif_core``)."""
    if args[0] == "fdif-core":
        return args[1:]
    if args[0] == "torchrun":
        assert "-m" in args and args[args.index("-m") + 1] == "fdif_core", args
        return args[args.index("-m") + 2 :]
    return None


# --------------------------------------------------------------------------- run bookkeeping
def _run_of(path: str) -> str:
    p = Path(path)
    return str(p.parent if p.suffix in (".pt", ".pth") else p)


@functools.cache
def _preset(name: str | None, command: str = "pretrain"):
    """The preset a command line loads (fine-tuning names also resolve under finetune/)."""
    if command in ("finetune", "compare"):
        from fdif_core.cli.commands.finetune import load_finetune_preset

        return load_finetune_preset(name)
    return load_preset(name)


def runs_of(commands: list[Command]) -> dict[str, dict]:
    """Run folder -> {model, gpu, nnunet} for every ``--out`` of the documentation."""
    runs: dict[str, dict] = {}
    for cmd in commands:
        argv = fdif_argv(expand(cmd))
        if not argv or argv[0] not in ("pretrain", "finetune") or "--out" not in argv:
            continue
        args = build_parser().parse_args(argv)
        section = getattr(_preset(args.preset, argv[0]), argv[0]) if args.preset else None
        runs.setdefault(
            args.out,
            {
                "model": section.model if section else None,
                "gpu": bool(section and section.iterations > LONG),
                "nnunet": getattr(args, "nnunet_plans", None),
                "trainer": getattr(args, "nnunet_trainer", None),
                "where": str(cmd),
            },
        )
    return runs


RUNS = runs_of(COMMANDS)
FDIF = [c for c in COMMANDS if fdif_argv(expand(c)) and fdif_argv(expand(c)) != ["--version"]]


# --------------------------------------------------------------------------- fdif-core lines
@pytest.mark.parametrize("cmd", FDIF, ids=str)
def test_fdif_core_line_parses_and_names_real_things(cmd):
    argv = fdif_argv(expand(cmd))
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"{cmd}: fdif-core's parser refuses it")
    if getattr(args, "preset", None):
        preset = _preset(args.preset, argv[0])  # exists and validates
        if argv[0] == "pretrain":
            assert "pretrain" in preset.model_fields_set, f"{cmd}: no pretrain: section"
    if argv[:2] == ["presets", "validate"]:
        for pattern in argv[2:]:
            hits = glob.glob(str(ROOT / pattern))
            assert hits, f"{cmd}: {pattern} matches nothing"
            for h in hits:
                load_preset(h)
    if getattr(args, "nnunet_plans", None) and getattr(args, "preset", None):
        assert _preset(args.preset).pretrain.model in ("resenc_l", "primus_m", "unet_small"), cmd


def _long(argv: list[str], args) -> bool:
    """Whether the line starts or continues a run of more than LONG steps."""
    if getattr(args, "max_steps", None) is not None and args.max_steps <= 10:
        return False
    if getattr(args, "resume", None):
        return RUNS.get(args.resume, {}).get("gpu", False)
    if argv[0] == "evaluate":
        return RUNS.get(_run_of(args.weights), {}).get("gpu", False)
    if argv[0] in ("pretrain", "finetune", "compare") and getattr(args, "preset", None):
        kind = "finetune" if argv[0] == "compare" else argv[0]
        section = getattr(_preset(args.preset, argv[0]), kind)
        return section is not None and section.iterations > LONG
    return False


@pytest.mark.parametrize("cmd", FDIF, ids=str)
def test_long_runs_say_device_cuda(cmd):
    argv = fdif_argv(expand(cmd))
    args = build_parser().parse_args(argv)
    if _long(argv, args):
        assert getattr(args, "device", "cpu") == "cuda", f"{cmd}: a long run without --device cuda"


@pytest.mark.parametrize("cmd", FDIF, ids=str)
def test_weights_come_from_a_run_of_the_same_network(cmd):
    argv = fdif_argv(expand(cmd))
    args = build_parser().parse_args(argv)
    sources: list[str] = []
    if argv[0] == "finetune" and args.weights:
        sources = [args.weights]
    elif argv[0] == "compare" and args.weights:
        sources = [w.split("=", 1)[1] for w in args.weights]
    if sources:
        model = _preset(args.preset, "finetune").finetune.model
        for w in sources:
            run = RUNS.get(_run_of(w))
            if run and run["model"]:
                assert run["model"] == model, f"{cmd}: {w} is a {run['model']} run, not {model}"
    if argv[0] == "export-weights":
        run = RUNS.get(_run_of(args.run))
        assert run, f"{cmd}: exports a run no documented command makes"
        assert run["nnunet"] or run["model"] in ("resenc_l", "primus_m", "unet_small"), cmd
        assert run["nnunet"] or args.dataset, f"{cmd}: a fixed network needs --dataset"


@pytest.mark.parametrize("cmd", [c for c in FDIF if fdif_argv(expand(c))[0] in RUN_HERE], ids=str)
def test_cheap_lines_run(cmd, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = fdif_argv(expand(cmd))
    argv = [str(ROOT / a) if a == "presets/*.yaml" else a for a in argv]
    if argv[:2] == ["presets", "validate"]:
        argv = [*argv[:2], *sorted(glob.glob(str(ROOT / "presets" / "*.yaml")))]
    assert main(argv) == 0, cmd


# --------------------------------------------------------------------------- nnU-Net lines
NNUNET_LINES = [c for c in COMMANDS if expand(c)[0].startswith("nnUNetv2_")]


@functools.cache
def _help(program: str) -> str:
    exe = Path(sys.executable).parent / program
    assert exe.exists(), f"{program}: not installed by nnunetv2"
    run = subprocess.run([str(exe), "-h"], capture_output=True, text=True, timeout=300)
    return run.stdout + run.stderr


@pytest.mark.parametrize("cmd", NNUNET_LINES, ids=str)
def test_nnunet_lines_use_real_options(cmd):
    pytest.importorskip("nnunetv2")
    args = expand(cmd)
    text = _help(args[0])
    for a in args[1:]:
        if re.fullmatch(r"--?[A-Za-z_]\w*", a):
            assert re.search(rf"(^|[\s,\[]){re.escape(a)}\b", text), f"{cmd}: {a} unknown"
    if args[0] == "nnUNetv2_train" and "-pretrained_weights" in args:
        _check_pretrained(cmd, args)


def _check_pretrained(cmd: Command, args: list[str]) -> None:
    """The weights file is what an earlier documented run writes, for these plans/trainer."""
    weights = args[args.index("-pretrained_weights") + 1]
    run = RUNS.get(_run_of(weights))
    assert run, f"{cmd}: {weights} comes from no documented run"
    plans = args[args.index("-p") + 1] if "-p" in args else "nnUNetPlans"
    trainer = args[args.index("-tr") + 1] if "-tr" in args else "nnUNetTrainer"
    primus = run["model"] == "primus_m"
    assert trainer == (run["trainer"] or ("nnUNet_Primus_M_Trainer" if primus else "nnUNetTrainer"))
    if run["nnunet"]:
        assert Path(weights).name == "nnunet_weights.pth", cmd
        assert Path(run["nnunet"]).stem == plans, f"{cmd}: pre-trained for {run['nnunet']}"
    else:
        assert plans == f"fdif_{run['model']}", cmd
        assert Path(weights).name == f"nnunet_{args[0 + 1]}_{plans}.pth" or Path(
            weights
        ).name.endswith(f"_{plans}.pth"), cmd


# --------------------------------------------------------------------------- other lines
OTHER = [c for c in COMMANDS if not fdif_argv(expand(c)) and c not in NNUNET_LINES]


@pytest.mark.parametrize("cmd", OTHER, ids=str)
def test_other_lines(cmd):
    args = expand(cmd)
    assigned = {}
    while len(args) > 1 and re.fullmatch(r"[A-Za-z_]\w*=\S*", args[0]):  # VAR=value prog ...
        key, value = args.pop(0).split("=", 1)
        assigned[key] = value
    prog = Path(args[0]).name
    if prog == "sbatch":
        script = ROOT / args[-1]
        assert subprocess.run(["bash", "-n", str(script)]).returncode == 0, cmd
        if "PRESET" in assigned:
            assert "pretrain" in load_preset(assigned["PRESET"]).model_fields_set, cmd
    elif prog == "bash":
        _check_script(cmd, args[1:])
    elif prog == "make":
        targets = re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M)
        assert all(t in targets for t in args[1:]), cmd
    elif prog == "python" and args[1] == "-c":
        compile(args[2], str(cmd), "exec")
    elif prog == "python" and args[1] == "-m":
        if args[2] == "venv":
            assert args[4:] in ([], ["&&", "source", f"{args[3]}/bin/activate"]), cmd
        else:
            assert args[2] == "pytest" and all((ROOT / a).exists() for a in args[3:] if "/" in a)
    elif prog == "python":
        _check_script(cmd, args[1:])
    elif prog == "napari":
        manifest = yaml.safe_load((ROOT / "fdif_studio" / "napari.yaml").read_text())
        assert args[1:3] == ["-w", manifest["name"]], cmd
        names = {w["display_name"] for w in manifest["contributions"]["widgets"]}
        assert set(args[3:]) <= names, cmd
    elif prog == "pip":
        extras = re.findall(r"\[(\w+)\]", cmd.text)
        toml = (ROOT / "pyproject.toml").read_text()
        assert all(re.search(rf"^{e} = \[", toml, re.M) for e in extras), cmd
    elif prog in ("ruff", "tensorboard", "source", "export") or "=" in args[0]:
        assert prog != "ruff" or shutil.which("ruff") or (Path(sys.executable).parent / "ruff")
    else:
        raise AssertionError(f"{cmd}: no rule checks this kind of command")


def _check_script(cmd: Command, args: list[str]) -> None:
    script = ROOT / args[0]
    assert script.is_file(), f"{cmd}: no {args[0]}"
    text = _script_help(str(script))
    for a in args[1:]:
        if a.startswith("--"):
            assert a in text, f"{cmd}: {a} is not an option of {args[0]}"


@functools.cache
def _script_help(script: str) -> str:
    if script.endswith(".sh"):
        env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(ROOT)}
        run = subprocess.run(["bash", script, "--help"], capture_output=True, text=True, env=env)
    else:
        run = subprocess.run(
            [sys.executable, script, "--help"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "PATH": str(Path(sys.executable).parent)},
            timeout=300,
        )
    assert run.returncode == 0, f"{script} --help: {run.stderr[-500:]}"
    return run.stdout


@pytest.mark.parametrize(
    "job", [["--resume", "runs/paper"], ["--preset", "fdif-paper", "--out", "runs/paper"]]
)
def test_slurm_script_runs_a_valid_pretrain(job):
    text = (ROOT / "scripts" / "slurm" / "pretrain.sbatch").read_text().replace("\\\n", " ")
    line = next(x for x in text.splitlines() if x.startswith("srun torchrun"))
    argv = shlex.split(line.replace('"${job[@]}"', shlex.join(job)))
    argv = argv[argv.index("fdif_core") + 1 :]
    args = build_parser().parse_args(argv)
    assert args.device == "cuda" and argv[0] == "pretrain"


# --------------------------------------------------------------------------- as a user would
# Each page's commands in order, in one fresh folder that holds the clone's files, with only
# the variables the page itself sets: cheap fdif-core lines run; every other line names why
# it does not run here (checked above instead). A folder reused by two lines, or a variable
# used before the page sets it, fails here.
NOT_HERE = {
    "cuda": "needs CUDA (--device cuda, torchrun)",
    "nnUNetv2_": "needs nnU-Net data; docs/nnunet.md runs in test_nnunet_e2e.py",
    "pretrain": "minutes of CPU or more (make demo: about 8 minutes)",
    "finetune": "needs a real dataset", "evaluate": "needs a fine-tuned run",
    "compare": "needs a real dataset", "export-weights": "needs an nnU-Net dataset",
    "study": "about 1.5 hours of CPU", "fetch-data": "downloads from PyPI",
    "generate": "minutes of CPU for a full preset", "bench": "a minute of CPU (timing)",
    "report": "needs a pre-training run", "match": "needs your own CT scan",
    "make": "installs the venv (CI runs make test)", "pip": "installs packages",
    "python": "installs or runs a script (checked above)", "source": "shell set-up",
    "napari": "needs a display", "tensorboard": "a server", "sbatch": "a SLURM cluster",
    "bash": "a GPU check or script (checked above)", "ruff": "lint (CI runs it)",
}  # fmt: skip
_USE = re.compile(r"\$\{?(\w+)\}?")
_SET = re.compile(r"^(?:export\s+)?((?:\w+=\S+\s*)+)$")


def _why_not_here(args: list[str]) -> str | None:
    """Why a documented line is not run by the sequence test (None: it runs)."""
    fdif = fdif_argv(args)
    if args[0] == "torchrun" or (fdif and "cuda" in " ".join(fdif)):
        return NOT_HERE["cuda"]
    if fdif is not None:
        return None if fdif[0] in (*RUN_HERE, "--version") else NOT_HERE[fdif[0]]
    if args[0].startswith("nnUNetv2_"):
        return NOT_HERE["nnUNetv2_"]
    return NOT_HERE[Path(args[0]).name]


def _walk(doc: Path, work: Path, capsys) -> list[tuple[str, str]]:
    variables = {"PWD": str(work)}
    # loop variables (commands() gives a loop's body lines): the first value of each loop
    variables |= dict(re.findall(r"^\s*for (\w+) in (\S+)", doc.read_text(), re.M))
    done: list[tuple[str, str]] = []
    for cmd in commands(doc):
        text = cmd.text
        for name in _USE.findall(text):
            assert name in variables, f"{cmd}: ${name} is used before the page sets it"
        text = _USE.sub(lambda m: variables[m.group(1)], text)
        setting = _SET.match(text)
        if setting:
            for pair in shlex.split(setting.group(1)):
                key, value = pair.split("=", 1)
                variables[key] = value
            done.append((str(cmd), "sets variables"))
            continue
        args = shlex.split(text)
        while len(args) > 1 and re.fullmatch(r"\w+=\S*", args[0]):  # VAR=value prog ...
            args.pop(0)
        args = [a for p in args for a in (sorted(glob.glob(p)) if "*" in p else [p]) or [p]]
        why = _why_not_here(args)
        if why is None:
            code = main(fdif_argv(args))
            out = capsys.readouterr()
            assert code == 0, f"{cmd}: exit {code}: {out.err.strip()[-500:]}"
            done.append((str(cmd), "ran"))
        else:
            done.append((str(cmd), f"not run: {why}"))
    return done


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_docs_run_in_order_in_a_fresh_folder(doc, tmp_path, monkeypatch, capsys):
    for item in ROOT.iterdir():  # the clone's files, without runs/, data/, previews/
        if item.name not in (".git", ".venv", "runs", "data", "previews") and not (
            item.name.startswith(".")
        ):
            (tmp_path / item.name).symlink_to(item, target_is_directory=item.is_dir())
    monkeypatch.chdir(tmp_path)
    for name in ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results"):
        monkeypatch.delenv(name, raising=False)  # a fresh shell: only what the page sets
    done = _walk(doc, tmp_path, capsys)
    assert all(status for _, status in done)
    with capsys.disabled():
        print(f"\n{doc.name}: {sum(s == 'ran' for _, s in done)} of {len(done)} lines ran")
