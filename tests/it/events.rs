//! `normalize --output parquet DIR`: the events as Parquet hold what the JSON output holds, in
//! flat columns, with the entity key and lifecycle role an engine partitions by.

use std::fs::File;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use polars::prelude::*;
use serde_json::Value;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets").join(rel)
}

fn logsieve() -> Command {
    Command::cargo_bin("logsieve").expect("binary built")
}

fn json_events(args: &[&str]) -> Vec<Value> {
    let out = logsieve().args(["normalize", "-q"]).args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn parquet_events(args: &[&str]) -> (tempfile::TempDir, DataFrame) {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let out = logsieve().args(["normalize", "-q"]).args(args).args(["--output", "parquet", out_dir.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty(), "events go to the file, not stdout");
    let df = ParquetReader::new(File::open(out_dir.join("events.parquet")).unwrap()).finish().unwrap();
    (dir, df)
}

/// The JSON value at a dotted path as text (`None` when absent).
fn json_text(v: &Value, dotted: &str) -> Option<String> {
    let v = dotted.split('.').try_fold(v, |v, k| v.get(k))?;
    Some(match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    })
}

fn column_text(df: &DataFrame, name: &str) -> Vec<Option<String>> {
    let s = df.column(name).unwrap_or_else(|_| panic!("column {name}")).cast(&DataType::String).unwrap();
    s.str().unwrap().iter().map(|v| v.map(str::to_owned)).collect()
}

/// On real logs of three kinds, row i of the Parquet file is event i of the JSON output, column by
/// column, for the fields an engine keys and filters on.
#[test]
fn parquet_rows_are_the_json_events() {
    for (rel, keyed) in [("loghub/OpenSSH_2k.log", true), ("loghub/HDFS_2k.log", true), ("loghub/Linux_2k.log", false)] {
        let path = data(rel);
        let path = path.to_str().unwrap();
        let json = json_events(&[path]);
        let (_dir, df) = parquet_events(&[path]);
        assert_eq!(df.height(), json.len(), "{rel}");
        assert_eq!(json.len(), 2000, "{rel}");
        for col in [
            "@timestamp",
            "message",
            "host.hostname",
            "process.name",
            "process.pid",
            "event.action",
            "event.outcome",
            "user.name",
            "source.ip",
            "logsieve.line",
            "logsieve.rule",
            "logsieve.template_id",
            "logsieve.template",
            "logsieve.state",
            "logsieve.session_key",
            "logsieve.lifecycle",
            "logsieve.block",
        ] {
            let want: Vec<Option<String>> = json.iter().map(|e| json_text(e, col)).collect();
            assert_eq!(column_text(&df, col), want, "{rel}: column {col}");
        }
        let keys = column_text(&df, "logsieve.session_key");
        let with_key = keys.iter().flatten().count();
        if keyed {
            assert!(with_key > 1000, "{rel}: {with_key} of 2000 events carry an entity key");
        }
        let roles = column_text(&df, "logsieve.lifecycle");
        assert!(roles.iter().flatten().all(|r| ["start", "step", "end"].contains(&r.as_str())), "{rel}");
    }
}

/// A structured record with a repeated standard field and fields of its own: the first value
/// is the column, every value and the other fields are kept in `logsieve.fields`; markup stays
/// text.
#[test]
fn repeated_and_extra_fields_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mail.json");
    std::fs::write(
        &log,
        r#"{"@timestamp":"2024-05-01T10:00:00Z","message":"mail queued","process":{"name":"mta"},"email":{"to":{"address":["a@x.org","b@x.org"]}},"custom":"<b>x</b>","n":3}
"#,
    )
    .unwrap();
    let (_d, df) = parquet_events(&[log.to_str().unwrap()]);
    assert_eq!(df.height(), 1);
    assert_eq!(column_text(&df, "email.to.address"), [Some("a@x.org".to_owned())]);
    assert_eq!(column_text(&df, "process.name"), [Some("mta".to_owned())]);
    let fields: Value = serde_json::from_str(column_text(&df, "logsieve.fields")[0].as_deref().unwrap()).unwrap();
    assert_eq!(fields["email.to.address"], serde_json::json!(["a@x.org", "b@x.org"]));
    assert_eq!(fields["custom"], "<b>x</b>");
    assert_eq!(fields["n"], 3);
}

/// No input still gives a file with every column, and a sequences file keeps its sessions.
#[test]
fn empty_input_and_sequences() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.log");
    std::fs::write(&empty, "").unwrap();
    let (_d, df) = parquet_events(&[empty.to_str().unwrap()]);
    assert_eq!(df.height(), 0);
    for col in ["@timestamp", "event.action", "user.name", "logsieve.session_key", "logsieve.lifecycle", "logsieve.fields"] {
        assert!(df.column(col).is_ok(), "column {col} missing");
    }
    let seq = dir.path().join("seq.csv");
    std::fs::write(&seq, "blk_1,E5 E22 E11\nblk_2,E5 E26\n").unwrap();
    let (_d, df) = parquet_events(&["-f", "sequences", seq.to_str().unwrap()]);
    assert_eq!(column_text(&df, "logsieve.session"), [Some("blk_1".to_owned()), Some("blk_2".to_owned())]);
    assert_eq!(column_text(&df, "logsieve.events"), [Some("E5 E22 E11".to_owned()), Some("E5 E26".to_owned())]);
}

