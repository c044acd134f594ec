#!/usr/bin/env bash
# Side by side with AMiner (logdata-anomaly-miner, the Debian package), same OpenSSH input, same
# machine, one run. Both learn the normal sequences of 3 events per sshd process from the same
# clean part, then detect on the same input:
#   AMiner:   its own sshd parsing model (SshdParsingModel, shipped with the package) under a syslog
#             preamble, an EventSequenceDetector (seq_len 3, id path = the sshd pid), JSON events.
#   logsieve: train on the same part, score the same input (3-grams keyed by sshd@host:pid).
# Usage (root, from the project root): benches/aminer.sh [LINES]   (default 200,000)
# Prints each run's median wall seconds over 3 runs, lines/s, peak RSS; AMiner's start-up (config
# validation, measured on an empty input) and its throughput with and without it; the ratios.
set -euo pipefail
LINES=${1:-200000}
root=$(pwd)
work=${TMPDIR:-/tmp}/logsieve-aminer
mkdir -p "$work"
src=$root/datasets/loghub/OpenSSH_2k.log

if ! command -v aminer >/dev/null; then
  apt-get update -qq && apt-get install -y -qq logdata-anomaly-miner python3-yaml python3-pylibacl time >/dev/null
fi
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
# The packaged aminer runs Python without site-packages: link what its YAML loader imports, and
# the sshd parsing model, into its config folder (what upstream's container image does).
for m in yaml cerberus pytz pkg_resources; do ln -sfn /usr/lib/python3/dist-packages/$m /etc/aminer/conf-enabled/$m; done
ln -sf /usr/lib/python3/dist-packages/posix1e*.so /etc/aminer/conf-enabled/
ln -sf /etc/aminer/conf-available/generic/SshdParsingModel.py /etc/aminer/conf-enabled/
# AMiner's sshd model starts at `sshd[pid]: `; the bench parses that preamble itself (so every line
# has the pid as session id) and uses the model's message types under it.
cat > /etc/aminer/conf-enabled/LogsieveBenchSshdMessages.py <<'PY'
"""AMiner's own sshd message types (SshdParsingModel) without its `sshd[pid]: ` preamble."""
from SshdParsingModel import get_model as sshd_model


def get_model():
    """The FirstMatchModelElement over the sshd message types."""
    return sshd_model().children[3]
PY

[ -n "${LOGSIEVE:-}" ] || cargo build --release -q
bin=${LOGSIEVE:-${CARGO_TARGET_DIR:-$root/target}/release/logsieve}

# Inputs: the first 1,000 lines learn; the sample repeated to LINES lines is scored. LF endings,
# no trailing blanks (AMiner's parser does not backtrack).
sed -e 's/\r$//' -e 's/[[:space:]]*$//' "$src" > "$work/all.log"
head -n 1000 "$work/all.log" > "$work/train.log"
: > "$work/test.log"
while [ "$(wc -l < "$work/test.log")" -lt "$LINES" ]; do cat "$work/all.log" >> "$work/test.log"; done
head -n "$LINES" "$work/test.log" > "$work/test.tmp" && mv "$work/test.tmp" "$work/test.log"
: > "$work/empty.log"

config() { # input learn(true|false) -> writes $work/aminer.yml
  cat > "$work/aminer.yml" <<EOF
LearnMode: $2
AminerUser: aminer
AminerGroup: aminer
Core.PersistenceDir: $work/persist
Core.LogDir: $work/aminerlog
LogResourceList:
  - 'file://$1'
Parser:
  - id: time
    type: DateTimeModelElement
    name: time
    date_format: '%b %d %H:%M:%S'
  - id: host
    type: DelimitedDataModelElement
    name: host
    delimiter: ' '
  - id: pid
    type: DecimalIntegerValueModelElement
    name: pid
  - id: sshd
    type: LogsieveBenchSshdMessages
    name: sshd
  - id: other
    type: AnyByteDataModelElement
    name: other
  - id: msg
    type: FirstMatchModelElement
    name: msg
    args: [sshd, other]
  - id: s0
    type: FixedDataModelElement
    name: s0
    args: ' '
  - id: s1
    type: FixedDataModelElement
    name: s1
    args: ' sshd['
  - id: s2
    type: FixedDataModelElement
    name: s2
    args: ']: '
  - id: model
    start: True
    type: SequenceModelElement
    name: model
    args: [time, s0, host, s1, pid, s2, msg]
Input:
  timestamp_paths: /model/time
Analysis:
  - type: EventSequenceDetector
    id_path_list: ['/model/pid']
    seq_len: 3
    persistence_id: seq
    output_logline: false
    learn_mode: $2
EventHandlers:
  - id: stpe
    type: StreamPrinterEventHandler
    json: true
EOF
}

