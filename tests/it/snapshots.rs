//! What the user reads on the terminal, as snapshots (insta): help, the per-file summaries on
//! stderr, error messages and exit codes. A change shows as a reviewed diff of
//! `tests/snapshots/*.snap` (accept with `INSTA_UPDATE=always cargo test --test snapshots`, or
//! `cargo insta review`).
//!
//! Each command runs the real binary in a scratch directory holding small hand-made logs, with
//! relative paths, so the text does not depend on where the repository is.

use std::path::Path;

use assert_cmd::Command;

/// A scratch directory with the logs the commands read.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("train.log"), crate::common::sshd_training_log()).unwrap();
    let new = "Jan  2 09:00:00 host sshd[7001]: Accepted password for alice from 10.0.0.2 port 50001 ssh2\n\
Jan  2 09:00:05 host sshd[7001]: pam_unix(sshd:session): session closed for user alice\n\
Jan  2 09:01:00 host sshd[7002]: Accepted password for mallory from 203.0.113.9 port 50002 ssh2\n\
Jan  2 09:01:30 host sshd[7002]: pam_unix(sshd:session): session closed for user mallory\n\
this line has no header at all\n";
    std::fs::write(dir.path().join("new.log"), new).unwrap();
    std::fs::write(dir.path().join("labels.csv"), "session,label\nsshd@host:7001,normal\nsshd@host:7002,maybe\n").unwrap();
    dir
}

/// Runs logsieve in `dir`: exit code, stdout and stderr as one text.
fn run(dir: &Path, args: &[&str]) -> String {
    let out =
        Command::cargo_bin("logsieve").unwrap().current_dir(dir).env("COLUMNS", "100").env_remove("RUST_LOG").args(args).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    format!("exit code {}\n--- stdout\n{}--- stderr\n{}", out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// Snapshots with the parts that change from run to run (the version, durations, process ids)
/// replaced.
macro_rules! snap {
    ($name:expr, $text:expr) => {
        insta::with_settings!({
            filters => vec![
                (r"logsieve \d+\.\d+\.\d+", "logsieve [VERSION]"),
                (r"\.logsieve-partial-\d+", ".logsieve-partial-[PID]"),
                (r"\(os error \d+\)", "(os error N)"),
                (r"rule packs [0-9a-f]{8}", "rule packs [DIGEST]"),
            ],
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!($name, $text);
        });
    };
}

#[test]
fn help_texts() {
    let dir = scratch();
    snap!("help", run(dir.path(), &["--help"]));
    for cmd in ["train", "score", "watch", "normalize"] {
        snap!(format!("help_{cmd}"), run(dir.path(), &[cmd, "--help"]));
    }
}

#[test]
fn summaries_of_a_normal_run() {
    let dir = scratch();
    snap!(
        "normalize_summary",
        run(dir.path(), &["normalize", "--year", "2024", "new.log", "--stats", "stats.json"])
            .split("--- stderr")
            .nth(1)
            .unwrap()
            .to_owned()
    );
    snap!("train_summary", run(dir.path(), &["train", "--year", "2024", "train.log", "--model", "m.model"]));
    snap!("score_summary", run(dir.path(), &["score", "--year", "2024", "new.log", "--model", "m.model", "--out", "run"]));
    snap!("model_info", run(dir.path(), &["model", "info", "m.model"]));
}

#[test]
fn errors_name_the_file_and_exit_2() {
    let dir = scratch();
    run(dir.path(), &["train", "-q", "--year", "2024", "train.log", "--model", "m.model"]);
    let cases: &[(&str, &[&str])] = &[
        ("error_missing_input", &["score", "-q", "missing.log", "--model", "m.model", "--out", "run"]),
        ("error_missing_model", &["score", "-q", "new.log", "--model", "nope.model", "--out", "run"]),
        ("error_model_directory_missing", &["train", "-q", "train.log", "--model", "no/such/dir/m.model"]),
        ("error_bad_format", &["normalize", "--format", "logfmt", "new.log"]),
        ("error_bad_max_fpr", &["train", "-q", "train.log", "--model", "x.model", "--max-fpr", "2"]),
        ("error_bad_window_step", &["train", "-q", "train.log", "--model", "x.model", "--window", "5", "--window-step", "9"]),
        ("error_bad_session_key", &["train", "-q", "train.log", "--model", "x.model", "--session-key", "(unclosed"]),
        ("error_bad_label", &["eval", "--scores", "run/scores.jsonl", "--labels", "labels.csv"]),
        ("error_not_a_model", &["model", "info", "train.log"]),
        ("error_allow_nothing", &["allow", "--model", "m.model"]),
    ];
    run(dir.path(), &["score", "-q", "--year", "2024", "new.log", "--model", "m.model", "--out", "run"]);
    for (name, args) in cases {
        snap!(*name, run(dir.path(), args));
    }
    // A failed scoring run writes nothing: the earlier run's files are as they were.
    assert!(dir.path().join("run/scores.jsonl").exists());
    let before = std::fs::read(dir.path().join("run/scores.jsonl")).unwrap();
    run(dir.path(), &["score", "-q", "missing.log", "new.log", "--model", "m.model", "--out", "run"]);
    assert_eq!(std::fs::read(dir.path().join("run/scores.jsonl")).unwrap(), before);
    assert!(!dir.path().join("no").exists(), "train made no directory");
    assert!(!dir.path().join("x.model").exists());
}
