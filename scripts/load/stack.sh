#!/usr/bin/env bash
# The production topology on one machine, for load tests (docs/LOAD_TESTING.md):
# nginx terminating TLS (a certificate made at `up`) in front of two gunicorn instances of
# the portal, on PostgreSQL and a Redis of its own, with the jobs worker and the analytics
# ingester beside them, configured as docs/DEPLOYMENT.md says (APP_ENV=production).
#
#   scripts/load/stack.sh up            start everything (migrating the database) and wait until ready
#   scripts/load/stack.sh seed ARGS     scripts/load/seed.py with the stack's environment (e.g. --users 1000)
#   scripts/load/stack.sh down [--drop] stop everything (--drop: also drop the database and the run directory)
#   scripts/load/stack.sh status        which parts run
#   scripts/load/stack.sh kill-web N    kill -9 gunicorn instance N (1 or 2) with its workers (failure tests)
#   scripts/load/stack.sh start-web N   start instance N again
#   scripts/load/stack.sh restart-redis stop the stack's Redis and start it again (failure tests)
#   scripts/load/stack.sh env           print the environment the portal runs with
#
# Settings (environment): LOAD_RUN_DIR (instance/load-stack), LOAD_DATABASE (saintara_load),
# LOAD_PG_ADMIN_URL (postgresql://postgres@127.0.0.1:5432/postgres), LOAD_HTTPS_PORT (8443),
# LOAD_WEB_PORTS ("8101 8102"), LOAD_REDIS_PORT (6390), LOAD_WEB_CONCURRENCY (3 per instance),
# LOAD_PROMETHEUS_PORT (unset: no Prometheus; set: one scraping both instances every 5 s).
# The Redis is the stack's own (never the one on 6379 that development and tests share), with
# append-only persistence as in production, so that a restart keeps sessions and the queue.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
RUN="${LOAD_RUN_DIR:-$ROOT/instance/load-stack}"
DATABASE="${LOAD_DATABASE:-saintara_load}"
PG_ADMIN_URL="${LOAD_PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
HTTPS_PORT="${LOAD_HTTPS_PORT:-8443}"
read -r -a WEB_PORTS <<< "${LOAD_WEB_PORTS:-8101 8102}"
REDIS_PORT="${LOAD_REDIS_PORT:-6390}"
PROM_PORT="${LOAD_PROMETHEUS_PORT:-9391}"
BIN="$ROOT/.venv/bin"

case "$DATABASE" in
  saintara_load*|saintara_test*) ;;
  *) echo "stack.sh: LOAD_DATABASE must start with saintara_load or saintara_test (got $DATABASE)" >&2; exit 2 ;;
esac

say() { echo "stack: $*"; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1" 2>/dev/null)" 2>/dev/null; }

psql_admin() { psql "$PG_ADMIN_URL" -v ON_ERROR_STOP=1 -qAt "$@"; }

write_env() {
  mkdir -p "$RUN/instance" "$RUN/logs" "$RUN/nginx-tmp" "$RUN/metrics"
  chmod 700 "$RUN"
  if [ ! -f "$RUN/secrets.env" ]; then
    (umask 077; "$BIN/python" - > "$RUN/secrets.env" <<'PY'
import secrets
from cryptography.fernet import Fernet
print(f"SECRET_KEY={secrets.token_urlsafe(48)}")
print(f"ENCRYPTION_KEY={Fernet.generate_key().decode()}")
print(f"METRICS_TOKEN={secrets.token_urlsafe(32)}")
PY
    )
  fi
  local base="${PG_ADMIN_URL%/*}"
  (umask 077; cat > "$RUN/portal.env" <<ENV
# Made by scripts/load/stack.sh: the portal's environment in the load-test stack.
APP_ENV=production
$(cat "$RUN/secrets.env")
DATABASE_URL=$base/$DATABASE
REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
INSTANCE_PATH=$RUN/instance
TRUSTED_PROXY_COUNT=1
PUBLIC_URL=https://127.0.0.1:$HTTPS_PORT
WEB_CONCURRENCY=${LOAD_WEB_CONCURRENCY:-3}
GUNICORN_MAX_REQUESTS=0
LOG_LEVEL=warning
ENV
  )
}

