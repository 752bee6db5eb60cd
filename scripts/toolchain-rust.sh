#!/usr/bin/env bash
# The Rust toolchain for user contracts, from Debian's packages only (no crate registry is
# reachable and nothing is downloaded at build time): rustc and cargo, the prebuilt standard
# library for wasm32 (libstd-rust-dev-wasm32) and the linker (lld, which gives rust-lld).
# Installs whichever is missing, then prints the versions `causeway contract build` will use.
# Debian 12 ships rustc 1.63 and cargo 1.65; the contract SDK is written for them.
set -euo pipefail
bash "$(dirname "$0")/debian-packages.sh" rustc cargo libstd-rust-dev-wasm32 lld

# By their paths: a rustup toolchain earlier on PATH usually lacks the wasm32 target.
CARGO=${CAUSEWAY_CARGO:-/usr/bin/cargo}
RUSTC=${CAUSEWAY_RUSTC:-/usr/bin/rustc}
"$RUSTC" --version
"$CARGO" --version
sysroot=$("$RUSTC" --print sysroot)
if ! compgen -G "$sysroot/lib/rustlib/wasm32-unknown-unknown/lib/libcore-*.rlib" >/dev/null; then
  echo "error: $RUSTC has no standard library for wasm32-unknown-unknown" >&2
  exit 1
fi
echo "wasm32-unknown-unknown standard library: $sysroot/lib/rustlib/wasm32-unknown-unknown"
"$(dirname "$RUSTC")/rust-lld" -flavor wasm --version
