#!/usr/bin/env bash
# The test command: installs MariaDB if missing, then runs every test. Each test binary starts
# its own private MariaDB on a free port in a temp dir and stops it when it exits.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-mariadb.sh
mariadbd --version
exec cargo test --all-targets "$@"