/// `--output json DIR` writes what stdout would get; an unknown output format is a usage error.
#[test]
fn json_output_to_a_directory_and_bad_formats() {
    let path = data("loghub/Apache_2k.log");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("j");
    let stdout = logsieve().args(["normalize", "-q", path.to_str().unwrap()]).output().unwrap().stdout;
    let run = logsieve().args(["normalize", "-q", path.to_str().unwrap(), "--output", "json", out.to_str().unwrap()]).output().unwrap();
    assert!(run.status.success());
    assert_eq!(std::fs::read(out.join("events.jsonl")).unwrap(), stdout);
    let bad = logsieve().args(["normalize", path.to_str().unwrap(), "--output", "xml", out.to_str().unwrap()]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--output takes"), "{}", String::from_utf8_lossy(&bad.stderr));
}

fn scores(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("scores.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The Spark path on one machine: normalize the bundled HDFS logs to Parquet, train on the
/// training events, normalize the new logs going on from the model's template miner, and score
/// their events. Every session gets the verdict, score, states, reasons and input lines that
/// training and scoring the raw logs give.
#[test]
fn train_and_score_on_events_match_raw_logs() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n).to_str().unwrap().to_owned();
    let train = data("hdfs/demo/train.log");
    let new = data("hdfs/demo/new.log");
    let (train, new) = (train.to_str().unwrap(), new.to_str().unwrap());
    let ok = |args: &[&str]| {
        let out = logsieve().args(args).arg("-q").output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    ok(&["train", train, "--model", &d("raw.model")]);
    ok(&["score", new, "--model", &d("raw.model"), "--out", &d("raw")]);
    ok(&["normalize", train, "--output", "parquet", &d("e_train")]);
    ok(&["train", "-f", "events", &d("e_train/events.parquet"), "--model", &d("ev.model")]);
    ok(&["normalize", new, "--model", &d("ev.model"), "--output", "parquet", &d("e_new")]);
    ok(&["score", "-f", "events", &d("e_new/events.parquet"), "--model", &d("ev.model"), "--out", &d("ev")]);
    let (raw, ev) = (scores(&dir.path().join("raw")), scores(&dir.path().join("ev")));
    assert_eq!(raw.len(), 60);
    assert_eq!(raw.iter().filter(|r| r["anomalous"] == true).count(), 10);
    assert_eq!(raw, ev);
    assert!(dir.path().join("ev/report.html").exists());
    // The same events as an Arrow IPC stream on standard input.
    let mut df = ParquetReader::new(File::open(d("e_new/events.parquet")).unwrap()).finish().unwrap();
    let mut stream = Vec::new();
    IpcStreamWriter::new(&mut stream).finish(&mut df).unwrap();
    let out = logsieve()
        .args(["score", "-q", "-f", "events", "-", "--model", &d("ev.model"), "--out", &d("ipc")])
        .write_stdin(stream)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(scores(&dir.path().join("ipc")), raw);
}

/// Stored events that do not make sense are refused with the file and row; a file that is not
/// Parquet is an input error, and the other inputs are still read.
#[test]
fn bad_event_files_name_the_file_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let src = data("loghub/OpenSSH_2k.log");
    let (_d, mut df) = parquet_events(&[src.to_str().unwrap()]);
    let mut actions = column_text(&df, "event.action");
    actions[4] = Some("login.maybe".to_owned());
    df.with_column(Column::new("event.action".into(), actions)).unwrap();
    let bad = dir.path().join("bad.parquet");
    ParquetWriter::new(File::create(&bad).unwrap()).finish(&mut df).unwrap();
    let model = dir.path().join("m.model");
    let out = logsieve().args(["train", "-q", "-f", "events", bad.to_str().unwrap(), "--model", model.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("bad.parquet: line 5: unknown event.action \"login.maybe\""), "{err}");
    let text = dir.path().join("text.parquet");
    std::fs::write(&text, "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186\n").unwrap();
    let out = logsieve().args(["normalize", "-f", "events", text.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("text.parquet") && err.contains("not a Parquet file of events"), "{err}");
    let out = logsieve().args(["normalize", "-f", "events", "-"]).write_stdin("not arrow\n").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not an Arrow IPC stream of events"), "{err}");
    // Commands that read lines do not take Parquet bytes for text.
    let out = logsieve().args(["templates", "-f", "events", bad.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not line by line") && out.stdout.is_empty(), "{err}");
}
