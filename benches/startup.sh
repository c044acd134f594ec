#!/usr/bin/env bash
# Start-up time of the release binary: `logsieve --version`, and a whole `normalize` / `score`
# run on an empty input (load the rule packs and the model, write empty outputs and the report).
# Mean wall time over N runs each, beside /bin/true for the cost of starting a process at all.
# Usage: bash benches/startup.sh [N]   (from the project root, after cargo build --release)
set -euo pipefail
n=${1:-200}
bin="${CARGO_TARGET_DIR:-target}/release/logsieve"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: > "$tmp/empty.log"
mean() {
  local start end
  start=$(date +%s%N)
  for _ in $(seq "$n"); do "$@" > /dev/null 2>&1; done
  end=$(date +%s%N)
  awk -v ns=$((end - start)) -v n="$n" 'BEGIN { printf "%.2f ms", ns / n / 1e6 }'
}
echo "runs each: $n"
echo "/bin/true:                    $(mean /bin/true)"
echo "logsieve --version:           $(mean "$bin" --version)"
echo "normalize (empty input):      $(mean "$bin" normalize "$tmp/empty.log" -q)"
echo "score (empty input, demo model): $(mean "$bin" score "$tmp/empty.log" --model models/hdfs-demo.model --out "$tmp/out" -q)"
echo "score (empty input, sequences model): $(mean "$bin" score -f sequences "$tmp/empty.log" --model models/hdfs-sequences.model --out "$tmp/out" -q)"