measure() { # label lines out cmd...: median wall of 3 runs, peak RSS of the last
  local label=$1 n=$2 out=$3; shift 3; local tf t0 t1 walls="" i; tf=$(mktemp)
  for i in 1 2 3; do
    t0=$(date +%s%N)
    /usr/bin/time -v -o "$tf" "$@" >"$out" 2>"$work/$label.err" || echo "$label: exit $?" >&2
    t1=$(date +%s%N)
    walls="$walls $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", (b-a)/1e9}')"
  done
  if grep -q Traceback "$work/$label.err"; then echo "$label: AMiner's analysis crashed, see $work/$label.err" >&2; exit 1; fi
  local wall rss
  wall=$(echo $walls | tr ' ' '\n' | sort -n | sed -n 2p)
  rss=$(awk -F': ' '/Maximum resident set size/{print $2/1024}' "$tf"); rm -f "$tf"
  printf '%-30s %8.3f s %12.0f lines/s %8.1f MiB\n' "$label" "$wall" "$(awk -v n="$n" -v w="$wall" 'BEGIN{print (w>0)?n/w:0}')" "$rss"
  echo "$wall" > "$work/$label.wall"
}

fresh_persistence() {
  rm -rf "$work/persist" "$work/aminerlog"
  install -d -m 0700 -o aminer -g aminer "$work/persist" "$work/aminerlog"
}

echo "== OpenSSH: learn on 1000 lines, detect on $LINES lines"
# AMiner learns (one run; its persistence is what detection reads).
fresh_persistence
config "$work/train.log" true
aminer -c "$work/aminer.yml" -o -f >"$work/learn.out" 2>"$work/learn.err"
if grep -q Traceback "$work/learn.err"; then echo "AMiner's learning run crashed, see $work/learn.err" >&2; exit 1; fi
chown -R aminer:aminer "$work"/persist
rm -rf "$work/persist.learned"; cp -a "$work/persist" "$work/persist.learned"
"$bin" train "$work/train.log" --model "$work/openssh.model" -q

# Detection: AMiner persists what it saw between runs even with learn_mode false, so each run
# starts again from the learned state.
detect() { rm -rf "$work/persist"; cp -a "$work/persist.learned" "$work/persist"; aminer -c "$work/aminer.yml" -o -f; }
config "$work/empty.log" false
measure aminer-startup 0 "$work/aminer-empty.out" bash -c "$(declare -f detect); work=$work; detect"
config "$work/test.log" false
measure aminer-detect "$LINES" "$work/aminer.out" bash -c "$(declare -f detect); work=$work; detect"
measure logsieve-score "$LINES" "$work/logsieve.out" "$bin" score "$work/test.log" --model "$work/openssh.model" --out "$work/logsieve-run" -q

aminer_events=$(grep -c '"AnalysisComponentType": "EventSequenceDetector"' "$work/aminer.out" || true)
logsieve_anomalies=$(grep -c '"anomalous":true' "$work/logsieve-run/scores.jsonl" || true)
logsieve_sessions=$(wc -l < "$work/logsieve-run/scores.jsonl")
echo "AMiner: $aminer_events EventSequenceDetector reports; logsieve: $logsieve_anomalies of $logsieve_sessions sessions anomalous"
awk -v a="$(cat "$work/aminer-detect.wall")" -v s0="$(cat "$work/aminer-startup.wall")" -v l="$(cat "$work/logsieve-score.wall")" -v n="$LINES" 'BEGIN{
  net = a - s0; if (net <= 0) net = a;
  printf "AMiner detection: %.0f lines/s gross, %.0f lines/s without its %.2f s start-up\n", n/a, n/net, s0;
  printf "ratio logsieve-score/AMiner: %.1fx gross, %.1fx against AMiner without start-up\n", a/l, net/l }'
