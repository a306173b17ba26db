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

# The whole suite runs on the kernels this CPU picks (AVX-512 where it has them, else AVX2); the encoder's and the kernels'
# suites run again on the AVX2 fallback, so both dispatch paths are tested on one machine; the
# engine's suites run again on the PostgreSQL store (throw-away clusters the tests start). The Python
# client's tests and the web console's (headless Chromium) run against the quiver binary the first
# step built.
#
# Each test pass runs under a deadline (scripts/test-deadline.sh): a test that hangs fails the run
# within minutes, with every thread's backtrace and the list of tests that never finished.
# Per-test time limits (.timeLimit) are 10 minutes or more: on two cores a test's time includes its
# wait for a thread (in a CI run's PostgreSQL pass, tests doing seconds of work reported ~180 s, the
# length of the pass, and a 2-minute limit failed one). Hangs are the pass deadline's job.
test: lint
	@./scripts/setup.sh test
	$(SWIFT) build $(TEST_FLAGS) --build-tests
	./scripts/test-deadline.sh 1500 $(SWIFT) test $(TEST_FLAGS) --skip-build
	python3 -m unittest discover -s clients/python/tests
	python3 -m unittest discover -s tests-browser
	QUIVER_KERNELS=avx2 ./scripts/test-deadline.sh 900 $(SWIFT) test $(TEST_FLAGS) --skip-build --filter 'EmbedderTests|VectorMathTests'
	QUIVER_TEST_STORE=postgres ./scripts/test-deadline.sh 1500 $(SWIFT) test $(TEST_FLAGS) --skip-build --filter 'SearchEngineTests'

# Style is checked, not reviewed: .swift-format holds the rules; `make format` applies them.
lint:
	$(SWIFT) format lint --recursive --strict Sources Tests Benchmarks Fuzz

format:
	$(SWIFT) format format --in-place --recursive --parallel Sources Tests Benchmarks Fuzz

clean:
	rm -rf .build
