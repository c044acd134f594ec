//! How well logsieve tells anomalous from normal on the bundled labelled data: every bound here
//! depends on labels, and each says why it is what it is. The other test files check behaviour
//! (what is written, where, with which reasons), so a legitimate change to the model moves
//! numbers only here, where they are reviewed.
//!
//! These are floors for the small samples bundled in `datasets/`; the referee scripts
//! (`../shared/bench`) measure the full sets and the held-out ones, and the closing notes quote
//! them.

use crate::common::{data, ok, s};
use serde_json::Value;

/// Runs `eval --json` on a run directory.
fn eval(scores: &std::path::Path, labels: &std::path::Path) -> Value {
    let out = ok(&["eval", "--json", "--scores", s(&scores.join("scores.jsonl")), "--labels", s(labels)]);
    serde_json::from_str(out.trim()).unwrap()
}

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("no {k}: {v}"))
}

/// HDFS v1 block sessions as event-id sequences, 1,373 clean sessions to train on, 1,373 others and
/// 1,500 anomalous ones to score. Recall ≥ .98: HDFS anomalies carry error events or unseen
/// orders, and the full referee run finds 99.95% of them; .98 leaves room for ~30 sessions of
/// the bundled 1,500 to move with a legitimate change. FPR ≤ .005: the threshold targets .001 on
/// held-out clean sessions; .005 is at most 6 of the 1,373 clean sessions, five times the target,
/// the tolerance of a target fitted on 275 held-out sessions per fold.
#[test]
fn hdfs_sequences_recall_and_false_positive_rate() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let seq = |n: &str| data(&format!("hdfs/sequences/{n}"));
    ok(&["train", "-q", "-f", "sequences", s(&seq("hdfs_normal_train.csv")), "--model", s(&p("m"))]);
    let (normal, abnormal) = (seq("hdfs_normal_test.csv"), seq("hdfs_abnormal_head1500.csv"));
    ok(&["score", "-q", "-f", "sequences", s(&normal), s(&abnormal), "--model", s(&p("m")), "--out", s(&p("out"))]);
    let r = eval(&p("out"), &seq("test_labels.csv"));
    assert!(f(&r, "recall") >= 0.98, "{r}");
    assert!(f(&r, "fpr") <= 0.005, "{r}");
}

/// The demo's raw HDFS lines (`datasets/hdfs/demo`): 50 clean blocks to train on; 60 blocks to
/// score, 10 of them anomalous. All 10 are found: each holds an error message (a failed delete,
/// an exception) that no clean block holds, so missing one is a defect, not noise. At most 1 of
/// the 50 clean blocks is flagged: the threshold targets an FPR of .001, and one block is 2% of
/// this small sample.
#[test]
fn demo_blocks_all_anomalies_found() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    ok(&["demo", "--out", s(&out)]);
    let r = eval(&out, &data("hdfs/demo/labels.csv"));
    assert_eq!(r["tp"], 10, "{r}");
    assert!(r["fp"].as_u64().unwrap() <= 1, "{r}");
}

/// The demo's clean blocks to train on, scored against the 5k-line LogAI HDFS sample (110 blocks,
/// 10 of them the demo's anomalous ones). All 10 are found (as above); at most 2 of the 100 clean
/// blocks are flagged (2%, with room for the blocks that share a training block's lines).
#[test]
fn raw_hdfs_sample_all_anomalies_found() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("hdfs.model");
    let out = dir.path().join("out");
    let key = r"blk_-?\d+";
    ok(&["train", "-q", s(&data("hdfs/demo/train.log")), "--session-key", key, "--model", s(&model)]);
    ok(&["score", "-q", s(&data("hdfs/logai_HDFS_AD_5k.log")), "--session-key", key, "--model", s(&model), "--out", s(&out)]);
    let r = eval(&out, &data("hdfs/demo/labels.csv"));
    assert_eq!(r["tp"], 10, "{r}");
    assert!(r["fp"].as_u64().unwrap() <= 2, "{r}");
}
