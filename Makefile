# Courtier developer and CI entry points. `.ci/run` runs `make lint` then `make test`.
SHELL := /bin/bash
CARGO ?= cargo
PYTHON ?= python3
TARGET_DIR := $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR),$(CURDIR)/target)
# The interop suite runs the debug binary that `cargo test` builds anyway: one build, not two.
COURTIER_BIN ?= $(TARGET_DIR)/debug/courtier

.PHONY: prereqs prereqs-build run test test-rust test-interop lint fuzz

# Idempotent: a no-op when everything is installed.
prereqs:
	@bash scripts/install-prereqs.sh test

prereqs-build:
	@bash scripts/install-prereqs.sh build

# Builds and starts the broker on the embedded defaults (127.0.0.1:1883, anonymous allowed).
run: prereqs-build
	$(CARGO) run --release --bin courtier

test: prereqs test-rust test-interop

test-rust:
	$(CARGO) test --workspace --all-targets

test-interop:
	$(CARGO) build --bin courtier
	COURTIER_BIN=$(COURTIER_BIN) $(PYTHON) -m pytest -q tests/interop

lint: prereqs-build
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Coverage-guided fuzzing (docs/FUZZING.md): every target for FUZZ_SECS seconds each, one
# worker, after replaying fuzz/regressions/. `FUZZ_SECS=600 make fuzz`; FUZZ_TARGETS picks some.
FUZZ_SECS ?= 60
fuzz: prereqs-build
	bash fuzz/run.sh $(FUZZ_SECS)
