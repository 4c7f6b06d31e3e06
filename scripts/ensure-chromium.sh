#!/usr/bin/env bash
# Makes sure Debian's Chromium and its WebDriver (packages chromium, chromium-driver) are
# installed, for the dashboard's browser test (tests/it/dashboard.rs) and its screenshots.
# Run it, or source it from .ci/run. Exits non-zero (the test then skips, saying why) only if
# the packages cannot be installed.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "Chromium or chromedriver is missing: installing chromium and chromium-driver with apt-get"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "Run as root: apt-get update && apt-get install -y chromium chromium-driver" >&2
      exit 1
    fi
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
fi
chromium --version 2>/dev/null
chromedriver --version
