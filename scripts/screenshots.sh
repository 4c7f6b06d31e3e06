#!/usr/bin/env bash
# Remakes the dashboard's screenshots in docs/screenshots/ (referenced by docs/dashboard.md and
# the README): the Thai wall screen, dark, at 1920×1080; the English desk page at 1366×768; the
# Thai page on a phone, 390×844. They come from the browser test that checks those pages
# (tests/it/dashboard_words.rs, on MariaDB; it needs Chromium, which scripts/ensure-chromium.sh
# installs with a Thai font), run with FLOWTALLY_SCREENSHOTS naming the folder; it waits for a
# snapshot to be saved first, so the footer shows one, and fails if a PNG is 300 KB or more.
#
#   scripts/screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-chromium.sh >/dev/null
mkdir -p docs/screenshots
FLOWTALLY_SCREENSHOTS="$PWD/docs/screenshots" FLOWTALLY_TEST_SERVERS=mariadb \
  cargo test --test it dashboard_words::dashboard_in_thai_on_a_wall_screen_dark_and_live::mariadb \
  -- --exact
ls -l docs/screenshots/
