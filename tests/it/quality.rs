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

/// Grouping accuracy of the template miner (the loghub metric: a line counts when the lines that
/// share its template are exactly those that share its true event) on the 12 bundled loghub 2k
/// samples, read with `--format auto` as a user would, with the one default configuration.
fn grouping_accuracy(system: &str) -> f64 {
    let log = data(&format!("loghub/{system}_2k.log"));
    let truth: Vec<String> =
        std::fs::read_to_string(data(&format!("loghub/{system}_2k.event_ids.txt"))).unwrap().lines().map(str::to_owned).collect();
    let out = ok(&["normalize", "-q", s(&log)]);
    let mut predicted = vec![String::new(); truth.len()];
    for line in out.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let n = v["logsieve"]["line"].as_u64().unwrap() as usize;
        predicted[n - 1] = v["logsieve"]["template_id"].to_string();
    }
    fn groups(labels: &[String]) -> std::collections::HashMap<&str, Vec<usize>> {
        let mut g: std::collections::HashMap<&str, Vec<usize>> = std::collections::HashMap::new();
        for (i, l) in labels.iter().enumerate() {
            g.entry(l.as_str()).or_default().push(i);
        }
        g
    }
    let (mine, true_groups) = (groups(&predicted), groups(&truth));
    let correct: usize = mine.values().filter(|m| true_groups[truth[m[0]].as_str()] == **m).map(Vec::len).sum();
    correct as f64 / truth.len() as f64
}

/// On these samples the miner groups .964 of the lines on average (`../shared/bench/
/// eval_templates.py` gives the same per system). Floors: the average at least .95 (the target
/// of issue #19; published Drain averages .865 over 16 loghub systems with per-system settings),
/// and no system below .80. The hardest is Linux (.814): loghub's truth keeps `user=root`,
/// `user=guest` and `user=test` as three templates, where the OpenSSH and Android truths make the
/// value of a `key=value` a parameter; one rule cannot follow both, and the miner follows the
/// majority.
#[test]
fn template_grouping_accuracy_on_twelve_loghub_systems() {
    let systems =
        ["Android", "Apache", "BGL", "HDFS", "Hadoop", "Linux", "OpenSSH", "OpenStack", "Proxifier", "Spark", "Thunderbird", "Zookeeper"];
    let scores: Vec<(&str, f64)> = systems.iter().map(|s| (*s, grouping_accuracy(s))).collect();
    let average = scores.iter().map(|(_, a)| a).sum::<f64>() / scores.len() as f64;
    assert!(average >= 0.95, "average {average:.4}: {scores:?}");
    assert!(scores.iter().all(|(_, a)| *a >= 0.80), "{scores:?}");
}

/// Events and key fields of the nomenclature corpus when each product's own rules are switched
/// off (leave-one-product-out): what the generic layer makes of a product no pack knows. Returns
/// (events right, rows, fields right, fields) and the misses.
pub fn leave_one_product_out() -> ((usize, usize, usize, usize), Vec<String>) {
    use logsieve::normalize::rules::RuleSet;
    use logsieve::normalize::Normalizer;
    use std::sync::Arc;
    let mut by_product: std::collections::BTreeMap<String, Vec<crate::common::CorpusRow>> = Default::default();
    for row in crate::common::corpus() {
        by_product.entry(row.product.clone()).or_default().push(row);
    }
    let (mut hits, mut rows, mut fields_ok, mut fields_all) = (0, 0, 0, 0);
    let mut misses = Vec::new();
    for (product, lines) in &by_product {
        let mut normalizer = Normalizer::new(Arc::new(RuleSet::builtin_without(product)));
        for row in lines {
            let (hit, ok, all) = crate::common::score_row(row, &mut normalizer, &mut misses);
            rows += 1;
            hits += usize::from(hit);
            fields_ok += ok;
            fields_all += all;
        }
    }
    ((hits, rows, fields_ok, fields_all), misses)
}