load_env() { set -a; . "$RUN/portal.env"; set +a; }

make_certificate() {
  [ -f "$RUN/tls/cert.pem" ] && return 0
  mkdir -p "$RUN/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$RUN/tls/key.pem" -out "$RUN/tls/cert.pem" 2>/dev/null
  chmod 600 "$RUN/tls/key.pem"
}

start_redis() {
  pid_alive "$RUN/redis.pid" && return 0
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$RUN" --pidfile "$RUN/redis.pid" \
    --logfile "$RUN/logs/redis.log" --daemonize yes --appendonly yes --appendfsync everysec --save ""
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "stack.sh: Redis did not start on $REDIS_PORT (see $RUN/logs/redis.log)" >&2; exit 1
}

stop_redis() {
  pid_alive "$RUN/redis.pid" || return 0
  redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || kill "$(cat "$RUN/redis.pid")"
  for _ in $(seq 100); do pid_alive "$RUN/redis.pid" || return 0; sleep 0.1; done
}

start_web() {
  local n="$1" port="${WEB_PORTS[$(( $1 - 1 ))]}"
  pid_alive "$RUN/web$n.pid" && return 0
  rm -rf "$RUN/metrics/web$n"; mkdir -p "$RUN/metrics/web$n"
  (load_env; BIND="127.0.0.1:$port" PROMETHEUS_MULTIPROC_DIR="$RUN/metrics/web$n" \
    setsid "$BIN/gunicorn" -c gunicorn.conf.py --pid "$RUN/web$n.pid" wsgi:app \
    >> "$RUN/logs/web$n.log" 2>&1 < /dev/null &)
  for _ in $(seq 300); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && return 0; sleep 0.2
  done
  echo "stack.sh: gunicorn instance $n did not answer on $port (see $RUN/logs/web$n.log)" >&2; exit 1
}

start_daemon() {  # name, command...
  local name="$1"; shift
  pid_alive "$RUN/$name.pid" && return 0
  (load_env; setsid "$@" >> "$RUN/logs/$name.log" 2>&1 < /dev/null & echo $! > "$RUN/$name.pid")
}

stop_pidfile() {  # pidfile, signal
  local file="$1" signal="${2:-TERM}"
  pid_alive "$file" || { rm -f "$file"; return 0; }
  local pid; pid="$(cat "$file")"
  kill -"$signal" "$pid" 2>/dev/null || true
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || { rm -f "$file"; return 0; }; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$file"
}

start_nginx() {
  sed -e "s|@LISTEN@|127.0.0.1:$HTTPS_PORT|" -e "s|@CERT@|$RUN/tls/cert.pem|" -e "s|@KEY@|$RUN/tls/key.pem|" \
      -e "s|@WEB_1@|127.0.0.1:${WEB_PORTS[0]}|" -e "s|@WEB_2@|127.0.0.1:${WEB_PORTS[1]}|" \
      scripts/load/nginx/saintara.conf > "$RUN/site.conf"
  cp scripts/load/nginx/nginx.conf "$RUN/nginx.conf"
  if pid_alive "$RUN/nginx.pid"; then nginx -p "$RUN/" -c nginx.conf -s reload; return 0; fi
  nginx -p "$RUN/" -c nginx.conf -t -q
  nginx -p "$RUN/" -c nginx.conf
}

