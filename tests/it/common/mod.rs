//! Helpers shared by the CLI test files: run the real binary, find the bundled data.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// The repository root (the binary's working directory in tests that use relative paths).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A file under `datasets/`.
pub fn data(rel: &str) -> PathBuf {
    root().join("datasets").join(rel)
}

/// Runs logsieve in the repository root: exit code, stdout, stderr.
pub fn logsieve(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("logsieve").expect("binary built").current_dir(root()).args(args).output().expect("runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Runs logsieve and asserts it succeeded; its stdout.
pub fn ok(args: &[&str]) -> String {
    let (code, out, err) = logsieve(args);
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

/// The rows of `DIR/scores.jsonl`.
pub fn scores(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("scores.jsonl")).expect("scores.jsonl written");
    text.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect()
}

/// A path as a command-line argument.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A clean sshd period: 200 password logins of alice and bob from 10.0.0.1-5 on 1 January, each
/// followed by its session's close.
pub fn sshd_training_log() -> String {
    let mut train = String::new();
    for i in 0..200u32 {
        let user = ["alice", "bob"][i as usize % 2];
        let t = format!("Jan  1 10:{:02}:{:02}", i / 60, i % 60);
        train += &format!("{t} host sshd[{}]: Accepted password for {user} from 10.0.0.{} port 5{i:04} ssh2\n", 1000 + i, i % 5 + 1);
        train += &format!("{t} host sshd[{}]: pam_unix(sshd:session): session closed for user {user}\n", 1000 + i);
    }
    train
}

/// One line of the bundled nomenclature corpus (`datasets/nomenclature/corpus_dev.tsv`).
pub struct CorpusRow {
    /// The product as its rule ids name it (`ftpd (BSD/Solaris/Linux ftpd)` → `ftpd`, `uw-imap`
    /// → `uwimap`).
    pub product: String,
    /// The record (its lines joined by `\n`).
    pub raw: String,
    /// The standard event it must become.
    pub want: String,
    /// Its key fields.
    pub fields: serde_json::Map<String, Value>,
}

/// The corpus's rows.
pub fn corpus() -> Vec<CorpusRow> {
    let mut rdr = csv::ReaderBuilder::new().delimiter(b'\t').from_path(data("nomenclature/corpus_dev.tsv")).unwrap();
    let headers = rdr.headers().unwrap().clone();
    let col = |n: &str| headers.iter().position(|h| h == n).unwrap();
    let (product, raw, want, fields) = (col("product"), col("raw_line"), col("expected_event"), col("fields"));
    rdr.records()
        .map(|row| {
            let row = row.unwrap();
            CorpusRow {
                product: row[product]
                    .split(" (")
                    .next()
                    .unwrap()
                    .chars()
                    .filter(|c| c.is_alphanumeric())
                    .collect::<String>()
                    .to_lowercase(),
                raw: row[raw].replace(" \\n ", "\n"),
                want: row[want].to_owned(),
                fields: serde_json::from_str(&row[fields]).unwrap_or_default(),
            }
        })
        .collect()
}

/// Normalizes a corpus row as the referee does (its first event with a standard name) and
/// scores it: whether the event is right, and how many of its key fields were found, of how
/// many; what was missed goes to `misses`.
pub fn score_row(row: &CorpusRow, normalizer: &mut logsieve::normalize::Normalizer, misses: &mut Vec<String>) -> (bool, usize, usize) {
    let evs = logsieve::normalize::normalize_text(&row.raw, normalizer);
    let head = &row.raw[..row.raw.len().min(110)];
    let Some((ev, rec)) = evs.iter().find(|(e, _)| e.action.is_some()).or(evs.first()) else {
        misses.push(format!("{}: no event: {head}", row.product));
        return (false, 0, 0);
    };
    let got = ev.action.map(|a| a.name).unwrap_or("none");
    let hit = got == row.want || (row.want == "none" && ev.action.is_none());
    if !hit {
        misses.push(format!("{}: {} <- {got}: {head}", row.product, row.want));
    }
    let (mut ok, mut all) = (0, 0);
    for (k, v) in &row.fields {
        if ["user", "target_user", "source_ip", "recipient", "sender", "original_recipient"].contains(&k.as_str()) {
            all += 1;
            let v = v.as_str().unwrap_or("").trim_matches(['<', '>']).to_lowercase();
            if ev.values(k, rec).iter().any(|g| g.to_lowercase() == v) {
                ok += 1;
            } else {
                misses.push(format!("{}: field {k}={v}, got {:?}: {head}", row.product, ev.values(k, rec)));
            }
        }
    }
    (hit, ok, all)
}
