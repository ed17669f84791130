#!/usr/bin/env bash
# SERVE benchmark: wrk on loopback against the recommend endpoint (random known customers,
# k=10) and /healthz (the HTTP floor), side by side in one run, plus a 10,000-id batch churn
# call and the bundle load time from the server log.
#
#   IDS=ids.txt benches/serve_wrk.sh BUNDLE [DURATION_SECONDS]
#
# IDS holds known customer ids, one per line (for Ta-Feng: the CUSTOMER_ID column).
#
# Needs wrk (Debian package; installed if missing) and a release build.
set -euo pipefail
bundle=${1:?usage: benches/serve_wrk.sh BUNDLE [SECONDS]}
secs=${2:-20}
port=${PORT:-18181}
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --quiet
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT


target/release/propensity-serve --bundle "$bundle" --bind "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf "127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
sed 's/\x1b\[[0-9;]*m//g' "$work/serve.log" | grep -o 'millis=[0-9]*' | head -1 | sed 's/^/bundle load: /'

ids_file=${IDS:-}
if [[ -z "$ids_file" ]]; then
    echo "set IDS=file with one known customer id per line (e.g. from the events file)" >&2
    exit 2
fi
shuf -n 2000 --random-source=<(yes) "$ids_file" >"$work/ids.txt"
{
    echo 'local ids = {}'
    while read -r id; do printf 'ids[#ids+1] = "%s"\n' "$id"; done <"$work/ids.txt"
    cat <<'LUA'
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/v1/customers/" .. ids[(n % #ids) + 1] .. "/recommendations?k=10")
end
LUA
} >"$work/recommend.lua"

echo "== /healthz (-t1 -c64 -d${secs}s)"
wrk -t1 -c64 -d"${secs}s" --latency "http://127.0.0.1:$port/healthz" | grep -E "Requests/sec|99%|Non-2xx|Socket errors"
echo "== recommend k=10, random known customers (-t1 -c64 -d${secs}s)"
wrk -t1 -c64 -d"${secs}s" --latency -s "$work/recommend.lua" "http://127.0.0.1:$port" | grep -E "Requests/sec|99%|Non-2xx|Socket errors"

echo "== recommend while POST /admin/reload swaps the bundle twice (-t1 -c64 -d10s)"
wrk -t1 -c64 -d10s --latency -s "$work/recommend.lua" "http://127.0.0.1:$port" >"$work/reload.txt" &
wrk_pid=$!
for at in 3 6; do
    sleep 3
    printf 'reload at ~%ss: ' "$at"
    curl -s -X POST "127.0.0.1:$port/admin/reload" -H 'Content-Type: application/json' -d '{}' | head -c 200
    echo
done
wait $wrk_pid
grep -E "Requests/sec|99%|Non-2xx|Socket errors" "$work/reload.txt"
grep -q "Non-2xx" "$work/reload.txt" || echo "  failed requests: 0 (wrk reports no non-2xx answers)"

python3 - "$work/ids.txt" "$port" <<'PY'
import json, sys, time, urllib.request
ids = [l.strip() for l in open(sys.argv[1]) if l.strip()]
ids = (ids * (10000 // len(ids) + 1))[:10000]
body = json.dumps({"customer_ids": ids}).encode()
times = []
for _ in range(5):
    req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[2]}/v1/churn", data=body,
                                 headers={"Content-Type": "application/json"})
    t = time.perf_counter()
    urllib.request.urlopen(req).read()
    times.append(time.perf_counter() - t)
times.sort()
print(f"== POST /v1/churn with 10,000 ids: median {times[2]*1000:.1f} ms (5 calls)")
PY
