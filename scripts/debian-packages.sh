#!/usr/bin/env bash
# Installs the Debian packages named as arguments that are not installed yet (apt-get, as root or
# through sudo), for the toolchain-*.sh scripts; a first argument --no-install-recommends is
# passed on to apt-get. Another apt may hold the lock (a test session
# installing something else, the machine's own updates): each try waits up to 2 minutes for it,
# and a failed try is repeated, 10 tries in all.
set -euo pipefail

options=()
if [[ ${1:-} == --no-install-recommends ]]; then
  options=(--no-install-recommends)
  shift
fi
missing=()
for package in "$@"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "==> installing ${missing[*]}"
as_root=()
if [[ $(id -u) -ne 0 ]]; then
  as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  if "${as_root[@]}" apt-get -o DPkg::Lock::Timeout=120 update -q &&
    "${as_root[@]}" apt-get -o DPkg::Lock::Timeout=120 install -y -q \
      "${options[@]}" "${missing[@]}"; then
    exit 0
  fi
  if ((attempt == 10)); then
    echo "error: could not install ${missing[*]}" >&2
    exit 1
  fi
  sleep 15
done
