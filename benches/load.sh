#!/usr/bin/env bash
# Load: (1) 1 million distinct session keys in one input, scored with the default cap of open
# sessions and with no effective cap: peak memory of each, evictions reported, and the verdicts
# compared session by session. (2) score on 1M and 10M lines of HDFS sequences: peak memory.
# Usage: bash benches/load.sh   (from the project root, after cargo build --release; ~3 min)
set -euo pipefail
bin="${CARGO_TARGET_DIR:-target}/release/logsieve"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp" <<'PY'
import sys
d = sys.argv[1]
with open(f"{d}/keys.log", "w") as f:
    for i in range(1_000_000):
        s = i // 1000
        f.write(f"Jan  1 {s // 3600 % 24:02d}:{s // 60 % 60:02d}:{s % 60:02d} host sshd[{100000 + i}]: "
                f"Failed password for user{i % 50} from 10.{i % 200}.{i // 200 % 250}.{i % 7 + 1} port {1024 + i % 60000} ssh2\n")
src = open("datasets/hdfs/sequences/hdfs_normal_test.csv").read().splitlines()
for n in (1_000_000, 10_000_000):
    with open(f"{d}/seq{n}.csv", "w") as f:
        for i in range(n):
            k, v = src[i % len(src)].split(",", 1)
            f.write(f"{k}_{i},{v}\n")
PY
"$bin" train datasets/loghub/OpenSSH_2k.log --year 2024 --model "$tmp/ssh.model" -q
"$bin" train -f sequences datasets/hdfs/sequences/hdfs_normal_train.csv --model "$tmp/seq.model" -q
measure() { /usr/bin/time -f "%e s, peak %M KiB" "$@" 2>&1 >/dev/null | grep -E "peak|evicted" ; }
echo "== 1M distinct keys, default cap (100,000 open)"
measure "$bin" score "$tmp/keys.log" --year 2024 --model "$tmp/ssh.model" --out "$tmp/capped"
echo "== 1M distinct keys, cap 2,000,000 (nothing evicted)"
measure "$bin" score "$tmp/keys.log" --year 2024 --model "$tmp/ssh.model" --out "$tmp/uncapped" --max-open-sessions 2000000
python3 - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
def load(p):
    out = {}
    for line in open(p):
        r = json.loads(line)
        out[r["session"]] = (r["anomalous"], r["score"], r["events"])
    return out
a, b = load(f"{d}/capped/scores.jsonl"), load(f"{d}/uncapped/scores.jsonl")
same = sum(1 for k in a if b.get(k) == a[k])
print(f"sessions: capped {len(a)}, uncapped {len(b)}; same verdict, score and events: {same}")
PY
for n in 1000000 10000000; do
  echo "== score, $n lines of HDFS sequences"
  measure "$bin" score -f sequences "$tmp/seq$n.csv" --model "$tmp/seq.model" --out "$tmp/s$n" -q
done
