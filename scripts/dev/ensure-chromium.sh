#!/usr/bin/env bash
# Install Debian's Chromium (for the Playwright end-to-end tests) when it is missing.
# Playwright's own browser download is not used: this machine cannot fetch it.
set -eu
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "ensure-chromium: installing Debian's chromium"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends chromium || {
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends chromium
}
[ -x "$CHROMIUM" ] || { echo "ensure-chromium: $CHROMIUM is still missing" >&2; exit 1; }
