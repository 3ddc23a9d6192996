#!/usr/bin/env bash
# One prepared GPU check (< 8 minutes on one GPU): rendering speed and CPU agreement,
# SwinUNETR / ResEnc-L / Primus-M training speed and memory, data wait, fine-tuning and
# sliding-window inference, same-seed runs. Prints one table; options: --help.
#   bash benchmarks/gpu_check.sh                          # --device cuda, 96³
#   bash benchmarks/gpu_check.sh --device cpu --size 64 --render-volumes 4 --steps 2 --tiny
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec timeout "${GPU_CHECK_TIMEOUT:-480}" "$PY" benchmarks/gpu_check.py "$@"
