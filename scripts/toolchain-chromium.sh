#!/usr/bin/env bash
# The browser the explorer's tests drive: Debian's chromium package, installed with apt when
# missing (no browser build is downloaded: `playwright install` is never run, the tests launch
# /usr/bin/chromium through Playwright's executable_path). Prints the version the tests will use.
set -euo pipefail
# fonts-dejavu-core: legible screenshots on a machine without any other fonts.
PACKAGES=(chromium fonts-dejavu-core)

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
  # Another apt may hold the lock (a test session installing something else): wait for it.
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if "${as_root[@]}" apt-get -o DPkg::Lock::Timeout=120 update -q &&
      "${as_root[@]}" apt-get -o DPkg::Lock::Timeout=120 install -y -q \
        --no-install-recommends "${missing[@]}"; then
      break
    fi
    if ((attempt == 10)); then
      echo "error: could not install ${missing[*]}" >&2
      exit 1
    fi
    sleep 15
  done
fi

CHROMIUM=${CAUSEWAY_CHROMIUM:-/usr/bin/chromium}
"$CHROMIUM" --version
