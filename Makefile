# The two commands of the README: `make demo` (local chains, joined) and `make test` (the suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
NETWORK ?= demo-network
# Empty: the manifest's ports (from 7200); `make demo PORT_BASE=24000` moves every chain.
PORT_BASE ?=

.PHONY: demo directory-demo stop test lint install toolchains test-tools proto bench reference clean

$(BIN)/causeway: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(BIN)/causeway

install: $(BIN)/causeway

# The compilers of user contracts (AssemblyScript from npm, Rust from Debian's packages), for
# `causeway contract build` and the tests that build the templates; anvil and solc (npm) for the
# EVM gateway's contracts, devnets and tests.
toolchains: install
	PYTHON=$(BIN)/python bash scripts/toolchain-assemblyscript.sh
	PYTHON=$(BIN)/python bash scripts/toolchain-evm.sh
	bash scripts/toolchain-rust.sh

# What only the tests use, from Debian's packages: SoftHSM (softhsm2) for the tests of the PKCS#11
# signer, chromium for the explorer's browser tests, promtool for the alert rules' check,
# postgresql for the data directory's PostgreSQL index (the tests run their own server).
test-tools:
	bash scripts/toolchain-softhsm.sh
	bash scripts/toolchain-chromium.sh
	bash scripts/toolchain-promtool.sh
	bash scripts/toolchain-postgresql.sh

demo: install toolchains
	NETWORK=$(NETWORK) BIN=$(BIN) PORT_BASE=$(PORT_BASE) bash scripts/demo.sh

# The data directory (docs/directory.md): its own chains, catalogue, roll-up and web interface
# at http://127.0.0.1:7390/ui/; `make stop NETWORK=directory-network` stops it.
directory-demo: install toolchains
	NETWORK=directory-network BIN=$(BIN) PORT_BASE=$(PORT_BASE) bash scripts/demo_directory.sh

stop: install
	$(BIN)/causeway devnet down --dir $(NETWORK)

test: install toolchains test-tools
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	BIN=$(BIN) bash scripts/test.sh

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

proto: install
	PYTHON=$(BIN)/python scripts/generate_proto.sh

bench: install
	BIN=$(BIN) bash scripts/bench.sh

# The SDK's and the CLI's reference (pdoc's HTML and cli.html), at build/reference/index.html.
reference: install
	$(BIN)/python scripts/reference.py build/reference

clean:
	rm -rf $(VENV) $(NETWORK) .mypy_cache .ruff_cache .pytest_cache
