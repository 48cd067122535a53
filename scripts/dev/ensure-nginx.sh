#!/usr/bin/env bash
# Install Debian's nginx (the light build: TLS, proxy, real-ip) when it is missing: the load-test
# stack (scripts/load/stack.sh) and its smoke test in `make test` put the portal behind it. The
# stack runs its own nginx from a run directory on an unprivileged port; the package's own
# service and configuration are not used.
set -eu
if command -v nginx >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "ensure-nginx: installing Debian's nginx-light"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends nginx-light || {
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends nginx-light
}
command -v nginx >/dev/null 2>&1 || { echo "ensure-nginx: nginx is still missing" >&2; exit 1; }
