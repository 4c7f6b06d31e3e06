#!/usr/bin/env bash
# The test command: makes sure the servers are at hand (MariaDB 10.11 from Debian's packages,
# installed with apt-get when missing; MySQL 9.7 and MariaDB 11.8 unpacked from Debian sid into
# private caches, nothing installed), then runs every test. The integration tests start their
# own private servers on free ports in temp dirs and stop them when they exit.
#
#   FLOWTALLY_TEST_SERVERS=all|both|mariadb|mysql|mariadb-11.8
#                                  which servers the integration tests run on: all (the default)
#                                  is MariaDB 10.11, MySQL 9.7 and MariaDB 11.8; both is MariaDB
#                                  10.11 and MySQL; a comma-separated list picks any
#   scripts/test.sh [cargo test arguments]      e.g. scripts/test.sh --test it binlog::
set -euo pipefail
cd "$(dirname "$0")/.."
servers=${FLOWTALLY_TEST_SERVERS:-all}
want_mariadb=0 want_mysql=0 want_mariadb118=0
IFS=, read -ra picked <<<"$servers"
for s in "${picked[@]}"; do
  case "$s" in
    all) want_mariadb=1 want_mysql=1 want_mariadb118=1 ;;
    both) want_mariadb=1 want_mysql=1 ;;
    mariadb) want_mariadb=1 ;;
    mysql) want_mysql=1 ;;
    mariadb-11.8) want_mariadb118=1 ;;
    *) echo "FLOWTALLY_TEST_SERVERS=$servers: use all, both, or a comma-separated list of mariadb, mysql, mariadb-11.8" >&2; exit 2 ;;
  esac
done
if [ "$want_mariadb" = 1 ]; then
  source scripts/ensure-mariadb.sh
  mariadbd --version
fi
if [ "$want_mysql" = 1 ]; then
  source scripts/ensure-mysql.sh
  "$FLOWTALLY_MYSQL_BIN/mysqld" --version
fi
if [ "$want_mariadb118" = 1 ]; then
  source scripts/ensure-mariadb-11.8.sh
  "$FLOWTALLY_MARIADB118_BIN/mariadbd" --no-defaults --version
fi
# The dashboard's browser tests drive Debian's chromium (installed with apt-get when missing).
bash scripts/ensure-chromium.sh || echo "No chromium: the browser tests will say so and skip." >&2
export FLOWTALLY_TEST_SERVERS=$servers
exec cargo test --workspace --all-targets "$@"
