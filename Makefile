# Quiver — the two commands a fresh machine needs:
#   make run    installs what is missing, builds, and runs the main job
#   make test   installs what is missing, builds, and runs the whole test suite
SWIFT ?= swift
# Tests run optimized: the fidelity and index tests run the real model and large graphs, which are
# ~100x slower unoptimized. -enable-testing keeps @testable imports working.
TEST_FLAGS ?= -c release -Xswiftc -enable-testing

.PHONY: setup build run test lint format bench clean

setup:
	@./scripts/setup.sh

build: setup
	$(SWIFT) build -c release --product quiver

run: build
	./scripts/run.sh

# The whole suite runs on the kernels this CPU picks (AVX-512 here); the encoder's and the kernels'
# suites run again on the AVX2 fallback, so both dispatch paths are tested on one machine; the
# engine's suites run again on the PostgreSQL store (throw-away clusters the tests start).
test: lint
	@./scripts/setup.sh test
	$(SWIFT) test $(TEST_FLAGS)
	QUIVER_KERNELS=avx2 $(SWIFT) test $(TEST_FLAGS) --skip-build --filter 'EmbedderTests|VectorMathTests'
	QUIVER_TEST_STORE=postgres $(SWIFT) test $(TEST_FLAGS) --skip-build --filter 'SearchEngineTests'

# Style is checked, not reviewed: .swift-format holds the rules; `make format` applies them.
lint:
	$(SWIFT) format lint --recursive --strict Sources Tests Benchmarks Fuzz

format:
	$(SWIFT) format format --in-place --recursive --parallel Sources Tests Benchmarks Fuzz

clean:
	rm -rf .build
