#!/usr/bin/env bash
# Lead-to-screen latency: an HTTP order and an order mail (IMAP IDLE, a Dovecot of its own) until each is on
# an open inbox in headless Chromium, and until a webhook receiver on loopback has it; p50/p99/max over 100
# orders per channel, with the default configuration, beside the schedule alone (push off). Then 200 open
# live pages: memory per stream and HTTP intake under wrk with and without them. See bench/README.md.
#
#   bench/latency.sh
#   LG_BENCH_LATENCY_ORDERS=20 LG_BENCH_LATENCY_SCHEDULED=2 bench/latency.sh
#
# Needs chromium and chromedriver (as the UI tests do), Dovecot (scripts/dovecot.sh installs it) and wrk
# (the intake part is skipped without it). Everything runs on 127.0.0.1; its temporary directory is removed
# at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --locked --bench latency
