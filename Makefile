# bevm: the two commands a new machine needs are `make run` and `make test`.
# Everything else they depend on is installed here, pinned.

SHELL := /bin/bash
.DEFAULT_GOAL := help

COMETBFT_VERSION := v0.38.26
BTCD_VERSION     := v0.24.2
TOOLS_DIR        := $(CURDIR)/.tools
TOOLS_BIN        := $(TOOLS_DIR)/bin
E2E_DIR          := $(CURDIR)/tests/e2e
# Build outputs live outside the clone so fresh clones (CI) reuse them; any path works.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/bevm/target
export PATH := $(TOOLS_BIN):$(E2E_DIR)/node_modules/.bin:$(PATH)
export BEVM_TOOLS_BIN := $(TOOLS_BIN)
export BEVM_E2E_DIR := $(E2E_DIR)

CARGO ?= cargo

.PHONY: help tools sysdeps build run test test-unit test-e2e bench lint fmt clean-devnet

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

sysdeps: ## Debian packages the build needs (clang for rocksdb's bindings)
	@if ! command -v clang >/dev/null || ! ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1; then \
	  echo ">> installing clang and libclang-dev (needed to build rocksdb)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq clang libclang-dev >/dev/null; \
	fi

$(TOOLS_BIN)/cometbft:
	@echo ">> installing cometbft $(COMETBFT_VERSION) into $(TOOLS_BIN)"
	@mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) go install github.com/cometbft/cometbft/cmd/cometbft@$(COMETBFT_VERSION)

$(TOOLS_BIN)/btcd:
	@echo ">> installing btcd and btcctl $(BTCD_VERSION) into $(TOOLS_BIN) (Bitcoin regtest node)"
	@mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) go install github.com/btcsuite/btcd@$(BTCD_VERSION) github.com/btcsuite/btcd/cmd/btcctl@$(BTCD_VERSION)

$(E2E_DIR)/node_modules/.package-lock.json: $(E2E_DIR)/package-lock.json
	@echo ">> installing e2e npm packages (cast, anvil, ethers, solc) from the lockfile"
	cd $(E2E_DIR) && npm ci --no-audit --no-fund --loglevel=error

tools: sysdeps $(TOOLS_BIN)/cometbft $(TOOLS_BIN)/btcd $(E2E_DIR)/node_modules/.package-lock.json ## install pinned cometbft, btcd and npm test tools

build: sysdeps ## build release binaries
	$(CARGO) build --release -p bevm-node -p bevm -p bevm-relayer

run: tools build ## start a single-validator devnet in the foreground (Ctrl-C stops it)
	@scripts/devnet.sh

test: tools ## run every test: unit, property, in-process node, and e2e with real cometbft, btcd, cast and ethers
	$(CARGO) build --release -p bevm-node -p bevm -p bevm-relayer
	$(CARGO) test --workspace --all-targets
	$(MAKE) wasm
	$(CARGO) test --release -p bevm-testkit --test e2e -- --test-threads=1

wasm: ## the light client builds as no_std for wasm32
	rustup target add wasm32-unknown-unknown >/dev/null
	$(CARGO) build -p bevm-btc-light --target wasm32-unknown-unknown --release

bench: tools build ## criterion benches plus the end-to-end load script (see docs/PERFORMANCE.md)
	$(CARGO) bench -p bevm-benches
	$(CARGO) test --release -p bevm-testkit --test load -- --ignored --nocapture

lint: ## clippy with warnings as errors, and rustfmt check
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## format the code
	$(CARGO) fmt --all

clean-devnet: ## delete the devnet's data (.devnet)
	rm -rf .devnet
