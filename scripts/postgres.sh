#!/usr/bin/env bash
# A PostgreSQL server on 127.0.0.1 for leadgate's tests, from Debian's packages.
#
# Why a real server: the PostgreSQL backend's transactions, unique constraints, advisory locks and full-text
# search are what the tests are about. The machine's cluster is started (installed first when missing); a role
# for the tests, allowed to create databases, gets a fresh random password on every start. Every test creates
# its own database through it and drops it afterwards.
#
# Usage:
#   scripts/postgres.sh start DIR    start the cluster, (re)create the test role, write DIR/env
#                                    (source it: it exports LEADGATE_TEST_POSTGRES_URL, the role's URL to the
#                                    `postgres` maintenance database)
#   scripts/postgres.sh stop DIR     stop the cluster, if DIR/started says this script started it
set -euo pipefail

ROLE=leadgate_test

die() {
    echo "postgres.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '9,13p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

ensure_installed() {
    if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
        echo "postgres.sh: installing postgresql" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2 || true
        apt-get install -y -qq postgresql >&2
    fi
}

# The first cluster of the newest installed version: "VERSION NAME PORT STATUS".
cluster() {
    pg_lsclusters -h | sort -k1,1n | tail -n 1 | awk '{print $1, $2, $3, $4}'
}

as_postgres() {
    if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

start() {
    local dir=$1
    ensure_installed
    mkdir -p "$dir"
    read -r version name port status < <(cluster)
    [ -n "${version:-}" ] || die "no PostgreSQL cluster found (pg_lsclusters lists none)"
    if [ "$status" != online ]; then
        pg_ctlcluster "$version" "$name" start
        echo "$version $name" >"$dir/started"
    fi
    local password
    password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
    as_postgres psql -q -v ON_ERROR_STOP=1 -p "$port" -d postgres \
        -v role="$ROLE" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN CREATEDB', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN CREATEDB PASSWORD %L', :'role', :'password') \gexec
SQL
    cat >"$dir/env" <<ENV
export LEADGATE_TEST_POSTGRES_URL=postgres://$ROLE:$password@127.0.0.1:$port/postgres
ENV
    echo "postgres.sh: PostgreSQL $version/$name on 127.0.0.1:$port; test role $ROLE; env in $dir/env" >&2
}

stop() {
    local dir=$1
    if [ -f "$dir/started" ]; then
        read -r version name <"$dir/started"
        pg_ctlcluster "$version" "$name" stop || true
        rm -f "$dir/started"
    fi
}

[ $# -ge 2 ] || usage
case "$1" in
start) start "$2" ;;
stop) stop "$2" ;;
*) usage ;;
esac
