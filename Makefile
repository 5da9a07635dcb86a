# Two entry points, both self-contained on a fresh machine: `make run` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test check lint bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned, so pip takes the CPU wheel and never resolves a CUDA build
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[dev]"
	# an editable install compiles nothing, and this machine sets PYTHONDONTWRITEBYTECODE:
	# without these caches every start would compile all of stepper again
	$(PY) -m compileall -q stepper
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	@$(PY) -m compileall -q stepper  # sources changed since setup: refresh the caches, or every start compiles them
	$(VENV)/bin/stepper run scenarios/mini.yaml

check: $(STAMP)
	$(VENV)/bin/stepper check scenarios/*.yaml

test: $(STAMP)
	$(VENV)/bin/ruff check stepper tests benchmarks
	$(PY) -m pytest -q -n auto

bench: $(STAMP)
	$(PY) benchmarks/bench_check.py

clean:
	rm -rf $(VENV) .pytest_cache
