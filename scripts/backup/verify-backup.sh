#!/usr/bin/env bash
# Verify a backup (size, SHA-256, archive listing against its manifest): `flask backup verify ID`.
# Add --drill to also restore it into a scratch database and compare row counts.
# Usage: scripts/backup/verify-backup.sh BACKUP_ID [--drill]
set -euo pipefail
source "$(dirname "$0")/env.sh"
if [ $# -lt 1 ]; then
  echo "usage: $0 BACKUP_ID [--drill]" >&2
  exit 2
fi
"${FLASK[@]}" backup verify "$1"
if [ "${2:-}" = "--drill" ]; then
  "${FLASK[@]}" backup drill "$1"
fi
