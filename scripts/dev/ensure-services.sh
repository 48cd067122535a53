#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer; start them when
# they are installed but stopped. Exits non-zero, naming the service, when one cannot answer.
set -u

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

wait_for() {  # name, check function
  for _ in $(seq 1 60); do "$2" && return 0; sleep 0.5; done
  echo "ensure-services: $1 did not answer within 30 s" >&2
  return 1
}

status=0
if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "ensure-services: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start || true
    wait_for PostgreSQL pg_up || status=1
  else
    echo "ensure-services: PostgreSQL is not running and not installed (Debian: apt-get install postgresql)" >&2
    status=1
  fi
fi
if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "ensure-services: starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
    wait_for Redis redis_up || status=1
  else
    echo "ensure-services: Redis is not running and not installed (Debian: apt-get install redis-server)" >&2
    status=1
  fi
fi
[ "$status" -eq 0 ] && echo "ensure-services: PostgreSQL and Redis answer"
exit "$status"
