#!/usr/bin/env bash
# The package as users get it: build the sdist and the wheel, check their metadata, install
# the wheel (with the studio extra) into a fresh venv outside the source tree, and use it from
# another folder: --version, every shipped preset validated by name, sample, a few pre-training
# steps of the quickstart, and the napari plugin found by npe2 with its sample data loaded.
#
#   bash scripts/check_wheel.sh            # work folder: a new /tmp/fdif-wheel.XXXXXX, removed after
#   WHEEL_CHECK_DIR=/tmp/w bash scripts/check_wheel.sh   # kept, to look into
#
# Needs python3 (3.10+) with venv, and the system packages of scripts/install-system-deps.sh.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
if [ -n "${WHEEL_CHECK_DIR:-}" ]; then
  WORK=$WHEEL_CHECK_DIR  # kept afterwards
else
  WORK=$(mktemp -d /tmp/fdif-wheel.XXXXXX)
  trap 'rm -rf "$WORK"' EXIT  # the venv weighs about 6.6 GB
fi
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
case "$WORK/" in "$SRC"/*) echo "check_wheel: work folder $WORK is inside the source tree" >&2; exit 2;; esac
step() { printf '\n== %s (%s)\n' "$1" "$(date +%H:%M:%S)"; }
quiet() { "$@" 2>&1 | { grep -v '^WARNING: Location' || true; }; }  # pip's find-links noise

step "build sdist and wheel"
rm -rf "$WORK/dist" "$WORK/tools"
"$PY" -m venv "$WORK/tools"
quiet "$WORK/tools/bin/pip" install -q --disable-pip-version-check build twine
"$WORK/tools/bin/python" -m build --outdir "$WORK/dist" "$SRC" >"$WORK/build.log" 2>&1 \
  || { tail -30 "$WORK/build.log"; exit 1; }
"$WORK/tools/bin/twine" check --strict "$WORK"/dist/*
wheel=$(ls "$WORK"/dist/*.whl)
"$WORK/tools/bin/python" - "$wheel" <<'EOF'
"""The wheel carries the data files the code reads."""
import sys
import zipfile

names = set(zipfile.ZipFile(sys.argv[1]).namelist())
need = ["fdif_core/presets/shipped/quickstart.yaml", "fdif_core/presets/shipped/finetune/quick.yaml",
        "fdif_studio/napari.yaml"]
missing = [n for n in need if n not in names]
sys.exit(f"check_wheel: missing from the wheel: {missing}" if missing else 0)
EOF

step "install the wheel into a fresh venv"
rm -rf "$WORK/venv"
"$PY" -m venv "$WORK/venv"
V="$WORK/venv/bin"
quiet "$V/pip" install -q --disable-pip-version-check -c "$SRC/requirements/constraints.txt" "$wheel[studio]"

step "use it from another folder"
rm -rf "$WORK/use" && mkdir "$WORK/use" && cd "$WORK/use"
export PYTHONPATH=""
site=$("$V/python" -c "import fdif_core, pathlib; print(pathlib.Path(fdif_core.__file__).parent.parent)")
case "$site" in "$WORK/venv/"*) ;; *) echo "check_wheel: fdif_core imported from $site" >&2; exit 1;; esac
before=$(cd "$site" && find fdif_core fdif_studio -not -path '*__pycache__*' | sort | sha256sum)
"$V/fdif-core" --version
mapfile -t names < <("$V/fdif-core" presets list)
printf '%s\n' "${names[@]}" | grep -qx quickstart || { echo "check_wheel: no shipped presets" >&2; exit 1; }
"$V/fdif-core" presets validate "${names[@]}"
"$V/fdif-core" sample --preset quickstart --out sample --count 2
test -s sample/sample_00001/label.nii.gz
"$V/fdif-core" pretrain --preset quickstart --out run --max-steps 3 --no-progress
test -s run/last.pt
# a viewer needs OpenGL: Xvfb (scripts/install-system-deps.sh); Qt's offscreen platform has none
display=(); command -v xvfb-run >/dev/null && display=(xvfb-run -a -s "-screen 0 1280x1024x24")
"${display[@]}" "$V/python" - <<'EOF'
"""npe2 finds the plugin in the venv; its sample data loads into a napari viewer."""
import os

from npe2 import PluginManager

pm = PluginManager.instance()
pm.discover()
manifest = pm.get_manifest("fdif-studio")
print(f"npe2: {manifest.name} {manifest.package_metadata.version}, "
      f"{len(manifest.contributions.widgets)} widgets")
sample = manifest.contributions.sample_data[0]
data = sample.open()  # the contribution's command, as napari's File > Open Sample calls it
print(f"npe2 sample data: {[d[-1] for d in data]}")
if not os.environ.get("DISPLAY"):
    raise SystemExit("check_wheel: no display (install xvfb) for the napari viewer check")
import napari

viewer = napari.Viewer(show=False)
layers = viewer.open_sample("fdif-studio", "fdif_sample")
kinds = sorted(type(layer).__name__ for layer in layers)
assert kinds == ["Image", "Labels"], kinds
print(f"sample data: {', '.join(layer.name for layer in layers)}, shape {layers[0].data.shape}")
viewer.close()
EOF
after=$(cd "$site" && find fdif_core fdif_studio -not -path '*__pycache__*' | sort | sha256sum)
[ "$before" = "$after" ] || { echo "check_wheel: files were written into the installed package" >&2; exit 1; }
step "wheel check passed ($(basename "$wheel"))"
