#!/usr/bin/env bash
# Two leadgate instances against one, on one PostgreSQL database: HTTP intake and the mail collector.
#
#   LG_BENCH_POSTGRES_URL=postgres://role:password@127.0.0.1:5432/postgres bench/instances.sh
#
# HTTP: one `leadgate serve`, then two on one database; either way two wrk processes (-t1 -c32 each, 64
# connections in all, as `bench/run http`) post the sample order for LG_BENCH_HTTP_DURATION (10s): both at the
# one instance, or one at each of the two. Every 201 must be a lead in the database afterwards.
# Mail: LG_BENCH_ORDERS (10,000) order mails among as many other mails in a local Dovecot; one `leadgate serve`,
# then two on one fresh database, each with the collector scheduled every second (push on, the default): the
# seconds from the start of the instances until the database holds every order, and the leads it then holds
# (exactly the orders: none twice).
#
# Needs a release build (target/release/leadgate, or LG_BENCH_LEADGATE), wrk, psql, python3, curl, and Dovecot
# (scripts/dovecot.sh). Runs on loopback; stops what it started; drops its databases; removes its temporary
# directory unless LG_BENCH_KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_ADMIN_URL=${LG_BENCH_POSTGRES_URL:?LG_BENCH_POSTGRES_URL must name a PostgreSQL role that may create databases}
LEADGATE=${LG_BENCH_LEADGATE:-${CARGO_TARGET_DIR:-target}/release/leadgate}
DURATION=${LG_BENCH_HTTP_DURATION:-10s}
ORDERS=${LG_BENCH_ORDERS:-10000}
CALENDAR="Заявки с сайта"
[ -x "$LEADGATE" ] || { echo "instances: no leadgate binary at $LEADGATE (cargo build --release)" >&2; exit 1; }

