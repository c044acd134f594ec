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
