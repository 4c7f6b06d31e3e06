#!/usr/bin/env bash
# Makes sure `promtool` is on PATH (Debian package prometheus), for .ci/run's checks of the
# shipped alert rules and of /metrics' exposition. Sourced or run. Only promtool is wanted: the
# package's Prometheus server (and the node exporter it recommends) is stopped and disabled if
# the install started it, so nothing listens on this machine afterwards.
set -euo pipefail

if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool is not installed: installing prometheus with apt-get (for promtool only)"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "Run as root: apt-get update && apt-get install -y --no-install-recommends prometheus" >&2
      exit 1
    fi
    sudo="sudo"
  fi
  $sudo apt-get update
  # Without recommends: prometheus-node-exporter and its collectors are not needed.
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus
  if command -v systemctl >/dev/null 2>&1; then
    $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
  elif command -v service >/dev/null 2>&1; then
    $sudo service prometheus stop >/dev/null 2>&1 || true
  fi
fi
