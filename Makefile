# alignbench: `make demo` runs the whole pipeline offline; `make test` runs the tests;
# `make lab` opens the notebooks in JupyterLab (`alignbench notebook` prepares a run's copies).
# Each sets up everything it needs on a fresh machine (a .venv is created on first use).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MODEL  ?= 0.5b

.DEFAULT_GOAL := help
.PHONY: help venv system-deps local-model test test-fast demo lab bench lint env-sync clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP) ## create .venv and install the package with its dev extras

system-deps: ## install Debian packages: a CJK font and chromium (for report tests)
	bash scripts/install_system_deps.sh

local-model: venv ## build llama-server and fetch + verify the local model (cached)
	$(BIN)/alignbench setup-local --model $(MODEL)

test: venv system-deps local-model ## run the whole test suite (doctests included)
	$(BIN)/python -m pytest

test-fast: venv ## tests without the real local model
	$(BIN)/python -m pytest -m "not local_model"

demo: venv system-deps local-model ## run the whole pipeline offline on 8 questions (judged 3 times) -> reports/demo/index.html
	$(BIN)/alignbench run runs/demo.yaml

lab: venv ## JupyterLab on 127.0.0.1 with the venv kernel; OPEN=path to open, LAB_ARGS=--allow-root as root
	$(BIN)/python -m alignbench_utils.prepare
	$(BIN)/jupyter lab --ip=127.0.0.1 $(LAB_ARGS) $(OPEN)

bench: venv ## print the throughput, statistics and judge meta-evaluation benchmark figures
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/stats_bench.py
	$(BIN)/python benchmarks/judgebench_bench.py
	$(BIN)/python benchmarks/judge_eval_throughput.py

lint: venv ## ruff over the package, tests and benchmarks
	$(BIN)/ruff check alignbench_utils tests benchmarks

env-sync: venv ## rewrite environment.yml from pyproject.toml's dependency list
	$(BIN)/python scripts/sync_environment.py

clean: ## remove the venv and caches (keeps runs/, reports/ and the model cache)
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
