#!/usr/bin/env bash
# Start a local PostgreSQL for the store tests and print its URL on stdout (everything else on stderr).
# Idempotent: installs Debian's postgresql when missing, creates or starts the cluster, listens on
# 127.0.0.1 only, and (re)creates role and database `recon_test` with a known password.
#   export RECON_TEST_POSTGRES_URL="$(scripts/start-postgres.sh)"
set -euo pipefail

ROLE="${RECON_TEST_PG_ROLE:-recon_test}"
PASSWORD="${RECON_TEST_PG_PASSWORD:-recon_test}"
DATABASE="${RECON_TEST_PG_DATABASE:-recon_test}"
CLUSTER="main"

log() { echo "start-postgres: $*" >&2; }

as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -n -u postgres "$@"; fi
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    log "installing postgresql from Debian's packages"
    as_root apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >&2
fi

VERSION="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$VERSION $CLUSTER"; then
    log "creating cluster $VERSION/$CLUSTER"
    as_root pg_createcluster "$VERSION" "$CLUSTER" >&2
fi

status="$(pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1==v && $2==c {print $4}')"
if [ "$status" != "online" ]; then
    log "starting cluster $VERSION/$CLUSTER on 127.0.0.1"
    as_root pg_ctlcluster "$VERSION" "$CLUSTER" start -o "-c listen_addresses=127.0.0.1" >&2
fi
PORT="$(pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1==v && $2==c {print $3}')"

for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p "$PORT" && break
    sleep 1
done
pg_isready -q -h 127.0.0.1 -p "$PORT" || { log "PostgreSQL is not accepting connections on 127.0.0.1:$PORT"; exit 1; }

psql_admin() { as_postgres psql -q -v ON_ERROR_STOP=1 -p "$PORT" -d postgres "$@"; }
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != "1" ]; then
    log "creating role $ROLE"
    psql_admin -c "CREATE ROLE \"$ROLE\" LOGIN PASSWORD '$PASSWORD'" >&2
else
    psql_admin -c "ALTER ROLE \"$ROLE\" LOGIN PASSWORD '$PASSWORD'" >&2
fi
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != "1" ]; then
    log "creating database $DATABASE"
    psql_admin -c "CREATE DATABASE \"$DATABASE\" OWNER \"$ROLE\"" >&2
fi

echo "postgresql+psycopg://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"