WORK=$(mktemp -d -t leadgate-instances.XXXXXX)
chmod 755 "$WORK"
PIDS=()
DBS=()
DOVECOT_DIR=
# serve and new_database run in command substitutions (subshells): they note pids and names in files.
cleanup() {
  local db
  stop_servers
  [ -n "$DOVECOT_DIR" ] && scripts/dovecot.sh stop "$DOVECOT_DIR" >/dev/null 2>&1 || true
  [ -f "$WORK/dbs" ] && mapfile -t DBS <"$WORK/dbs"
  for db in "${DBS[@]}"; do scripts/postgres.sh drop "$PG_ADMIN_URL" "$db" >/dev/null 2>&1 || true; done
  if [ "${LG_BENCH_KEEP:-0}" = 1 ]; then echo "instances: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n== %s\n' "$*" >&2; }
field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n1; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

new_database() { # NAME: a fresh PostgreSQL database; prints its URL
  local name="lgbench_inst_$1_$$"
  psql -q "$PG_ADMIN_URL" -c "CREATE DATABASE \"$name\"" >/dev/null
  echo "$name" >>"$WORK/dbs"
  echo "${PG_ADMIN_URL%/*}/$name"
}
leads_in() { psql -tA "$1" -c "SELECT count(*) FROM leads"; }

serve() { # DIR URL EXTRA_TOML: starts one instance with its own config; prints its port
  local dir=$1 url=$2 port
  mkdir -p "$dir"
  port=$(free_port)
  cat >"$dir/leadgate.toml" <<EOF
default_calendar = "$CALENDAR"
$3
[server]
listen = "127.0.0.1:$port"

[database]
url = "$url"
data_dir = "$WORK/data"

[[calendars]]
name = "$CALENDAR"

# The sample's layout files are on the internet, which a benchmark never reaches: their URLs are queued with
# each lead as usual, and nothing downloads them.
[layout_files]
enabled = false
EOF
  env BENCH_TOKEN=bench-token-for-the-instances-benchmark BENCH_MAIL_PASSWORD="${DOVECOT_PASSWORD:-}" \
    "$LEADGATE" serve --config "$dir/leadgate.toml" </dev/null >"$dir/serve.log" 2>&1 &
  echo "$!" >>"$WORK/pids"
  local i
  for i in $(seq 300); do
    curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$port/healthz" 2>/dev/null && { echo "$port"; return 0; }
    sleep 0.1
  done
  tail -n 20 "$dir/serve.log" >&2
  echo "instances: leadgate serve in $dir did not answer /healthz" >&2
  exit 1
}

stop_servers() {
  local pid i
  [ -f "$WORK/pids" ] && mapfile -t PIDS <"$WORK/pids"
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  rm -f "$WORK/pids"
  PIDS=()
}

HTTP_SOURCE='[[http_sources]]
name = "bench"
calendar = "Заявки с сайта"
token_env = "BENCH_TOKEN"
rate_limit_per_client = 0
rate_limit_total = 0'

http_round() { # N: instances
  local n=$1 url p1 p2 a b s201 rate
  url=$(new_database "http$n")
  p1=$(serve "$WORK/http$n-a" "$url" "$HTTP_SOURCE")
  p2=$p1
  [ "$n" = 2 ] && p2=$(serve "$WORK/http$n-b" "$url" "$HTTP_SOURCE")
  say "HTTP intake, $n instance(s): wrk -t1 -c32 at 127.0.0.1:$p1 and at 127.0.0.1:$p2"
  BENCH_TOKEN=bench-token-for-the-instances-benchmark wrk -t1 -c32 -d"$DURATION" --latency -s bench/http/intake.lua \
    "http://127.0.0.1:$p1" >"$WORK/wrk$n-a.out" 2>/dev/null &
  local w1=$!
  BENCH_TOKEN=bench-token-for-the-instances-benchmark wrk -t1 -c32 -d"$DURATION" --latency -s bench/http/intake.lua \
    "http://127.0.0.1:$p2" >"$WORK/wrk$n-b.out" 2>/dev/null &
  local w2=$!
  wait "$w1" "$w2"
  stop_servers
  a=$(grep '^intake: ' "$WORK/wrk$n-a.out")
  b=$(grep '^intake: ' "$WORK/wrk$n-b.out")
  s201=$(($(field status_201 "$a") + $(field status_201 "$b")))
  rate=$(awk -v n="$s201" -v s="$(field seconds "$a")" 'BEGIN { printf "%.0f", n / s }')
  printf '%-30s %10s %14s %14s %8s  %s\n' "HTTP, $n instance(s)" "$rate" \
    "$(field p50_ms "$a")/$(field p50_ms "$b")" "$(field p99_ms "$a")/$(field p99_ms "$b")" \
    "$(($(field non_2xx "$a") + $(field non_2xx "$b")))" "leads $(leads_in "$url"), 201s $s201"
  eval "HTTP_RATE_$n=$rate"
}

mail_round() { # N: instances
  local n=$1 url t0 t1 got i
  url=$(new_database "mail$n")
  local collector="[schedule.mail_collector]
cron = \"* * * * * *\"
enabled = true

[[collectors]]
name = \"bench\"
protocol = \"imap\"
host = \"127.0.0.1\"
port = $DOVECOT_IMAP_PORT
tls = \"none\"
username = \"bench\"
password_env = \"BENCH_MAIL_PASSWORD\"
folder = \"INBOX\"
keyword = \"ORDER\"
calendar = \"$CALENDAR\""
  # The schema first, so that the instances start alike.
  "$LEADGATE" migrate --config <(printf 'default_calendar = "%s"\n[database]\nurl = "%s"\ndata_dir = "%s"\n[[calendars]]\nname = "%s"\n' \
    "$CALENDAR" "$url" "$WORK/data" "$CALENDAR") >/dev/null 2>&1 || true
  t0=$(now)
  serve "$WORK/mail$n-a" "$url" "$collector" >/dev/null
  [ "$n" = 2 ] && serve "$WORK/mail$n-b" "$url" "$collector" >/dev/null
  for i in $(seq 1200); do
    got=$(leads_in "$url")
    [ "$got" -ge "$ORDERS" ] && break
    sleep 0.1
  done
  t1=$(now)
  sleep 2 # a second run over the imported mailbox, to see it adds nothing
  got=$(leads_in "$url")
  stop_servers
  local secs
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  printf '%-30s %10s %10s  %s\n' "mail, $n instance(s)" "$(awk -v n="$ORDERS" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')" \
    "$secs" "leads $got of $ORDERS orders"
  eval "MAIL_RATE_$n=$(awk -v n="$ORDERS" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')"
}

mkdir -p "$WORK/data"
{
  printf '%-30s %10s %14s %14s %8s\n' "round" "leads/s" "p50 ms (a/b)" "p99 ms (a/b)" "non-2xx"
  http_round 1
  http_round 2
  awk -v a="$HTTP_RATE_2" -v b="$HTTP_RATE_1" 'BEGIN { printf "HTTP, two / one: %.2fx\n", a / b }'
} | tee "$WORK/http.txt"

DOVECOT_DIR=$WORK/dovecot
scripts/dovecot.sh start "$DOVECOT_DIR" </dev/null >"$WORK/dovecot.log" 2>&1
# shellcheck disable=SC1091
. "$DOVECOT_DIR/env"
DOVECOT_PASSWORD=${DOVECOT_PASSWORD:-$(sed -n 's/^export DOVECOT_PASSWORD=//p' "$DOVECOT_DIR/env")}
python3 bench/mail/fill_maildir.py "$DOVECOT_MAIL_ROOT/bench" "$ORDERS" "$ORDERS" >/dev/null
{
  printf '\n%-30s %10s %10s\n' "round" "orders/s" "seconds"
  mail_round 1
  mail_round 2
  awk -v a="$MAIL_RATE_2" -v b="$MAIL_RATE_1" 'BEGIN { printf "mail, two / one: %.2fx\n", a / b }'
} | tee "$WORK/mail.txt"
