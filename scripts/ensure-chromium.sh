#!/usr/bin/env bash
# Makes sure Debian's Chromium and its WebDriver (packages chromium, chromium-driver) are
# installed, for the dashboard's browser tests (tests/it/dashboard*.rs) and its screenshots,
# and a Thai font (fonts-thai-tlwg) for its Thai pages: the page fetches no web font, so Thai
# text needs one on the system.
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
if command -v fc-list >/dev/null 2>&1 && [ -z "$(fc-list :lang=th)" ]; then
  echo "No Thai font: installing fonts-thai-tlwg with apt-get"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "Run as root: apt-get update && apt-get install -y fonts-thai-tlwg" >&2
      exit 1
    fi
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-thai-tlwg
fi
fc-list :lang=th family | head -n 1
chromium --version 2>/dev/null
chromedriver --version
