#!/bin/bash
# Compare two results.csv files from test/bench/run.sh, row by row.
# Usage: bash test/bench/compare.sh OLD.csv NEW.csv
# For pgbench rows the figure is TPS (higher is better), for the others the
# value column (seconds, bytes, ratio: lower is better).  new/old > 1 means
# the new figure is larger.  The ratio to the floor (same run, same clients
# and synchronous_commit) is the figure to compare across machines.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 OLD.csv NEW.csv" >&2; exit 2; }
awk -F, '
    FNR == 1 { next }                           # header
    { key = $1 "," $2 "," $3; fig = ($4 != "") ? $4 : $8; unit = ($4 != "") ? "tps" : $9 }
    NR == FNR { old[key] = fig; ost[key] = $11; ora[key] = $7; next }
    {
        if (!(key in old)) { o = "-"; os = "-"; ox = "-" } else { o = old[key]; os = ost[key]; ox = ora[key] }
        r = (o + 0 > 0 && fig + 0 > 0) ? sprintf("%.2f", fig / o) : "-"
        printf "| %s | %s | %s | %s | %s | %s | %s | %s -> %s | %s -> %s |\n", $1, $2, $3, unit, o, fig, r, (ox == "" ? "-" : ox), ($7 == "" ? "-" : $7), os, $11
    }
    BEGIN {
        print "| test | clients | sync | unit | old | new | new/old | ratio to floor | status |"
        print "|---|---:|---|---|---:|---:|---:|---|---|"
    }
' "$1" "$2"
