#!/usr/bin/env bash
# Installs what building AssemblyScript contracts needs, skipping whatever is there already:
#
# - Node.js and npm: Debian's nodejs and npm packages through apt-get when `node` or `npm` is
#   missing (as root; otherwise it says what to install);
# - the compiler: npm's assemblyscript, pinned with integrity hashes by the package-lock.json in
#   src/causeway/toolchains/assemblyscript/toolchain/, installed with `npm ci` into the shared
#   folder $CAUSEWAY_TOOLCHAINS/assemblyscript-VERSION (default ~/.cache/causeway/toolchains),
#   by causeway.toolchains.assemblyscript.install(), the same code a build runs.
#
# PYTHON: the interpreter with causeway installed (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}

if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get > /dev/null; then
    echo "node and npm are needed: install Debian's nodejs and npm (or Node.js 18 or later)" >&2
    exit 1
  fi
  echo "installing Debian's nodejs and npm"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
fi
echo "node $(node --version), npm $(npm --version)"

start=$(date +%s)
"$PYTHON" - << 'PYTHON_END'
from causeway.toolchains import assemblyscript

toolchain = assemblyscript.install()
print(f"AssemblyScript {assemblyscript.VERSION} in {toolchain.folder}")
PYTHON_END
echo "toolchain ready in $(($(date +%s) - start)) s"
