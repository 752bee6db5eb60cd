#!/usr/bin/env bash
# Regenerates the Python modules and type stubs from every .proto under proto/ (interchain.proto,
# atomic.proto and the rest are found, not listed). The generated files are committed so
# that installing Causeway needs no protobuf compiler; tests/test_generated_code.py checks they are
# current.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
out=${1:-src}
export PATH="$(dirname "$python"):$PATH"
"$python" -m grpc_tools.protoc -I proto \
  --python_out="$out" --mypy_out="$out" \
  --grpc_python_out="$out" --mypy_grpc_out="$out" \
  $(find proto -name '*.proto' | sort)
