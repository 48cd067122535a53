#!/usr/bin/env bash
# Back up the database: `flask backup create` (verify, drill per setting, retention).
# The last line printed is the new backup's id; progress goes to stderr.
# Usage: scripts/backup/backup-database.sh [--kind scheduled] [--compression gzip] [--no-drill] [--quiet]
set -euo pipefail
source "$(dirname "$0")/env.sh"
exec "${FLASK[@]}" backup create "$@"
