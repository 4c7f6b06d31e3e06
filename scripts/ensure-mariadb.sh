#!/usr/bin/env bash
# Makes sure the MariaDB server binaries are installed (Debian package mariadb-server). Sourced
# by scripts/test.sh, scripts/demo.sh and .ci/run. flowtally's tests and demo start their own
# private servers, so the package's system service is stopped if the install started it.
set -euo pipefail

# Debian puts mariadbd in /usr/sbin, which a non-root PATH often lacks.
export PATH="$PATH:/usr/sbin:/usr/local/sbin"

if ! command -v mariadbd >/dev/null 2>&1 || ! command -v mariadb-install-db >/dev/null 2>&1; then
  echo "MariaDB is not installed: installing mariadb-server and mariadb-client with apt-get"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "Run as root: apt-get update && apt-get install -y mariadb-server mariadb-client" >&2
      exit 1
    fi
    sudo="sudo"
  fi
  $sudo apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y mariadb-server mariadb-client
  if command -v systemctl >/dev/null 2>&1; then
    $sudo systemctl stop mariadb >/dev/null 2>&1 || true
  elif command -v service >/dev/null 2>&1; then
    $sudo service mariadb stop >/dev/null 2>&1 || true
  fi
fi
