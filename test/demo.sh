#!/bin/bash
# README command 1: install what is missing, build and install the
# extension, and run the demo (test/demo.sql) on a throwaway cluster.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/deps.sh"
dir=$(bash "$here/stage.sh")
cd "$dir"
runuser -u postgres -- pg_virtualenv -v 15 \
    psql -X -v ON_ERROR_STOP=1 -q -f test/demo.sql
rm -rf "$dir"
