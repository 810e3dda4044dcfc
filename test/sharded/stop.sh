#!/bin/bash
# test/sharded/stop.sh DIR: stop what test/sharded/start.sh DIR started
# (the data stays; start.sh DIR starts it again).
dir=$1
bin=${PG_BINDIR:-$(pg_config --bindir)}
for d in "$dir"/router "$dir"/reporting "$dir"/shard*; do
    [ -f "$d/postmaster.pid" ] && "$bin/pg_ctl" -D "$d" -m fast -w stop >/dev/null
done
exit 0
