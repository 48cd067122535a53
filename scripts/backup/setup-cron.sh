#!/usr/bin/env bash
# Install (or replace) the crontab line that runs scripts/backup/backup-database.sh; idempotent:
# running it again leaves exactly one such line. CRONTAB names the crontab command (default
# `crontab`; e.g. "crontab -u saintara").
# Usage: scripts/backup/setup-cron.sh [--schedule "15 2 * * *"] [--env-file /etc/saintara/backup.env]
#                                     [--log /var/log/saintara/backup.log] [--remove]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MARK="# saintara-backup"
SCHEDULE="15 2 * * *"
ENV_FILE=""
LOG="$ROOT/instance/backup-cron.log"
REMOVE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --schedule) SCHEDULE="$2"; shift 2 ;;
    --env-file) ENV_FILE="$2"; shift 2 ;;
    --log) LOG="$2"; shift 2 ;;
    --remove) REMOVE=1; shift ;;
    *) echo "usage: $0 [--schedule CRON] [--env-file FILE] [--log FILE] [--remove]" >&2; exit 2 ;;
  esac
done
if [ "$(echo "$SCHEDULE" | wc -w)" -ne 5 ]; then
  echo "setup-cron: --schedule needs five cron fields, got: $SCHEDULE" >&2
  exit 2
fi
read -ra CRONTAB_CMD <<< "${CRONTAB:-crontab}"

current="$("${CRONTAB_CMD[@]}" -l 2>/dev/null || true)"
kept="$(printf '%s\n' "$current" | grep -vF "$MARK" | sed '/^$/d' || true)"
if [ "$REMOVE" -eq 1 ]; then
  printf '%s\n' "$kept" | sed '/^$/d' | "${CRONTAB_CMD[@]}" -
  echo "Removed the Saintara backup line from the crontab."
  exit 0
fi
env_part=""
[ -n "$ENV_FILE" ] && env_part="BACKUP_ENV_FILE=$(printf '%q' "$ENV_FILE") "
line="$SCHEDULE cd $(printf '%q' "$ROOT") && ${env_part}scripts/backup/backup-database.sh --kind scheduled --quiet >> $(printf '%q' "$LOG") 2>&1 $MARK"
printf '%s\n%s\n' "$kept" "$line" | sed '/^$/d' | "${CRONTAB_CMD[@]}" -
echo "Installed: $line"
