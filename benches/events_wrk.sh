#!/usr/bin/env bash
# Real-time ingest benchmark: wrk on loopback POSTs batches of 100 purchases to
# /v1/events (each batch journaled with one fdatasync before its answer) while a second
# wrk reads recommendations; the same read load runs alone first. Prints events/s, the
# read throughput with and without ingest, and the drop.
#
#   benches/events_wrk.sh [BUNDLE IDS] [SECONDS]
#
# Without BUNDLE/IDS it synthesises a log (5,000 customers, seed 42), trains a bundle on it
# and uses its customer ids. IDS holds known customer ids, one per line.
# Targets (issue 9): >= 20,000 events/s with batches of 100, read drop <= 20%.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SECS:-15}
# What the read load asks for: recommendations (default) or e.g. READ='churn?explain=true'.
# ITEMS=FILE (item ids the bundle knows, one per line; the first 500 are used): post
# purchases of those items at the wall-clock time instead of unknown items at one time.
read_path=${READ:-recommendations?k=10}
# Concurrent event posters (each waits for its fsync before the next batch): fewer posters
# trade ingest rate for read throughput.
event_conns=${EVENT_CONNS:-8}
# RATE=N paces the posters to at most N events/s (each waits N-derived milliseconds after
# an answer before its next batch, so the rate reached is a little lower; it is measured and
# printed). Unset: post as fast as answers come.
rate=${RATE:-0}
port=${PORT:-18282}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --quiet --bin propensity-serve --bin propensity-train
work=$(mktemp -d)
pid=
trap '[[ -n "$pid" ]] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT

if [[ $# -ge 2 ]]; then
    bundle=$1 ids_file=$2 secs=${3:-$secs}
else
    target/release/propensity-train synth --customers 5000 --items 600 --seed 42 --out "$work/events.csv" >/dev/null
    target/release/propensity-train train --events "$work/events.csv" --out "$work/model.bundle" >/dev/null
    bundle=$work/model.bundle
    tail -n +2 "$work/events.csv" | cut -d, -f1 | sort -u >"$work/all-ids.txt"
    ids_file=$work/all-ids.txt
fi
shuf -n 2000 --random-source=<(yes) "$ids_file" >"$work/ids.txt"

target/release/propensity-serve --bundle "$bundle" --journal "$work/journal" \
    --bind "127.0.0.1:$port" --events-batch-limit 1000 >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do curl -sf "127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done

lua_ids() { echo 'local ids = {}'; while read -r id; do printf 'ids[#ids+1] = "%s"\n' "$id"; done <"$work/ids.txt"; }
{
    lua_ids
    echo "local read_path = \"$read_path\""
    cat <<'LUA'
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/v1/customers/" .. ids[(n % #ids) + 1] .. "/" .. read_path)
end
LUA
} >"$work/read.lua"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
if [[ -n "${ITEMS:-}" ]]; then
    # Purchases of items the bundle knows, stamped with the wall clock: every event changes
    # the customer's buy-again history, so the next read of a memoised ranked list
    # re-ranks (the realistic case).
    head -n 500 "$ITEMS" >"$work/items.txt"
else
    # Items the bundle does not know at one fixed time: the purchase history the
    # recommender sees stays the same, so a memoised ranked list survives (the easy case).
    seq 0 49 | sed 's/^/live-/' >"$work/items.txt"
fi
{
    lua_ids
    echo 'local items = {}'
    while read -r it; do printf 'items[#items+1] = "%s"\n' "$it"; done <"$work/items.txt"
    echo "local fixed_ts = \"$now\""
    if [[ -n "${ITEMS:-}" ]]; then echo "local wall_clock = true"; else echo "local wall_clock = false"; fi
    if [[ "$rate" != 0 ]]; then
        echo "delay = function() return $((event_conns * 100 * 1000 / rate)) end"
    fi
    cat <<'LUA'
local n = 0
local headers = { ["Content-Type"] = "application/json" }
request = function()
  local parts = {}
  local ts = fixed_ts
  if wall_clock then ts = os.date("!%Y-%m-%dT%H:%M:%SZ") end
  for k = 1, 100 do
    n = n + 1
    parts[k] = string.format(
      '{"customer_id":"%s","item_id":"%s","timestamp":"%s","price":1.5}',
      ids[(n * 7919) % #ids + 1], items[(n * 31) % #items + 1], ts)
  end
  return wrk.format("POST", "/v1/events", headers, "[" .. table.concat(parts, ",") .. "]")
end
LUA
} >"$work/events.lua"

run_reads() { wrk -t1 -c16 -d"${secs}s" -s "$work/read.lua" "http://127.0.0.1:$port"; }
rps() { grep "Requests/sec" | awk '{print $2}'; }

echo "== reads alone: $read_path (-t1 -c16 -d${secs}s)"
alone=$(run_reads | tee "$work/alone.txt" | rps)
grep -E "Requests/sec|Non-2xx" "$work/alone.txt"

echo "== reads while ingesting batches of 100 (-t1 -c16 reads, -t1 -c$event_conns events)"
wrk -t1 -c"$event_conns" -d"${secs}s" -s "$work/events.lua" "http://127.0.0.1:$port" >"$work/events.txt" &
wpid=$!
busy=$(run_reads | tee "$work/busy.txt" | rps)
wait $wpid
grep -E "Requests/sec|Non-2xx" "$work/busy.txt"
batches=$(rps <"$work/events.txt")
grep -E "Requests/sec|Latency|Non-2xx" "$work/events.txt" | sed 's/^/events: /'
curl -s "127.0.0.1:$port/metrics" | grep -E "^propensity_(events_accepted_total|live_customers|journal_append_seconds_(sum|count))"
python3 - "$alone" "$busy" "$batches" <<'PY'
import sys
alone, busy, batches = map(float, sys.argv[1:])
print(f"events/s: {batches * 100:,.0f} (batches of 100)")
print(f"reads/s alone {alone:,.0f}, while ingesting {busy:,.0f}: drop {100 * (1 - busy / alone):.1f}%")
PY
