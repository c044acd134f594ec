#!/usr/bin/env bash
# Runs the Spark job in local mode on bundled logs (HDFS, sshd, hand-made auth.logs) and checks
# that its verdicts, and its findings about sources and users, equal a single-process run on the
# same files. Usage: examples/spark/check.sh LOGSIEVE_BINARY [MASTER]
# Needs Java 17 and Python 3 (pyspark is installed into a throwaway venv).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
master=${2:-local[2]}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
export PATH="$tmp/venv/bin:$PATH"

# The new logs as two files, so blocks span files and the scoring normalizes in two tasks.
head -n 1200 "$root/datasets/hdfs/demo/new.log" > "$tmp/new-a.log"
tail -n +1201 "$root/datasets/hdfs/demo/new.log" > "$tmp/new-b.log"
train="$root/datasets/hdfs/demo/train.log"

"$bin" train -q "$train" --model "$tmp/single.model"
"$bin" score -q "$tmp/new-a.log" "$tmp/new-b.log" --model "$tmp/single.model" --out "$tmp/single"

job() {
  spark-submit --master "$master" --conf spark.ui.enabled=false "$here/logsieve_job.py" --logsieve "$bin" \
    --train "$train" --score "$tmp/new-a.log" "$tmp/new-b.log" --partitions 4 "$@" 2> "$tmp/spark.log" \
    || { tail -n 40 "$tmp/spark.log"; exit 1; }
}
echo "-- scoring normalized in one task: every field equal"
job --work "$tmp/one" --score-in-one-normalizer
python3 "$here/compare.py" "$tmp/single/scores.jsonl" "$tmp/one/out/scores.jsonl"
echo "-- scoring normalized per file (the default)"
job --work "$tmp/per-file"
python3 "$here/compare.py" --new-template-names-may-differ "$tmp/single/scores.jsonl" "$tmp/per-file/out/scores.jsonl"
test -s "$tmp/per-file/out/report.html"
echo "-- HDFS block sequences (-f sequences), partitioned by block"
seq="$root/datasets/hdfs/sequences"
"$bin" train -q -f sequences "$seq/hdfs_normal_train.csv" --model "$tmp/seq.model"
"$bin" score -q -f sequences "$seq/hdfs_normal_test.csv" "$seq/hdfs_abnormal_head1500.csv" --model "$tmp/seq.model" --out "$tmp/seq-single"
spark-submit --master "$master" --conf spark.ui.enabled=false "$here/logsieve_job.py" --logsieve "$bin" --format sequences \
  --train "$seq/hdfs_normal_train.csv" --score "$seq/hdfs_normal_test.csv" "$seq/hdfs_abnormal_head1500.csv" \
  --partitions 4 --work "$tmp/seq" 2> "$tmp/spark.log" || { tail -n 40 "$tmp/spark.log"; exit 1; }
python3 "$here/compare.py" "$tmp/seq-single/scores.jsonl" "$tmp/seq/out/scores.jsonl"
echo "-- HDFS sequences with anomalous sessions in the training period, event ids given their templates:"
echo "   the same sessions set aside, the same verdicts"
head -n 600 "$seq/hdfs_normal_train.csv" > "$tmp/dirty.csv"
grep -m 6 -E ',(.* )?20( |$)' "$seq/hdfs_abnormal_head1500.csv" >> "$tmp/dirty.csv"
grep -m 3 -E ',(.* )?7( |$)' "$seq/hdfs_abnormal_head1500.csv" >> "$tmp/dirty.csv"
"$bin" train -q -f sequences --templates "$seq/HDFS_templates.csv" "$tmp/dirty.csv" --model "$tmp/dirty.model"
"$bin" score -q -f sequences "$seq/hdfs_abnormal_head1500.csv" --model "$tmp/dirty.model" --out "$tmp/dirty-single"
spark-submit --master "$master" --conf spark.ui.enabled=false "$here/logsieve_job.py" --logsieve "$bin" --format sequences \
  --train "$tmp/dirty.csv" --score "$seq/hdfs_abnormal_head1500.csv" --partitions 3 --work "$tmp/dirty" \
  --train-arg=--templates --train-arg="$seq/HDFS_templates.csv" 2> "$tmp/spark.log" || { tail -n 40 "$tmp/spark.log"; exit 1; }
