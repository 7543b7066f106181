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
#                                    `postgres` maintenance database, and the restart cluster's variables)
#   scripts/postgres.sh stop DIR     stop the clusters this script started (DIR/started says which)
#   scripts/postgres.sh drop URL DB  drop the database DB on the server at URL (a role's URL to another
#                                    database), ending the role's connections to it first
#
# A second cluster of the same version, leadgate_restart, on another loopback port, is for the tests that
# restart PostgreSQL under a running leadgate (tests/postgres_restart.rs): they restart that one, never the
# machine's cluster that every other test shares. It is created when missing and started like the first; its
# URL is LEADGATE_TEST_POSTGRES_RESTART_URL and LEADGATE_TEST_POSTGRES_RESTART_CLUSTER names it for
# pg_ctlcluster ("VERSION NAME").
set -euo pipefail

ROLE=leadgate_test
RESTART_CLUSTER=leadgate_restart

die() {
    echo "postgres.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '9,15p' "$0" | sed 's/^# \{0,1\}//' >&2
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

# The first cluster of the newest installed version, the restart tests' own left out: "VERSION NAME PORT
# STATUS".
cluster() {
    pg_lsclusters -h | awk -v skip="$RESTART_CLUSTER" '$2 != skip' | sort -s -k1,1n | tail -n 1 |
        awk '{print $1, $2, $3, $4}'
}

# The restart tests' cluster of VERSION, if it exists: "PORT STATUS".
restart_cluster() {
    pg_lsclusters -h | awk -v v="$1" -v name="$RESTART_CLUSTER" '$1 == v && $2 == name {print $3, $4}'
}

# Creates (or resets) the test role on the cluster listening on PORT, with PASSWORD.
test_role() {
    local port=$1 password=$2
    as_postgres psql -q -v ON_ERROR_STOP=1 -p "$port" -d postgres \
        -v role="$ROLE" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN CREATEDB', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN CREATEDB PASSWORD %L', :'role', :'password') \gexec
SQL
}

new_password() {
    head -c 18 /dev/urandom | base64 | tr -d '/+='
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
        # A test ends with its database dropped while its leadgate, on the test's own runtime, may be halfway
        # through opening a connection. The server waits for that client to finish signing in before the drop
        # can go on (authentication_timeout, 60 s by default): every such test took a minute. Five seconds
        # are plenty for a client that is running.
        pg_ctlcluster "$version" "$name" start -o "-c authentication_timeout=5s"
        echo "$version $name" >"$dir/started"
    fi
    local password
    password=$(new_password)
    test_role "$port" "$password"

    # The restart tests' own cluster: listening on loopback only (the packages' default), on the next free
    # port pg_createcluster finds, started by hand only.
    if [ -z "$(restart_cluster "$version")" ]; then
        pg_createcluster --start-conf=manual "$version" "$RESTART_CLUSTER" >&2
    fi
    local restart_port restart_status restart_password
    read -r restart_port restart_status < <(restart_cluster "$version")
    if [ "$restart_status" != online ]; then
        pg_ctlcluster "$version" "$RESTART_CLUSTER" start
        echo "$version $RESTART_CLUSTER" >>"$dir/started"
    fi
    restart_password=$(new_password)
    test_role "$restart_port" "$restart_password"

    cat >"$dir/env" <<ENV
export LEADGATE_TEST_POSTGRES_URL=postgres://$ROLE:$password@127.0.0.1:$port/postgres
export LEADGATE_TEST_POSTGRES_RESTART_URL=postgres://$ROLE:$restart_password@127.0.0.1:$restart_port/postgres
export LEADGATE_TEST_POSTGRES_RESTART_CLUSTER="$version $RESTART_CLUSTER"
ENV
    echo "postgres.sh: PostgreSQL $version/$name on 127.0.0.1:$port, $version/$RESTART_CLUSTER (for the" \
        "restart tests) on 127.0.0.1:$restart_port; test role $ROLE; env in $dir/env" >&2
}

stop() {
    local dir=$1
    if [ -f "$dir/started" ]; then
        while read -r version name; do
            pg_ctlcluster "$version" "$name" stop || true
        done <"$dir/started"
        rm -f "$dir/started"
    fi
}

# Drops the database $2 on the server at the URL $1. DROP DATABASE ... WITH (FORCE) is not enough for a role
# that is not a superuser: PostgreSQL refuses the whole statement while autovacuum works in the database
# (which it may do soon after the database is made and written), since such a role may not end an
# autovacuum worker. So the role's own connections are ended first, and the database dropped without FORCE,
# which stops autovacuum itself. The same as the tests' leadgate_postgres::testing::drop_database.
drop_database() {
    psql -q -v ON_ERROR_STOP=1 "$1" -v db="$2" >/dev/null <<'SQL'
SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
 WHERE datname = :'db' AND usename = current_user AND pid <> pg_backend_pid();
DROP DATABASE IF EXISTS :"db";
SQL
}

[ $# -ge 2 ] || usage
case "$1" in
start) start "$2" ;;
stop) stop "$2" ;;
drop) [ $# -eq 3 ] || usage; drop_database "$2" "$3" ;;
*) usage ;;
esac
