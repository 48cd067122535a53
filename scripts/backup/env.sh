# Sourced by the scripts in this folder: run from the project root with its virtualenv,
# after loading BACKUP_ENV_FILE (cron starts with an almost empty environment).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
if [ -n "${BACKUP_ENV_FILE:-}" ]; then
  set -a
  # shellcheck disable=SC1090
  . "$BACKUP_ENV_FILE"
  set +a
fi
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
FLASK=("$PYTHON" -m flask --app wsgi)
