# Newcomer commands:
#   make demo   build, install, and run the main job (rustrnn demo sentiment)
#   make test   build, install, and run every test (Rust unit tests + pytest, the slow demo tests included)
#   make test-fast   the same without the slow tests (the full demos and their result bars)
#   make bench  Rust micro-benchmarks, a quick rustrnn-vs-PyTorch run, then end-to-end fit/generation speed
#               (see benches/README.md; the full run: make bench BENCH_ARGS=)
PY ?= python3
BENCH_ARGS ?= --quick

.PHONY: install demo test test-rust test-python test-fast bench

install:
	$(PY) -m pip install -q -e . "pytest>=7"

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
