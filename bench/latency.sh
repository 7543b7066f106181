#!/usr/bin/env bash
# Lead-to-screen latency: an HTTP order and an order mail (IMAP IDLE, a Dovecot of its own) until each is on
# an open inbox in headless Chromium; p50/p99/max over 100 orders per channel, with the default configuration.
#
#   bench/latency.sh
#   LG_BENCH_LATENCY_ORDERS=300 bench/latency.sh
#
# Needs chromium and chromedriver (as the UI tests do) and Dovecot (scripts/dovecot.sh installs it).
# Everything runs on 127.0.0.1; its temporary directory is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --locked --bench latency
