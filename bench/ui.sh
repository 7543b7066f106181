#!/usr/bin/env bash
# Web UI benchmark: fills a fresh SQLite database with 100,000 leads and drives the inbox and calendar pages
# with 16 concurrent signed-in clients, printing p50/p90/p99 latency per page (loopback, release build).
#
#   bench/ui.sh                      the default run
#   LG_BENCH_UI_LEADS=200000 bench/ui.sh
#
# Knobs: LG_BENCH_UI_LEADS (100000), LG_BENCH_UI_CLIENTS (16), LG_BENCH_UI_SECONDS (5 per page).
# Everything runs in one process on 127.0.0.1; its temporary directory is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --locked --bench ui