start_prometheus() {
  # Optional: Prometheus (make prometheus) scraping both instances every 5 s, for the Grafana
  # dashboard monitoring/grafana/load-test.json (data source: http://127.0.0.1:$PROM_PORT).
  command -v prometheus >/dev/null || { say "prometheus not installed: no metrics kept"; return 0; }
  pid_alive "$RUN/prometheus.pid" && return 0
  (load_env; umask 077; printf '%s' "$METRICS_TOKEN" > "$RUN/metrics-token")
  cat > "$RUN/prometheus.yml" <<PROM
global:
  scrape_interval: 5s
scrape_configs:
  - job_name: saintara
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: $RUN/metrics-token
    static_configs:
      - targets: ["127.0.0.1:${WEB_PORTS[0]}", "127.0.0.1:${WEB_PORTS[1]}"]
PROM
  mkdir -p "$RUN/prometheus-data"
  (setsid prometheus --config.file="$RUN/prometheus.yml" --storage.tsdb.path="$RUN/prometheus-data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >> "$RUN/logs/prometheus.log" 2>&1 < /dev/null &
   echo $! > "$RUN/prometheus.pid")
}

wait_ready() {
  for _ in $(seq 150); do
    curl -ksf -o /dev/null "https://127.0.0.1:$HTTPS_PORT/readyz" && return 0; sleep 0.2
  done
  echo "stack.sh: https://127.0.0.1:$HTTPS_PORT/readyz does not answer 200" >&2; exit 1
}

up() {
  for tool in nginx redis-server redis-cli openssl psql curl; do
    command -v "$tool" >/dev/null || { echo "stack.sh: $tool is missing (make nginx services)" >&2; exit 1; }
  done
  write_env
  make_certificate
  if [ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" ]; then
    psql_admin -c "CREATE DATABASE \"$DATABASE\""
  fi
  start_redis
  (load_env; "$BIN/flask" --app wsgi db upgrade >> "$RUN/logs/migrate.log" 2>&1)
  start_web 1
  start_web 2
  start_daemon jobs "$BIN/flask" --app wsgi jobs worker
  start_daemon analytics "$BIN/flask" --app wsgi analytics ingest
  start_nginx
  [ -n "${LOAD_PROMETHEUS_PORT:-}" ] && start_prometheus
  wait_ready
  say "up: https://127.0.0.1:$HTTPS_PORT (gunicorn on ${WEB_PORTS[*]}, Redis on $REDIS_PORT, database $DATABASE)"
}

down() {
  if pid_alive "$RUN/nginx.pid"; then nginx -p "$RUN/" -c nginx.conf -s quit || true; fi
  for _ in $(seq 50); do pid_alive "$RUN/nginx.pid" || break; sleep 0.1; done
  stop_pidfile "$RUN/prometheus.pid"
  stop_pidfile "$RUN/analytics.pid"
  stop_pidfile "$RUN/jobs.pid"
  stop_pidfile "$RUN/web1.pid"
  stop_pidfile "$RUN/web2.pid"
  stop_redis
  if [ "${1:-}" = "--drop" ]; then
    psql_admin -c "DROP DATABASE IF EXISTS \"$DATABASE\" WITH (FORCE)"
    rm -rf "$RUN"
  fi
  say "down"
}

status() {
  for part in nginx web1 web2 jobs analytics redis prometheus; do
    if pid_alive "$RUN/$part.pid"; then echo "$part: running (pid $(cat "$RUN/$part.pid"))"; else echo "$part: stopped"; fi
  done
}

case "${1:-}" in
  up) up ;;
  down) shift; down "${1:-}" ;;
  status) status ;;
  seed) shift; load_env; exec "$BIN/python" -m scripts.load.seed --out "$RUN/seed.json" "$@" ;;
  env) cat "$RUN/portal.env" ;;
  kill-web)
    # Everything of the instance at once, as when its host or container dies.
    pid_alive "$RUN/web$2.pid" || { echo "stack.sh: instance $2 is not running" >&2; exit 1; }
    kill -KILL -- "-$(cat "$RUN/web$2.pid")" 2>/dev/null || kill -KILL "$(cat "$RUN/web$2.pid")"
    rm -f "$RUN/web$2.pid"; say "killed gunicorn instance $2" ;;
  start-web) start_web "$2"; say "gunicorn instance $2 answers" ;;
  restart-redis) stop_redis; start_redis; say "Redis restarted" ;;
  *) sed -n '2,20p' "$0"; exit 2 ;;
esac
