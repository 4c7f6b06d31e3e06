#!/usr/bin/env bash
# The test command: makes sure both servers are at hand (MariaDB from Debian's packages,
# installed with apt-get when missing; MySQL 9.7 unpacked from Debian sid into a private cache,
# nothing installed), then runs every test. The integration tests start their own private
# servers on free ports in temp dirs and stop them when they exit.
#
#   FLOWTALLY_TEST_SERVERS=mariadb|mysql|both   which servers the integration tests run on
#                                               (default both)
#   scripts/test.sh [cargo test arguments]      e.g. scripts/test.sh --test it binlog::
set -euo pipefail
cd "$(dirname "$0")/.."
servers=${FLOWTALLY_TEST_SERVERS:-both}
case "$servers" in
  mariadb|mysql|both) ;;
  *) echo "FLOWTALLY_TEST_SERVERS=$servers: use mariadb, mysql or both" >&2; exit 2 ;;
esac
if [ "$servers" != mysql ]; then
  source scripts/ensure-mariadb.sh
  mariadbd --version
fi
if [ "$servers" != mariadb ]; then
  source scripts/ensure-mysql.sh
  "$FLOWTALLY_MYSQL_BIN/mysqld" --version
fi
# The dashboard's browser tests drive Debian's chromium (installed with apt-get when missing).
bash scripts/ensure-chromium.sh || echo "No chromium: the browser tests will say so and skip." >&2
export FLOWTALLY_TEST_SERVERS=$servers
exec cargo test --workspace --all-targets "$@"
