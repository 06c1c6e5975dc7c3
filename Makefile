# Newcomer commands:
#   make demo   build, install, and run the main job
#   make test   build, install, and run every test (Rust unit tests + pytest)
#   make bench  Rust micro-benchmarks, a quick rustrnn-vs-PyTorch run, then end-to-end fit/generation speed
#               (see benches/README.md; the full run: make bench BENCH_ARGS=)
PY ?= python3
BENCH_ARGS ?= --quick

.PHONY: install demo test test-rust test-python bench

install:
	$(PY) -m pip install -q -e . "pytest>=7"

demo: install
	$(PY) -m rustrnn demo layers

test-rust:
	cargo test -p rustrnn-core --quiet

test-python: install
	$(PY) -m pytest -q

test: test-rust test-python

bench: install
	cargo bench -p rustrnn-benches
	$(PY) benches/compare_torch.py $(BENCH_ARGS)
	$(PY) benches/e2e.py
