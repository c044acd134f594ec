//! Mergeable training: `train --shard` on partitions of the data and `logsieve merge` give a
//! model whose verdicts equal those of one process trained on all of it, whatever the order of
//! the shards; shards that cannot be joined honestly are refused.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::common::{data, logsieve, ok, s, scores};
use polars::prelude::*;

const KEY: &str = r"blk_-?\d+";

/// Trains a shard on each input list, then merges them in the given orders; the merged models'
/// bytes must not depend on the order. Returns the first merged model.
fn shards_and_merge(dir: &Path, format: &str, parts: &[Vec<String>], extra: &[&str], orders: &[&[usize]]) -> PathBuf {
    let shards: Vec<PathBuf> = parts
        .iter()
        .enumerate()
        .map(|(i, inputs)| {
            let shard = dir.join(format!("part{i}.shard"));
            let mut args = vec!["train", "-q", "-f", format, "--shard", "--model", s(&shard)];
            args.extend(extra);
            args.extend(inputs.iter().map(String::as_str));
            ok(&args);
            shard
        })
        .collect();
    let mut first: Option<(PathBuf, Vec<u8>)> = None;
    for (n, order) in orders.iter().enumerate() {
        let model = dir.join(format!("merged{n}.model"));
        let mut args = vec!["merge", "-q", "--model", s(&model)];
        args.extend(order.iter().map(|&i| s(&shards[i])));
        ok(&args);
        let bytes = std::fs::read(&model).unwrap();
        match &first {
            None => first = Some((model, bytes)),
            Some((_, b)) => assert!(b == &bytes, "merge order {order:?} changed the model"),
        }
    }
    first.unwrap().0
}

/// Scores with two models and asserts every session's verdict, score, reasons and lines agree.
fn same_verdicts(format: &str, inputs: &[&str], extra: &[&str], single: &Path, merged: &Path, dir: &Path) -> (usize, usize) {
    let run = |model: &Path, out: &str| {
        let out = dir.join(out);
        let mut args = vec!["score", "-q", "-f", format, "--model", s(model), "--out", s(&out)];
        args.extend(extra);
        args.extend(inputs);
        ok(&args);
        scores(&out)
    };
    let (a, b) = (run(single, "single"), run(merged, "merged"));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "a session scored differently");
    }
    (a.len(), a.iter().filter(|r| r["anomalous"] == true).count())
}

/// The HDFS block sessions (event-id sequences), split three ways.
#[test]
fn sequences_merged_from_three_shards_score_like_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let train = data("hdfs/sequences/hdfs_normal_train.csv");
    let text = std::fs::read_to_string(&train).unwrap();
    let mut parts = [String::new(), String::new(), String::new()];
    for (i, line) in text.lines().enumerate() {
        // Uneven shards, a session's duplicates spread over all of them.
        let p = [0, 0, 1, 2, 2, 2, 1][i % 7];
        parts[p].push_str(line);
        parts[p].push('\n');
    }
    let paths: Vec<Vec<String>> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let path = dir.path().join(format!("part{i}.csv"));
            std::fs::write(&path, p).unwrap();
            vec![path.display().to_string()]
        })
        .collect();
    let merged = shards_and_merge(dir.path(), "sequences", &paths, &[], &[&[0, 1, 2], &[2, 0, 1], &[1, 2, 0]]);
    let single = dir.path().join("single.model");
    ok(&["train", "-q", "-f", "sequences", s(&train), "--model", s(&single)]);
    let normal = data("hdfs/sequences/hdfs_normal_test.csv");
    let abnormal = data("hdfs/sequences/hdfs_abnormal_head1500.csv");
    let (n, flagged) = same_verdicts("sequences", &[s(&normal), s(&abnormal)], &[], &single, &merged, dir.path());
    assert_eq!(n, 2873);
    assert!(flagged >= 1500, "{flagged} flagged");
    // The model says what it was merged from; the sessions and events add up.
    let info = ok(&["model", "info", "--json", s(&merged)]);
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["info"]["sessions"], 1373, "{info}");
    assert_eq!(info["info"]["inputs"].as_array().map(Vec::len), Some(3), "{info}");
}

