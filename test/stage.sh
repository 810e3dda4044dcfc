#!/bin/bash
# Copy the source tree to a fresh directory that the postgres user owns
# (PostgreSQL refuses to run as root, and a clone under /root is not
# readable by postgres), build and install it there.  Prints the directory.
# Usage: test/stage.sh [extra PG_CFLAGS]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/payment_records.XXXXXX)
tar -C "$src" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . | tar -C "$dir" -xf -
make -s -C "$dir" clean >/dev/null
make -s -C "$dir" PG_CFLAGS="${1:-}" >&2
make -s -C "$dir" install >&2
chown -R postgres: "$dir"
echo "$dir"
