#!/usr/bin/env bash
# SoftHSM, the software PKCS#11 token the tests of the PKCS#11 signer use, from Debian's package
# softhsm2 (which brings softhsm2-util and the module libsofthsm2.so). Installs it when missing,
# then prints where the module is, the path `--pkcs11-module` takes.
set -euo pipefail
PACKAGES=(softhsm2)

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]})); then
  echo "==> installing ${missing[*]}"
  as_root=()
  if [[ $(id -u) -ne 0 ]]; then
    as_root=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -q
  "${as_root[@]}" apt-get install -y -q "${missing[@]}"
fi

softhsm2-util --version
for module in /usr/lib/softhsm/libsofthsm2.so /usr/lib/*/softhsm/libsofthsm2.so; do
  if [[ -f "$module" ]]; then
    echo "PKCS#11 module: $module"
    exit 0
  fi
done
echo "error: softhsm2 is installed but libsofthsm2.so was not found" >&2
exit 1
