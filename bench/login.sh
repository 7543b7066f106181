#!/usr/bin/env bash
# Sign-in flood benchmark: does a flood of huge sign-in attempts hurt the intake?
#
#   bench/login.sh
#
# Starts `leadgate serve` (release build) on 127.0.0.1 with a fresh SQLite database, then measures the HTTP
# intake (wrk -t1 -c4, POST /api/v1/intake with the sample payload, bench/http/intake.lua) twice for
# LG_BENCH_LOGIN_SECONDS (10) each: alone, and while LG_BENCH_LOGIN_CLIENTS (24) connections flood POST /login
# with 1 MiB logins (bench/http/login_flood.lua). Prints intake p50/p99 and rate for both, the flood's
# answers, and the server's resident memory (VmRSS before, VmHWM peak after). Target: intake p99 < 250 ms
# and memory bounded during the flood.
#
# Needs wrk (apt-get install wrk), curl, python3. Everything runs on loopback; the server is stopped and the
# temporary directory removed at the end (LG_BENCH_KEEP=1 keeps it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
LEADGATE=${LG_BENCH_LEADGATE:-$CARGO_TARGET_DIR/release/leadgate}
SECONDS_EACH=${LG_BENCH_LOGIN_SECONDS:-10}
CLIENTS=${LG_BENCH_LOGIN_CLIENTS:-24}

for tool in wrk curl python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool is not installed" >&2; exit 1; }
done
if [ -z "${LG_BENCH_LEADGATE:-}" ]; then
  echo "== building leadgate (cargo build --release)" >&2
  cargo build --release --locked >&2
fi

WORK=$(mktemp -d -t leadgate-login.XXXXXX)
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
  [ -n "$PID" ] && wait "$PID" 2>/dev/null || true
  if [ "${LG_BENCH_KEEP:-0}" = 1 ]; then echo "bench: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
cat >"$WORK/leadgate.toml" <<TOML
[server]
listen = "127.0.0.1:$port"

[database]
url = "sqlite://$WORK/leadgate.db"

[schedule.mail_collector]
enabled = false

[[http_sources]]
name = "bench"
token_env = "BENCH_TOKEN"
# The intake's own rate limits would answer most of wrk's requests with 429: the figures are for the intake.
rate_limit_per_client = 0
rate_limit_total = 0
TOML
BENCH_TOKEN="$token" "$LEADGATE" serve --config "$WORK/leadgate.toml" </dev/null >"$WORK/serve.log" 2>&1 &
PID=$!
for _ in $(seq 300); do
  curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$port/healthz" 2>/dev/null && break
  kill -0 "$PID" 2>/dev/null || { tail -n 20 "$WORK/serve.log" >&2; exit 1; }
  sleep 0.1
done

mem() { awk -v k="$1:" '$1 == k { print int($2 / 1024) " MB" }' "/proc/$PID/status"; }
intake() {
  BENCH_TOKEN="$token" wrk -t1 -c4 -d"${SECONDS_EACH}s" --latency -s bench/http/intake.lua \
    "http://127.0.0.1:$port" 2>"$WORK/wrk-intake.err" | grep '^intake: '
}
field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n1; }

echo "== intake alone" >&2
alone=$(intake)
rss_before=$(mem VmRSS)
echo "== intake while $CLIENTS connections flood /login with 1 MiB logins" >&2
wrk -t2 -c"$CLIENTS" -d"$((SECONDS_EACH + 2))s" -s bench/http/login_flood.lua "http://127.0.0.1:$port" \
  >"$WORK/flood.out" 2>"$WORK/flood.err" &
flood_pid=$!
sleep 1
flooded=$(intake)
wait "$flood_pid" || true
flood=$(grep '^login_flood: ' "$WORK/flood.out" || echo "login_flood: wrk printed no summary")

printf '\n%-34s %9s %9s %9s %8s\n' "intake (wrk -t1 -c4)" "leads/s" "p50 ms" "p99 ms" "non-2xx"
for row in "alone|$alone" "during the /login flood|$flooded"; do
  label=${row%%|*} line=${row#*|}
  printf '%-34s %9s %9s %9s %8s\n' "$label" "$(field rps "$line")" "$(field p50_ms "$line")" \
    "$(field p99_ms "$line")" "$(field non_2xx "$line")"
done
printf '\nflood: %s\n' "${flood#login_flood: }"
printf 'server memory: VmRSS %s before the flood, VmRSS %s after, peak (VmHWM) %s\n' \
  "$rss_before" "$(mem VmRSS)" "$(mem VmHWM)"
printf 'target: intake p99 < 250 ms during the flood, memory bounded\n'
