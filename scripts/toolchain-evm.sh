#!/usr/bin/env bash
# Installs what the Ethereum-compatible gateway's devnets and tests need, skipping whatever is
# there already: anvil 1.7.1 (npm's @foundry-rs/anvil, the binary from its platform package) and
# solc 0.8.37 (npm's solc-js), pinned with integrity hashes by the package-lock.json in
# src/causeway/toolchains/evm/, installed with `npm ci` into the shared folder
# $CAUSEWAY_TOOLCHAINS/evm-VERSION (default ~/.cache/causeway/toolchains) by
# causeway.toolchains.evm.install(); then compiles the gateway's contracts once (cached by the
# hash of their sources). Node.js and npm: see scripts/toolchain-assemblyscript.sh.
#
# PYTHON: the interpreter with causeway installed (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}

if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  echo "node and npm are needed: run scripts/toolchain-assemblyscript.sh first (it installs them)" >&2
  exit 1
fi
echo "node $(node --version), npm $(npm --version)"

start=$(date +%s)
"$PYTHON" - << 'PYTHON_END'
from causeway.interchain.gateways import compiled_contracts
from causeway.toolchains import evm

toolchain = evm.install()
print(f"anvil {evm.ANVIL_VERSION} and solc {evm.SOLC_VERSION} in {toolchain.folder}")
print(f"gateway contracts compiled: {', '.join(sorted(compiled_contracts()))}")
PYTHON_END
echo "toolchain ready in $(($(date +%s) - start)) s"
