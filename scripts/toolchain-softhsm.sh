#!/usr/bin/env bash
# SoftHSM, the software PKCS#11 token the tests of the PKCS#11 signer use, from Debian's package
# softhsm2 (which brings softhsm2-util and the module libsofthsm2.so). Installs it when missing,
# then prints where the module is, the path `--pkcs11-module` takes.
set -euo pipefail
bash "$(dirname "$0")/debian-packages.sh" softhsm2

softhsm2-util --version
for module in /usr/lib/softhsm/libsofthsm2.so /usr/lib/*/softhsm/libsofthsm2.so; do
  if [[ -f "$module" ]]; then
    echo "PKCS#11 module: $module"
    exit 0
  fi
done
echo "error: softhsm2 is installed but libsofthsm2.so was not found" >&2
exit 1
