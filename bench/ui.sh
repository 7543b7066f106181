#!/usr/bin/env bash
# Web UI benchmark: fills a fresh SQLite database with 100,000 leads and drives the inbox (filtered by calendar,
# status and assignee too), a lead page with a 500-entry timeline, the calendar, search and reports pages with
# 16 concurrent signed-in clients (8 for the reports), printing p50/p99/max latency per page (loopback, release
# build). With LG_BENCH_POSTGRES_URL (a role that may create databases) it runs again on a
# fresh PostgreSQL database, dropped at the end.
#
#   bench/ui.sh                      the default run
#   LG_BENCH_UI_LEADS=1000000 LG_BENCH_UI_DAYS=365 bench/ui.sh      the targets' run: a year of a million leads
#
# Knobs: LG_BENCH_UI_LEADS (100000), LG_BENCH_UI_CLIENTS (16), LG_BENCH_UI_REPORT_CLIENTS (8),
# LG_BENCH_UI_SECONDS (5 per page), LG_BENCH_UI_DAYS (31: all leads in May 2019, the densest month view; 365
# spreads them over a year), LG_BENCH_POSTGRES_URL, LG_BENCH_UI_BACKENDS ("sqlite postgres" with that URL),
# LG_BENCH_UI_DB (a SQLite file kept: seeded when missing, reused when it exists), LG_BENCH_UI_PG_DB (a PostgreSQL
# database of that name kept: created and seeded when missing, reused when it exists), LG_BENCH_UI_PAGES (only
# the pages whose name contains one of these comma-separated words, e.g. "inbox,calendar"). Reuse one seeded database
# per backend to measure a change in seconds instead of seeding a million leads again:
#
#   LG_BENCH_UI_DB=/var/tmp/ui-1m.db LG_BENCH_UI_PG_DB=lgbench_ui_1m LG_BENCH_POSTGRES_URL=postgres://... \
#     LG_BENCH_UI_LEADS=1000000 LG_BENCH_UI_DAYS=365 bench/ui.sh
# Everything runs in one process on 127.0.0.1; its temporary directory is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --locked --bench ui
