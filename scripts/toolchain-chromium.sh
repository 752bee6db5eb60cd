#!/usr/bin/env bash
# The browser the explorer's tests drive: Debian's chromium package, installed with apt when
# missing (no browser build is downloaded: `playwright install` is never run, the tests launch
# /usr/bin/chromium through Playwright's executable_path). Prints the version the tests will use.
set -euo pipefail
# fonts-dejavu-core: legible screenshots on a machine without any other fonts;
# fonts-wqy-microhei: Chinese text (the data directory's pages) instead of empty boxes.
bash "$(dirname "$0")/debian-packages.sh" --no-install-recommends chromium fonts-dejavu-core \
  fonts-wqy-microhei

CHROMIUM=${CAUSEWAY_CHROMIUM:-/usr/bin/chromium}
"$CHROMIUM" --version
