#!/usr/bin/env bash
# Ta-Feng load time and peak memory: `propensity-train stats` (parse, intern, sort, stats)
# against pandas.read_csv of the same file (parse only), 5 runs each, medians printed.
#
#   benches/ingest_vs_pandas.sh [DATA_DIR]      (default /work/data; fetch with
#                                                training/fetch-dataset.sh tafeng DIR)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-/work/data}
file="$data/ta_feng.csv"
runs=${RUNS:-5}
bin="$here/target/release/propensity-train"

[[ -f "$file" ]] || { echo "error: $file not found; run training/fetch-dataset.sh tafeng $data" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "error: /usr/bin/time not found (apt-get install time)" >&2; exit 1; }
if ! python3 -c 'import pandas' 2>/dev/null; then
    echo "installing pandas with pip" >&2
    python3 -m pip install --quiet pandas
fi
(cd "$here" && cargo build --release --quiet --bin propensity-train)

# measure CMD...: prints "wall_seconds max_rss_kb cpu_seconds" for one run. CPU time
# (user + system) is printed too because wall time on a shared machine mostly measures
# the other processes.
measure() {
    local log
    log=$(mktemp)
    /usr/bin/time -v "$@" >/dev/null 2>"$log" || { cat "$log" >&2; rm -f "$log"; exit 1; }
    awk -F': ' '
        /Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; wall = s }
        /Maximum resident set size/ { rss = $2 }
        /User time \(seconds\)|System time \(seconds\)/ { cpu += $2 }
        END { printf "%.3f %d %.3f\n", wall, rss, cpu }' "$log"
    rm -f "$log"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

rust=() pandas=()
for ((i = 1; i <= runs; i++)); do
    rust+=("$(measure "$bin" stats --events "$file" --format tafeng)")
    pandas+=("$(measure python3 -c 'import sys, pandas; df = pandas.read_csv(sys.argv[1]); print(len(df))' "$file")")
done

rust_s=$(printf '%s\n' "${rust[@]}" | cut -d' ' -f1 | median)
rust_kb=$(printf '%s\n' "${rust[@]}" | cut -d' ' -f2 | median)
pandas_s=$(printf '%s\n' "${pandas[@]}" | cut -d' ' -f1 | median)
pandas_kb=$(printf '%s\n' "${pandas[@]}" | cut -d' ' -f2 | median)
rust_cpu=$(printf '%s\n' "${rust[@]}" | cut -d' ' -f3 | median)
pandas_cpu=$(printf '%s\n' "${pandas[@]}" | cut -d' ' -f3 | median)
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "runs: $runs each; raw (wall_s rss_kb cpu_s): rust [${rust[*]}] pandas [${pandas[*]}]"
printf 'propensity-train stats  median wall %6.3f s  cpu %6.3f s  peak RSS %4d MB\n' "$rust_s" "$rust_cpu" $((rust_kb / 1024))
printf 'pandas.read_csv         median wall %6.3f s  cpu %6.3f s  peak RSS %4d MB\n' "$pandas_s" "$pandas_cpu" $((pandas_kb / 1024))
awk -v r="$rust_s" -v p="$pandas_s" -v rc="$rust_cpu" -v pc="$pandas_cpu" \
    'BEGIN { printf "speed-up                wall %.1fx, cpu %.1fx\n", p / r, pc / rc }'
