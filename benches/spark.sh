#!/usr/bin/env bash
# The Spark job against one process on 1M raw HDFS lines, and the cost of shards and merge.
# Usage: benches/spark.sh [LOGSIEVE_BINARY]   (default: the release build)
# Input: the shared 20,000-line HDFS head, copied 50 times with block ids and dates made distinct
# per copy (so the copies are new entities, two days apart), as 10 files of 100,000 lines.
# Training reads files 0-4 and scoring files 5-9: 1M lines in all. Needs Java 17 and pyspark.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-${CARGO_TARGET_DIR:-$here/target}/release/logsieve}
src=${HDFS_HEAD:-$here/../shared/datasets/hdfs/raw/logai_HDFS_20000_head.log}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$src" "$tmp" <<'PY'
import datetime, re, sys
src = open(sys.argv[1]).read().splitlines()
blk = re.compile(r"blk_(-?)(\d+)")
for f in range(10):
    with open(f"{sys.argv[2]}/hdfs-{f}.log", "w") as out:
        for c in range(5):
            k = f * 5 + c
            for line in src:
                d = datetime.datetime.strptime(line[:13], "%y%m%d %H%M%S") + datetime.timedelta(days=2 * k)
                line = d.strftime("%y%m%d %H%M%S") + line[13:]
                out.write(blk.sub(lambda m: f"blk_{m.group(1)}{m.group(2)}{k:02d}", line) + "\n")
PY
train=$(printf "$tmp/hdfs-%d.log " 0 1 2 3 4)
score=$(printf "$tmp/hdfs-%d.log " 5 6 7 8 9)
now() { python3 -c 'import time; print(time.time())'; }
since() { python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$1"; }
job() { local master=$1; shift; spark-submit --master "$master" --conf spark.ui.enabled=false "$here/examples/spark/logsieve_job.py" --logsieve "$bin" \
  --train $train --score $score "$@" 2> "$tmp/spark.log" | tail -n 1; }
echo "== one process"
/usr/bin/time -f "one process: %e s" bash -c "'$bin' train -q $train --model '$tmp/single.model' && '$bin' score -q $score --model '$tmp/single.model' --out '$tmp/single'"
for m in 1 2; do
  echo "== spark local[$m], 8 partitions"
  t0=$(now); job "local[$m]" --work "$tmp/sp$m" --partitions 8; echo "local[$m]: $(since "$t0") s"
  python3 "$here/examples/spark/compare.py" "$tmp/single/scores.jsonl" "$tmp/sp$m/out/scores.jsonl"
done
echo "== spark local[2], 100 partitions"
t0=$(now); job "local[2]" --work "$tmp/sp100" --partitions 100; echo "local[2], 100 partitions: $(since "$t0") s"
python3 "$here/examples/spark/compare.py" "$tmp/single/scores.jsonl" "$tmp/sp100/out/scores.jsonl"
echo "== shards and merge"
for n in 8 100; do
  d=$tmp/sp$([ $n = 8 ] && echo 2 || echo 100)/shards
  ls -l "$d"/*.shard | awk -v n=$n '{s+=$5; if(min==""||$5<min)min=$5; if($5>max)max=$5} END {printf "%d shards: %d bytes in all, %d to %d each\n", NR, s, min, max}'
  for i in 1 2 3; do /usr/bin/time -f "merge $n shards: %e s, %M KiB" "$bin" merge -q "$d"/*.shard --model "$tmp/m$n.model"; done
done
ls -l "$tmp/single.model" | awk '{print "one-process model: " $5 " bytes"}'
du -sb "$tmp/sp2/train-parts" | awk '{print "training events as Parquet partitions: " $1 " bytes"}'
