#!/usr/bin/env bash
# Install Debian's Prometheus (the `prometheus` server and `promtool`) when it is missing:
# the monitoring tests scrape the portal with the real server and check the alert rules
# with promtool. The tests run their own server on a free loopback port with a temporary
# configuration and data directory; the package's own service is not used.
set -eu
if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "ensure-prometheus: installing Debian's prometheus"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends prometheus || {
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends prometheus
}
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || {
  echo "ensure-prometheus: prometheus or promtool is still missing" >&2
  exit 1
}
