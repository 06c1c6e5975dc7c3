# Newcomer commands:
#   make demo   build, install, and run the main job (rustrnn demo sentiment)
#   make test   build, install, and run every test (Rust unit tests + pytest, the slow demo tests included)
#   make test-fast   the same without the slow tests (the full demos and their result bars)
#   make test-torch TORCH_PY=/path/to/python   the tests against PyTorch (tests/test_pytorch_*.py); that
#               python needs torch and rustrnn (make install PY=/path/to/python); skipped without torch
#   make wheel  the release wheel (manylinux2014, abi3) in dist/, checked and smoke-tested in a fresh venv
#   make fuzz   the long fuzz run: hypothesis with many more examples, then atheris on the model file
#               loader for FUZZ_SECONDS (default 600); see tests/fuzz/README.md
#   make bench  Rust micro-benchmarks, a quick rustrnn-vs-PyTorch run, then end-to-end fit/generation speed
#               (see benches/README.md; the full run: make bench BENCH_ARGS=)
PY ?= python3
TORCH_PY ?= $(PY)
BENCH_ARGS ?= --quick
FUZZ_SECONDS ?= 600
FUZZ_EXAMPLES ?= 300

.PHONY: install demo test test-rust test-python test-fast test-torch bench fuzz wheel

install:
	$(PY) -m pip install -q -e . "pytest>=7" "hypothesis>=6"

demo: install
	$(PY) -m rustrnn demo sentiment

test-rust:
	cargo test -p rustrnn-core --quiet

test-python: install
	$(PY) -m pytest -q

test: test-rust test-python

test-fast: test-rust install
	$(PY) -m pytest -q -m "not slow"

test-torch:
	@$(TORCH_PY) -c "import torch, rustrnn._native" || { echo "make test-torch: TORCH_PY=$(TORCH_PY) needs torch and rustrnn (make install PY=$(TORCH_PY))"; exit 1; }
	$(TORCH_PY) -m pytest -q tests/test_pytorch_*.py

bench: install
	cargo bench -p rustrnn-benches
	$(PY) benches/compare_torch.py $(BENCH_ARGS)
	$(PY) benches/e2e.py

fuzz: install
	$(PY) -m pip install -q "hypothesis>=6" "atheris>=2.3"
	RUSTRNN_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) RUSTRNN_FUZZ_RANDOM=1 $(PY) -m pytest -q tests/test_fuzz.py
	$(PY) tests/fuzz/atheris_model_file.py -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=3072 -timeout=30 -print_final_stats=1

wheel:
	bash scripts/check_wheel.sh $(PY)
