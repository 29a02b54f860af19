# hwsim: two commands on a fresh machine -- `make demo` and `make test`. Each installs what is
# missing into .venv (pinned by constraints.txt; torch is the CPU wheel 2.13.0), then runs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt
PYTEST := $(BIN)/python -m pytest -n auto -p no:cacheprovider

.PHONY: demo test test-all bench install warm clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	# torch: the CPU build, pinned explicitly (a bare `torch` requirement pulls a multi-GB CUDA build)
	$(PIP) "torch==2.13.0"
	$(PIP) -e ".[dev]"
	touch $(STAMP)

# compile the numba kernels once (cached on disk) so parallel test workers do not all compile them
warm: $(STAMP)
	$(BIN)/python -c "import numpy as np, hwsim; x = np.ones((2, 40), np.float32); \
	[hwsim.format(n).decode(hwsim.format(n).encode(x)) for n in ('mxfp4', 'fp16', 'nvfp4')]; \
	[hwsim.format(n).quantize(x) for n in ('mxfp4', 'fp16')]"

demo: warm
	$(BIN)/hwsim formats
	$(BIN)/hwsim tour --distribution gaussian --out studies/format-tour
	$(BIN)/hwsim workload bert-base --accelerator mx-systolic-32

test: warm
	$(PYTEST)

# everything, including the exhaustive cases marked slow
test-all: warm
	$(PYTEST) -m "slow or not slow"

bench: warm
	$(PIP) "torchao==0.18.0"
	$(BIN)/python benchmarks/bench_formats.py
	$(BIN)/python benchmarks/bench_arch.py

clean:
	rm -rf $(VENV) build .pytest_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
