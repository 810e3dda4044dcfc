#!/bin/bash
# test/sharded/start.sh DIR [PORT]: start a sharded payment_records
# deployment on this machine, as separate clusters in DIR: a router
# (PORT, default 5440), three shards (PORT+1 .. PORT+3) and a reporting
# database subscribed to every shard (PORT+4), all listening on the unix
# socket directory DIR/sock only.  Run as a user that may run PostgreSQL
# (postgres), after `make install` (payment_records, payment_records_router)
# with PL/Proxy installed (postgresql-15-plproxy).  PG_BINDIR (default:
# pg_config --bindir) picks the server.  test/sharded/stop.sh DIR stops it.
#
# The SQL is the same the TAP test (test/t/008_sharded.pl) runs:
# shard.sql, router.sql, reporting.sql, subscribe.sql, roles.sql here.
set -euo pipefail
dir=$(mkdir -p "$1" && cd "$1" && pwd)
port=${2:-5440}
here=$(cd "$(dirname "$0")" && pwd)
bin=${PG_BINDIR:-$(pg_config --bindir)}
nshards=3
sock=$dir/sock
mkdir -p "$sock"

# node NAME PORT: initdb (once) and start one small cluster
node() {
    local name=$1 p=$2 d=$dir/$1
    if [ ! -f "$d/PG_VERSION" ]; then
        "$bin/initdb" -D "$d" -U postgres -A trust --no-sync >"$dir/$name.initdb.log" 2>&1
        cat >>"$d/postgresql.conf" <<CONF
port = $p
listen_addresses = ''
unix_socket_directories = '$sock'
shared_buffers = 16MB
max_connections = 40
wal_level = logical
max_wal_senders = 8
max_replication_slots = 8
max_prepared_transactions = 0
fsync = on
CONF
    fi
    "$bin/pg_ctl" -D "$d" -l "$dir/$name.log" -w start >/dev/null
}

psql_at() { "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$1" -U postgres -d postgres "${@:2}"; }
configured() { [ "$(psql_at "$1" -tAc "SELECT count(*) FROM pg_extension WHERE extname LIKE 'payment_records%'")" != 0 ]; }

partitions=
for k in $(seq 0 $((nshards - 1))); do
    p=$((port + 1 + k))
    node "shard$k" $p
    configured $p || psql_at $p -v shard=$k -f "$here/shard.sql"
    partitions+="${partitions:+, }p$k 'host=$sock port=$p dbname=postgres'"
done
node router $port
configured $port || psql_at $port -v partitions="$partitions" -f "$here/router.sql"
rp=$((port + 1 + nshards))
node reporting $rp
if ! configured $rp; then
    psql_at $rp -f "$here/reporting.sql"
    for k in $(seq 0 $((nshards - 1))); do
        psql_at $rp -v shard=$k -v conn="host=$sock port=$((port + 1 + k)) dbname=postgres user=postgres" \
            -f "$here/subscribe.sql"
    done
fi
cat <<MSG
router:    psql -h $sock -p $port -U app postgres
shards:    ports $((port + 1))..$((port + nshards)) (payment_records.shard 0..$((nshards - 1)))
reporting: psql -h $sock -p $rp -U app postgres
stop:      bash $here/stop.sh $dir
MSG
