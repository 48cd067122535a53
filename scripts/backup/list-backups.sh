#!/usr/bin/env bash
# List the stored backups, newest first: `flask backup list` (--json for scripts).
# Usage: scripts/backup/list-backups.sh [--json]
set -euo pipefail
source "$(dirname "$0")/env.sh"
exec "${FLASK[@]}" backup list "$@"