/// Leave-one-product-out on the bundled corpus (178 lines of 24 products; each product's lines
/// normalized with its own rules switched off): the vocabulary of events, the analogy with other
/// products' example lines and the field extractors name .899 of the events and find .893 of the
/// key fields (before them: .511 and .498). The floors, .88 and .87, leave room for two or three
/// lines to move with a legitimate change; the target of issue #19 (.90 and .90) is not reached:
/// the misses left are notations only their product uses (exim's `=>`, `**`, `==` and `F=`, su's
/// `+ pts/4 alice-root`, Exchange's tracking columns, procmail's folder lines, Postfix's bare
/// `client=` line).
#[test]
fn products_no_pack_knows_get_their_standard_events() {
    let ((hits, rows, fields_ok, fields_all), misses) = leave_one_product_out();
    let (events, fields) = (hits as f64 / rows as f64, fields_ok as f64 / fields_all as f64);
    eprintln!("leave-one-product-out: events {events:.3} ({hits}/{rows}), fields {fields:.3} ({fields_ok}/{fields_all})");
    // `LOGSIEVE_SHOW_MISSES=1 cargo test --test it leave_one -- --nocapture` lists what is missed.
    if std::env::var_os("LOGSIEVE_SHOW_MISSES").is_some() {
        eprintln!("{}", misses.join("\n"));
    }
    assert!(events >= 0.88 && fields >= 0.87, "events {events:.3}, fields {fields:.3}: {misses:#?}");
}

/// Failures of services no rule pack knows (`datasets/unseen/services.tsv`: 53 lines of 47
/// services, written from each product's documented layout): a line counts when its event's
/// outcome is `failure` and its source address is the client's, and its stamp when the stamp
/// gives the line's month, day and clock time. Measured: .906 and .906 (before the generic-layer
/// and timestamp work of 2026-12-01: .736 and .755). Floors .88 and .88: one or two lines may move
/// with a legitimate change. The misses are wordings no vocabulary should claim (SOGo's `might not
/// have worked`, an HAProxy 401 without words, Dante's `no acceptable authentication method`,
/// Asterisk's `SecurityEvent="InvalidPassword"`) and stamps without a date or behind a level tag
/// (Guacamole's `10:00:28.123`, Murmur's `<W>2024-…`, Monit's zone-first `[CET Mar  1 …]`,
/// Domino's day-first `01-03-2024`, Tine 2.0's request id before the stamp). These lines were the
/// development set of those changes; the referee's held-out services measure generalisation.
#[test]
fn failures_of_services_no_pack_knows() {
    use logsieve::normalize::rules::RuleSet;
    use logsieve::normalize::vocabulary::Outcome;
    use logsieve::normalize::{normalize_text, Normalizer};
    use std::sync::Arc;
    let text = std::fs::read_to_string(data("unseen/services.tsv")).unwrap();
    let rules = Arc::new(RuleSet::builtin());
    let (mut rows, mut failures, mut stamps, mut misses) = (0, 0, 0, Vec::new());
    for row in text.lines().skip(1) {
        let [service, source, time, line] = row.splitn(4, '\t').collect::<Vec<_>>()[..] else { panic!("bad row {row}") };
        let events = normalize_text(line, &mut Normalizer::new(Arc::clone(&rules)));
        let (event, rec) = &events[0];
        let sources: Vec<String> = ["source_ip", "source_domain"]
            .iter()
            .flat_map(|k| event.values(k, rec))
            .map(|v| v.to_ascii_lowercase().trim_start_matches("::ffff:").to_owned())
            .collect();
        let failed = event.outcome == Some(Outcome::Failure) && sources.iter().any(|s| s == source);
        let stamped = rec.timestamp.is_some_and(|t| t.to_string().contains(time));
        rows += 1;
        failures += usize::from(failed);
        stamps += usize::from(stamped);
        if !failed || !stamped {
            misses.push(format!(
                "{service}: outcome {:?}, sources {sources:?}, stamp {:?}",
                event.outcome,
                rec.timestamp.map(|t| t.to_string())
            ));
        }
    }
    let (failures, stamps) = (failures as f64 / rows as f64, stamps as f64 / rows as f64);
    eprintln!("services no pack knows: failures {failures:.3}, stamps {stamps:.3} ({rows} lines)");
    assert!(failures >= 0.88 && stamps >= 0.88, "failures {failures:.3}, stamps {stamps:.3}: {misses:#?}");
}
