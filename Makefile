# Newcomer commands:
#   make demo   build, install, and run the main job (rustrnn demo sentiment)
#   make test   build, install, and run every test (Rust unit tests + pytest, the slow demo tests included)
#   make test-fast   the same without the slow tests (the full demos and their result bars)
#   make wheel  the release wheel (manylinux2014, abi3) in dist/, checked and smoke-tested in a fresh venv
#   make fuzz   the long fuzz run: hypothesis with many more examples, then atheris on the model file
#               loader for FUZZ_SECONDS (default 600); see tests/fuzz/README.md
#   make bench  Rust micro-benchmarks, a quick rustrnn-vs-PyTorch run, then end-to-end fit/generation speed
#               (see benches/README.md; the full run: make bench BENCH_ARGS=)
PY ?= python3
BENCH_ARGS ?= --quick
FUZZ_SECONDS ?= 600
FUZZ_EXAMPLES ?= 300

.PHONY: install demo test test-rust test-python test-fast bench fuzz wheel

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
