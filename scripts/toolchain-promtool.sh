#!/usr/bin/env bash
# promtool, which checks the Prometheus alert rules of deploy/prometheus/ in the tests, from
# Debian's prometheus package (its server is not started: no test needs it). Prints its version.
set -euo pipefail
bash "$(dirname "$0")/debian-packages.sh" --no-install-recommends prometheus
promtool --version 2>&1 | head -1
