#!/usr/bin/env bash
# The database server of the data directory's PostgreSQL index tests: Debian's postgresql package,
# installed with apt when missing (the tests run it themselves, as the `postgres` user when run
# as root, on a Unix socket of their own: tests/postgresql_server.py). Prints the server's version.
set -euo pipefail
bash "$(dirname "$0")/debian-packages.sh" --no-install-recommends postgresql
server=$(ls -d /usr/lib/postgresql/*/bin/postgres | sort -V | tail -1)
"$server" --version
