#!/bin/bash
# Install, as root on Debian 12, what building and testing payment_records
# needs and is missing.  Nothing else is assumed to be on the machine but
# the postgresql-15 server and client.  Arguments: more packages.
# PR_PG_MAJOR (default 15) names the server's major version (test/pgroot.sh
# runs test/deb.sh in roots with 17 and 18).  PL/Proxy is for the sharded
# deployment's router (payment_records_router, test/t/008_sharded.pl);
# curl for that test's and the gateway's HTTP calls.
set -euo pipefail

need=(make gcc "postgresql-server-dev-${PR_PG_MAJOR:-15}" libipc-run-perl libmicrohttpd-dev libpq-dev
      "postgresql-${PR_PG_MAJOR:-15}-plproxy" curl "$@")
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