python3 "$here/compare.py" "$tmp/dirty-single/scores.jsonl" "$tmp/dirty/out/scores.jsonl"
python3 - "$bin" "$tmp/dirty.model" "$tmp/dirty/model" <<'PY'
import json, subprocess, sys
info = [json.loads(subprocess.run([sys.argv[1], "model", "info", "--json", m], capture_output=True, text=True, check=True).stdout) for m in sys.argv[2:]]
a, b = (i["set_aside"] for i in info)
assert a == b, f"set aside differs:\n{a}\n{b}"
assert a["total"] >= 9, a
assert info[0]["errors"] == info[1]["errors"], (info[0]["errors"], info[1]["errors"])
print(f"set aside: {a['total']} sessions, equal; error states {info[0]['errors']}")
PY
echo "-- sshd (loghub OpenSSH): sessions by process, messages no rule knows in their process's session"
ssh="$root/datasets/loghub/OpenSSH_2k.log"
head -n 1000 "$ssh" > "$tmp/ssh-train.log"
tail -n +1001 "$ssh" > "$tmp/ssh-new.log"
"$bin" train -q "$tmp/ssh-train.log" --model "$tmp/ssh.model"
"$bin" score -q "$tmp/ssh-new.log" --model "$tmp/ssh.model" --out "$tmp/ssh-single"
spark-submit --master "$master" --conf spark.ui.enabled=false "$here/logsieve_job.py" --logsieve "$bin" --format syslog \
  --train "$tmp/ssh-train.log" --score "$tmp/ssh-new.log" --partitions 4 --work "$tmp/ssh" 2> "$tmp/spark.log" \
  || { tail -n 40 "$tmp/spark.log"; exit 1; }
python3 "$here/compare.py" "$tmp/ssh-single/scores.jsonl" "$tmp/ssh/out/scores.jsonl"
python3 - "$tmp/ssh-single/scores.jsonl" <<'PY'
import json, sys
n = sum(1 for l in open(sys.argv[1]) if json.loads(l).get("closed") == "entity")
assert n > 0, "the sshd sample gave no finding about sources or users: the check would not cover them"
print(f"findings about sources and users: {n}, equal")
PY
echo "-- sources and users across files and partitions (hand-made auth.logs): rates, failures then a success,"
echo "   values in context learned from shards, followed over all events in one task"
sec="$root/tests/data/security"
head -n 270 "$sec/train.log" > "$tmp/sec-train-a.log"
tail -n +271 "$sec/train.log" > "$tmp/sec-train-b.log"
"$bin" train -q "$tmp/sec-train-a.log" "$tmp/sec-train-b.log" --model "$tmp/sec.model"
"$bin" score -q "$sec/burst.log" "$sec/first_sudo.log" "$sec/root_password.log" --model "$tmp/sec.model" --out "$tmp/sec-single"
spark-submit --master "$master" --conf spark.ui.enabled=false "$here/logsieve_job.py" --logsieve "$bin" --format syslog \
  --train "$tmp/sec-train-a.log" "$tmp/sec-train-b.log" --templates-from "$tmp/sec.model" \
  --score "$sec/burst.log" "$sec/first_sudo.log" "$sec/root_password.log" --partitions 3 --work "$tmp/sec" 2> "$tmp/spark.log" \
  || { tail -n 40 "$tmp/spark.log"; exit 1; }
python3 "$here/compare.py" "$tmp/sec-single/scores.jsonl" "$tmp/sec/out/scores.jsonl"
python3 - "$tmp/sec-single/scores.jsonl" <<'PY'
import json, sys
kinds = sorted({json.loads(l)["reasons"][0]["kind"] for l in open(sys.argv[1]) if json.loads(l).get("closed") == "entity"})
assert kinds == ["failures_then_success", "new_in_context", "rate_burst"], kinds
print(f"finding kinds: {', '.join(kinds)}, equal")
PY
echo "spark check passed ($master)"
