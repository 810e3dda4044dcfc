#!/bin/bash
# Benchmark payment_records against a bare INSERT (issue 7).
#
# As root on Debian 12: installs what is missing (test/deps.sh), stages,
# builds and installs the extension from this tree (test/stage.sh), then
# runs test/bench/measure.sh as postgres inside ONE pg_virtualenv (a
# throwaway cluster, dropped even on failure) that loads a private install
# of that build.  Prints a markdown table and
# writes results.md and results.csv to the output directory.
#
# Usage: bash test/bench/run.sh [--quick] [--duration SECONDS] [--out DIR] [--keep]
#   --quick           3 s per pgbench run (smoke test)
#   --duration, -T N  seconds per pgbench run (default 20)
#   --out, -o DIR     output directory (default test/bench/results/<timestamp>)
#   --keep            keep the staged copy with the raw pgbench outputs
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
duration=20
out=
keep=

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case $1 in
        --quick) duration=3 ;;
        -T|--duration) [ $# -ge 2 ] || usage 2; duration=$2; shift ;;
        --duration=*) duration=${1#*=} ;;
        -o|--out) [ $# -ge 2 ] || usage 2; out=$2; shift ;;
        --out=*) out=${1#*=} ;;
        --keep) keep=1 ;;
        -h|--help) usage 0 ;;
        *) echo "unknown option: $1" >&2; usage 2 ;;
    esac
    shift
done
case $duration in ''|*[!0-9]*|0) echo "--duration needs a positive whole number of seconds" >&2; exit 2 ;; esac
if [ "$(id -u)" != 0 ]; then
    echo "run as root (installs packages, builds, and switches to the postgres user)" >&2
    exit 2
fi

out=${out:-$here/results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

echo "== dependencies" >&2
bash "$src/test/deps.sh" >&2

commit=$(git -C "$src" describe --always --dirty 2>/dev/null || echo unknown)

echo "== build and install" >&2
stage=$(bash "$src/test/stage.sh")
cleanup() {
    if [ -n "$keep" ]; then echo "== kept $stage" >&2; else rm -rf "$stage"; fi
}
trap cleanup EXIT
# stage.sh installs into the system directories, which other builds on this
# machine may overwrite during the run; the cluster loads a private copy of
# the same build instead (Debian's extension_destdir looks there first).
make -s -C "$stage" install DESTDIR="$stage/inst" >&2
chown -R postgres: "$stage"

work=$stage/test/bench/work
rm -rf "$work"
mkdir -p "$work"
chown postgres: "$work"

echo "== measuring (about $(( duration * 16 + 60 ))+ s)" >&2
rc=0
runuser -u postgres -- pg_virtualenv -v 15 \
    -o fsync=on -o shared_buffers=256MB -o max_wal_size=4GB -o checkpoint_timeout=30min \
    -o jit=off -o max_connections=50 -o extension_destdir="$stage/inst" \
    bash "$stage/test/bench/measure.sh" "$work" "$duration" "$commit" >&2 || rc=$?

for f in results.md results.csv; do
    [ -f "$work/$f" ] && cp "$work/$f" "$out/"
done
if [ -d "$work/pgbench" ]; then
    mkdir -p "$out/pgbench" && cp "$work"/pgbench/*.out "$out/pgbench/" 2>/dev/null || true
fi
if [ -f "$out/results.md" ]; then
    cat "$out/results.md"
    echo
    echo "results: $out/results.md $out/results.csv"
fi
if [ "$rc" -ne 0 ]; then
    echo "== measure.sh failed (exit $rc); see the messages above" >&2
fi
exit "$rc"