/// A raw HDFS log normalized once, its events partitioned by entity key (as Spark would), one
/// shard per partition: the merged model, template miner included, scores the raw new log as
/// the model trained on the raw log does.
#[test]
fn a_raw_log_partitioned_by_entity_merges_to_the_one_process_model() {
    let dir = tempfile::tempdir().unwrap();
    let train = data("hdfs/demo/train.log");
    let events = dir.path().join("events");
    ok(&["normalize", "-q", s(&train), "--output", "parquet", s(&events)]);
    let df = ParquetReader::new(File::open(events.join("events.parquet")).unwrap()).finish().unwrap();
    let keys: Vec<Option<String>> = df
        .column("logsieve.session_key")
        .unwrap()
        .cast(&DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|k| k.map(str::to_owned))
        .collect();
    assert!(keys.iter().all(Option::is_some), "every HDFS line names its block");
    let partition = |k: &str| k.bytes().fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b))) % 4;
    let mut parts = Vec::new();
    for p in 0..4 {
        let mask: BooleanChunked = keys.iter().map(|k| Some(partition(k.as_deref().unwrap_or("")) == p)).collect();
        let mut part = df.filter(&mask).unwrap();
        assert!(part.height() > 0);
        let path = dir.path().join(format!("events{p}.parquet"));
        ParquetWriter::new(File::create(&path).unwrap()).finish(&mut part).unwrap();
        parts.push(vec![path.display().to_string()]);
    }
    let merged = shards_and_merge(dir.path(), "events", &parts, &["--session-key", KEY], &[&[0, 1, 2, 3], &[3, 1, 0, 2]]);
    let single = dir.path().join("single.model");
    ok(&["train", "-q", s(&train), "--session-key", KEY, "--model", s(&single)]);
    let new = data("hdfs/demo/new.log");
    let (n, flagged) = same_verdicts("auto", &[s(&new)], &[], &single, &merged, dir.path());
    assert_eq!(n, 60, "one verdict per block");
    assert!(flagged > 0, "the demo's new logs hold anomalous blocks");
    // Everything `model info` shows agrees but the inputs: states, templates, windows, pairs,
    // values, vectors, threshold.
    let info = |m: &Path| {
        let mut v: serde_json::Value = serde_json::from_str(&ok(&["model", "info", "--json", s(m)])).unwrap();
        v["info"]["inputs"] = serde_json::Value::Null;
        v
    };
    let (a, b) = (info(&single), info(&merged));
    assert_eq!(a, b);
    assert_eq!((a["states"].as_u64(), a["templates"].as_u64()), (Some(16), Some(16)), "{a}");
    // One partition scored on its own: its lines are numbers of the one raw log its events
    // came from, or `file:line` when asked (as for partitions of several logs).
    for (flag, named) in [(None, false), (Some("--lines-with-file"), true)] {
        let out = dir.path().join(format!("part0-{named}"));
        let mut args =
            vec!["score", "-q", "-f", "events", parts[0][0].as_str(), "--model", s(&merged), "--session-key", KEY, "--out", s(&out)];
        args.extend(flag);
        ok(&args);
        let rows = scores(&out);
        let line = &rows[0]["lines"][0];
        assert_eq!(line.is_string(), named, "{line}");
        assert_eq!(line.as_str().is_some_and(|l| l.starts_with(&format!("{}:", train.display()))), named, "{line}");
    }
    // Events drawn from two raw logs name the file in their lines without being asked.
    let both = dir.path().join("both");
    ok(&["normalize", "-q", s(&train), s(&new), "--model", s(&merged), "--output", "parquet", s(&both)]);
    let out = dir.path().join("both-scores");
    ok(&["score", "-q", "-f", "events", s(&both.join("events.parquet")), "--model", s(&merged), "--session-key", KEY, "--out", s(&out)]);
    assert!(scores(&out).iter().all(|r| r["lines"][0].is_string()));
}

/// Two logs mined apart give template 0 to different messages: their shards are refused, and
/// so is training on their events together.
#[test]
fn logs_mined_apart_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, msg: &str| {
        let path = dir.path().join(name);
        let text: String = (0..4).map(|i| format!("2024-03-01T10:00:0{i}Z host app: {msg}\n")).collect();
        std::fs::write(&path, text).unwrap();
        path
    };
    let (a, b) = (write("a.log", "alpha one two"), write("b.log", "beta three"));
    let shard = |log: &Path, name: &str| {
        let out = dir.path().join(name);
        ok(&["train", "-q", "--shard", "--window", "2", s(log), "--model", s(&out)]);
        out
    };
    let (sa, sb) = (shard(&a, "a.shard"), shard(&b, "b.shard"));
    let m = dir.path().join("m.model");
    let (code, _, err) = logsieve(&["merge", s(&sa), s(&sb), "--model", s(&m)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("template 0"), "{err}");
    assert!(!m.exists());
    // Shards trained with other options.
    let sc = dir.path().join("c.shard");
    ok(&["train", "-q", "--shard", "--window", "2", "--ngram", "2", s(&a), "--model", s(&sc)]);
    let (code, _, err) = logsieve(&["merge", s(&sa), s(&sc), "--model", s(&m)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("other options"), "{err}");
    // Events normalized apart and trained together.
    for (log, out) in [(&a, "ea"), (&b, "eb")] {
        ok(&["normalize", "-q", s(log), "--output", "parquet", s(&dir.path().join(out))]);
    }
    let (ea, eb) = (dir.path().join("ea/events.parquet"), dir.path().join("eb/events.parquet"));
    let (code, _, err) = logsieve(&["train", "-q", "-f", "events", "--window", "2", s(&ea), s(&eb), "--model", s(&m)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("normalized apart"), "{err}");
    // A model is not a shard, and a shard is not a model.
    let (code, _, err) = logsieve(&["merge", s(&data("../models/hdfs-demo.model")), "--model", s(&m)]);
    assert_ne!(code, 0);
    assert!(err.contains("not a logsieve shard"), "{err}");
    let (code, _, err) = logsieve(&["model", "info", s(&sa)]);
    assert_ne!(code, 0);
    assert!(err.contains("not a logsieve model"), "{err}");
}
