#!/usr/bin/env bash
# Ta-Feng read time as Parquet beside CSV: `propensity-train stats` (read, intern, sort,
# stats) on the same 817,741 rows written three ways, several runs each, medians printed.
#
#   benches/parquet_vs_csv.sh [DATA_DIR]   (default: data/ in the checkout; fetch the source
#                                           with training/fetch-dataset.sh tafeng DIR)
#   RUNS=N (default 7) runs per file; RAW=1 also prints every run's figures.
#
# Ta-Feng ships in its own layout (--format tafeng), so the rows are first rewritten in the
# data contract's columns, once, into DATA_DIR/tafeng-contract/ (pyarrow does the writing;
# it is installed with pip when missing and is only needed by this script):
#   events.csv               customer_id,item_id,timestamp,quantity,price,category
#   events.snappy.parquet    the same rows typed as a warehouse exports them: ids and
#                            category STRING, timestamp TIMESTAMP(MICROS, UTC), quantity
#                            INT64, price DOUBLE; pyarrow's defaults (Snappy, dictionary
#                            pages, one row group of up to 1Mi rows)
#   events.zstd.parquet      the same, Zstandard
# The script checks that the three give the same `stats --json` before timing them.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$here/data}
src="$data/ta_feng.csv"
out="$data/tafeng-contract"
runs=${RUNS:-7}
bin="$here/target/release/propensity-train"

[[ -f "$src" ]] || { echo "error: $src not found; run training/fetch-dataset.sh tafeng $data" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "error: /usr/bin/time not found (apt-get install time)" >&2; exit 1; }
if ! python3 -c 'import pyarrow' 2>/dev/null; then
    echo "installing pyarrow with pip" >&2
    python3 -m pip install --quiet pyarrow
fi
(cd "$here" && cargo build --release --quiet --bin propensity-train)

mkdir -p "$out"
if [[ ! -f "$out/events.zstd.parquet" ]]; then
    python3 - "$src" "$out" <<'PY'
import csv, datetime, sys
import pyarrow as pa
import pyarrow.parquet as pq

src, out = sys.argv[1], sys.argv[2]
cols = {k: [] for k in ("customer_id", "item_id", "timestamp", "quantity", "price", "category")}
epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
with open(src, newline="", encoding="utf-8-sig") as f:
    for row in csv.DictReader(f):
        m, d, y = (int(x) for x in row["TRANSACTION_DT"].split("/"))
        day = datetime.datetime(y, m, d, tzinfo=datetime.timezone.utc)
        quantity = int(row["AMOUNT"])
        # As --format tafeng reads it: SALES_PRICE is the line total.
        cols["customer_id"].append(row["CUSTOMER_ID"].strip())
        cols["item_id"].append(row["PRODUCT_ID"].strip())
        cols["timestamp"].append(day)
        cols["quantity"].append(quantity)
        cols["price"].append(float(row["SALES_PRICE"]) / quantity)
        cols["category"].append(row["PRODUCT_SUBCLASS"].strip() or None)
with open(f"{out}/events.csv", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(cols.keys())
    for c, i, t, q, p, g in zip(*cols.values()):
        # repr: the shortest text that reads back as the same double.
        w.writerow([c, i, t.strftime("%Y-%m-%d"), q, repr(p), g or ""])
table = pa.table({
    "customer_id": pa.array(cols["customer_id"], pa.string()),
    "item_id": pa.array(cols["item_id"], pa.string()),
    "timestamp": pa.array(cols["timestamp"], pa.timestamp("us", tz="UTC")),
    "quantity": pa.array(cols["quantity"], pa.int64()),
    "price": pa.array(cols["price"], pa.float64()),
    "category": pa.array(cols["category"], pa.string()),
})
pq.write_table(table, f"{out}/events.snappy.parquet", compression="snappy")
pq.write_table(table, f"{out}/events.zstd.parquet", compression="zstd")
print(f"wrote {table.num_rows} rows to {out}", file=sys.stderr)
PY
fi

files=("$out/events.csv" "$out/events.snappy.parquet" "$out/events.zstd.parquet")
want=$("$bin" stats --events "${files[0]}" --json)
for f in "${files[@]:1}"; do
    got=$("$bin" stats --events "$f" --json)
    [[ "$got" == "$want" ]] || { echo "error: stats of $f differ from the CSV's" >&2; diff <(echo "$want") <(echo "$got") >&2; exit 1; }
done

# measure CMD...: prints "wall_seconds max_rss_kb cpu_seconds load_seconds" for one run.
# CPU time (user + system) is printed too because wall time on a shared machine mostly
# measures the other processes; load_seconds is the trainer's own "loaded" log line (read,
# parse, intern, sort: the whole load_events), timed in-process to the microsecond where
# /usr/bin/time rounds to 10 ms.
measure() {
    local log load
    log=$(mktemp)
    NO_COLOR=1 /usr/bin/time -v "$@" >/dev/null 2>"$log" || { cat "$log" >&2; rm -f "$log"; exit 1; }
    load=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | awk '/ loaded / { for (i = 1; i <= NF; i++) if ($i ~ /^seconds=/) { sub(/^seconds=/, "", $i); print $i } }')
    [[ -n "$load" ]] || { echo "error: no 'loaded' line in the trainer's log" >&2; cat "$log" >&2; rm -f "$log"; exit 1; }
    awk -F': ' -v load="$load" '
        /Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; wall = s }
        /Maximum resident set size/ { rss = $2 }
        /User time \(seconds\)|System time \(seconds\)/ { cpu += $2 }
        END { printf "%.3f %d %.3f %.4f\n", wall, rss, cpu, load }' "$log"
    rm -f "$log"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

declare -A results
# Interleaved, so a burst of load elsewhere hits every file alike.
for ((i = 1; i <= runs; i++)); do
    for f in "${files[@]}"; do
        results[$f]+="$(measure "$bin" stats --events "$f")"$'\n'
    done
done

echo "date: $(date -u +%Y-%m-%d); machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: $bin stats --events FILE   ($runs runs each, interleaved; medians)"
echo "load = the trainer's 'loaded' time (load_events); wall, cpu, RSS = the whole process (/usr/bin/time -v)"
csv_load= csv_cpu=
for f in "${files[@]}"; do
    wall=$(printf '%s' "${results[$f]}" | cut -d' ' -f1 | median)
    cpu=$(printf '%s' "${results[$f]}" | cut -d' ' -f3 | median)
    kb=$(printf '%s' "${results[$f]}" | cut -d' ' -f2 | median)
    load=$(printf '%s' "${results[$f]}" | cut -d' ' -f4 | median)
    mb=$(( $(stat -c %s "$f") / 1048576 ))
    [[ -n "$csv_load" ]] || { csv_load=$load; csv_cpu=$cpu; }
    awk -v n="$(basename "$f")" -v l="$load" -v w="$wall" -v c="$cpu" -v r="$((kb / 1024))" -v mb="$mb" -v cl="$csv_load" -v cc="$csv_cpu" \
        'BEGIN { printf "%-22s %4d MB  median load %6.3f s  wall %6.3f s  cpu %6.3f s  peak RSS %4d MB  (CSV/this: load %.2fx, cpu %.2fx)\n", n, mb, l, w, c, r, cl / l, cc / c }'
done
if [[ -n "${RAW:-}" ]]; then
    echo "raw (wall_s max_rss_kb cpu_s load_s per run):"
    for f in "${files[@]}"; do
        printf '%s\n%s' "$(basename "$f")" "${results[$f]}" | sed '2,$s/^/  /'
    done
fi
