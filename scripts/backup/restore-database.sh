#!/usr/bin/env bash
# Restore a backup over the database: `flask backup restore ID` (asks to type the id, unless --yes).
# A safety backup is taken first and put back if anything fails. Exit 1 refused or rolled back,
# 4 when the rollback failed too (restore the named safety backup at once).
# Usage: scripts/backup/restore-database.sh BACKUP_ID [--yes]
set -euo pipefail
source "$(dirname "$0")/env.sh"
if [ $# -lt 1 ]; then
  echo "usage: $0 BACKUP_ID [--yes]" >&2
  exit 2
fi
exec "${FLASK[@]}" backup restore "$@"
