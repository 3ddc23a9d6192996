# Two commands set everything up on a fresh clone:
#   make demo   - the main job on presets/quickstart.yaml (CPU, minutes), then its report
#   make test   - the test suite (napari tests under Xvfb)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.fdif-installed
PRESET ?= presets/quickstart.yaml

.PHONY: demo test lint bench install sysdeps clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -c requirements/constraints.txt -e ".[studio,test]"
	touch $(STAMP)

sysdeps:
	bash scripts/install-system-deps.sh

demo: $(STAMP)
	run=runs/quickstart-$$(date +%Y%m%d-%H%M%S); \
	$(VENV)/bin/fdif-core pretrain --preset $(PRESET) --out $$run && \
	$(VENV)/bin/fdif-core report $$run

test: $(STAMP) sysdeps
	xvfb-run -a -s "-screen 0 1280x1024x24" $(PY) -m pytest -q -n 2 --dist loadgroup

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(VENV)/bin/fdif-core bench --preset presets/fdif-paper.yaml

clean:
	rm -rf $(VENV) runs .pytest_cache
