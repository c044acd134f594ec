//! The learning core through the real binary: train on clean sessions, score new ones, evaluate
//! against labels, on bundled real data and on small hand-made cases.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde_json::Value;

use crate::common::{data, logsieve, ok, s, scores, sshd_training_log};

/// The HDFS v1 sequences: train on every other normal session, score the rest and the abnormal
/// ones; every session is scored, a PR curve is drawn, every flagged session says why and names
/// its line. (How well they are told apart is in tests/quality.rs.)
#[test]
fn hdfs_sequences_are_scored_with_reasons_and_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let seq = |n: &str| data(&format!("hdfs/sequences/{n}"));
    let (normal, abnormal) = (seq("hdfs_normal_test.csv"), seq("hdfs_abnormal_head1500.csv"));
    ok(&["train", "--format", "sequences", s(&seq("hdfs_normal_train.csv")), "--model", s(&p("m")), "-q"]);
    ok(&["score", "--format", "sequences", s(&normal), s(&abnormal), "--model", s(&p("m")), "--out", s(&p("out")), "-q"]);
    let rows = scores(&p("out"));
    assert_eq!(rows.len(), 1373 + 1500);
    let out = ok(&["eval", "--scores", s(&p("out/scores.jsonl")), "--labels", s(&seq("test_labels.csv")), "--json"]);
    let r: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!((r["missing"].as_u64(), r["sessions"].as_u64()), (Some(0), Some(1373 + 1500)), "{r}");
    let svg = std::fs::read_to_string(p("out/pr_curve.svg")).expect("PR curve drawn");
    assert!(svg.contains("<svg") && svg.contains("precision"));
    // Every flagged session says why; a sequence's line is its file and line in the input.
    for row in rows.iter().filter(|r| r["anomalous"] == true) {
        assert!(!row["reasons"].as_array().unwrap().is_empty(), "{row}");
    }
    assert_eq!(rows[0]["lines"], serde_json::json!([format!("{}:1", s(&normal))]));
    assert_eq!(rows[1373]["lines"], serde_json::json!([format!("{}:1", s(&abnormal))]));
}

/// The demo's split of the raw HDFS sample (`datasets/hdfs/demo/split.py`): the lines of every
/// other normal block for training (a clean period, as the referee picks it), the labels of the
/// other blocks, and the anomalous block ids.
fn hdfs_raw_split() -> (PathBuf, PathBuf, Vec<String>) {
    let labels = data("hdfs/demo/labels.csv");
    let text = std::fs::read_to_string(&labels).unwrap();
    let anomalous = text.lines().skip(1).filter_map(|l| l.split_once(',')).filter(|r| r.1 == "Anomaly").map(|r| r.0.to_owned()).collect();
    (data("hdfs/demo/train.log"), labels, anomalous)
}

/// Raw HDFS lines, sessions keyed by block id: one session per block, the reasons point at real
/// lines of that block, and every field of the output contract is there. (How many anomalous
/// blocks are found is in tests/quality.rs.)
#[test]
fn raw_hdfs_blocks_scored_with_reasons_on_real_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (train, labels, anomalous) = hdfs_raw_split();
    let model = dir.path().join("hdfs.model");
    let out = dir.path().join("out");
    let key = r"blk_-?\d+";
    ok(&["train", s(&train), "--session-key", key, "--model", s(&model), "-q"]);
    let raw = data("hdfs/logai_HDFS_AD_5k.log");
    ok(&["score", s(&raw), "--session-key", key, "--model", s(&model), "--out", s(&out), "-q"]);
    let rows = scores(&out);
    let e = ok(&["eval", "--scores", s(&out.join("scores.jsonl")), "--labels", s(&labels), "--json"]);
    let r: Value = serde_json::from_str(e.trim()).unwrap();
    assert_eq!(r["missing"], 0, "every labelled block is scored: {r}");
    // One session per block (blocks live half a day: the default timeouts keep them whole).
    let keys: std::collections::HashSet<&str> = rows.iter().map(|r| r["session"].as_str().unwrap()).collect();
    assert_eq!(keys.len(), rows.len());
    assert_eq!(rows.len(), 110);
    let text = std::fs::read_to_string(&raw).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for row in &rows {
        for field in ["session", "score", "anomalous", "threshold", "start", "end", "events", "reasons", "lines", "components"] {
            assert!(row.get(field).is_some(), "{field} missing: {row}");
        }
        let key = row["session"].as_str().unwrap();
        let ls = row["lines"].as_array().unwrap();
        assert_eq!(ls.len(), row["events"].as_array().unwrap().len());
        for l in ls {
            let n = l.as_u64().unwrap() as usize;
            assert!(lines[n - 1].contains(key), "line {n} does not hold {key}");
        }
        assert!(row["start"].as_str().unwrap().starts_with("2008-11-"), "{}", row["start"]);
    }
    // The highest-scoring anomalous block's reasons.
    let flagged_row = rows
        .iter()
        .filter(|r| anomalous.iter().any(|a| r["session"] == a.as_str()))
        .max_by(|a, b| a["score"].as_f64().unwrap().total_cmp(&b["score"].as_f64().unwrap()))
        .unwrap();
    let reasons = flagged_row["reasons"].as_array().unwrap();
    assert!(!reasons.is_empty());
    for r in reasons {
        assert!(r["text"].as_str().is_some_and(|t| !t.is_empty()) && r["component"].is_string() && r["p"].is_number(), "{r}");
        if let Some(pos) = r.get("position") {
            assert!((pos.as_u64().unwrap() as usize) < flagged_row["events"].as_array().unwrap().len());
        }
    }
    let parquet = std::fs::read(out.join("scores.parquet")).unwrap();
    assert!(parquet.starts_with(b"PAR1") && parquet.ends_with(b"PAR1"));
}

/// Hand-made sessions: an unseen window is named with its position, an unseen state too, and a
/// session seen in training is not flagged. `--fail-on-anomaly` exits 1.
#[test]
fn reasons_name_the_unseen_window_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let mut train = String::new();
    for i in 0..1000 {
        let tail = if i % 3 == 0 { "login logout" } else { "login cmd logout" };
        train += &format!("s{i},open auth {tail} close\n");
    }
    std::fs::write(p("train.csv"), train).unwrap();
    std::fs::write(
        p("test.csv"),
        "ok,open auth login cmd logout close\nodd,open auth cmd login logout close\nnew,open auth login sudo logout close\n",
    )
    .unwrap();
    // Training holds two variants only, so every held-out score is 0: one unseen window has
    // p = 2/1001 (two sequence components), which a 1% false-positive target lets through.
    ok(&["train", "-f", "sequences", s(&p("train.csv")), "--model", s(&p("m")), "--max-fpr", "0.01", "--ngram", "3", "-q"]);
    let (code, _, err) =
        logsieve(&["score", "-f", "sequences", s(&p("test.csv")), "--model", s(&p("m")), "--out", s(&p("o")), "--fail-on-anomaly"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("3 sessions scored, 2 anomalous"), "{err}");
    let rows: BTreeMap<String, Value> = scores(&p("o")).into_iter().map(|r| (r["session"].as_str().unwrap().to_owned(), r)).collect();
    assert_eq!(rows["ok"]["anomalous"], false);
    assert_eq!(rows["odd"]["anomalous"], true);
    let odd = rows["odd"]["reasons"].as_array().unwrap();
    let windows: Vec<(&Value, &Value)> =
        odd.iter().filter(|r| r["kind"] == "unseen_window").map(|r| (&r["states"], &r["position"])).collect();
    assert_eq!(windows.len(), 3, "{odd:?}");
    assert!(windows.contains(&(&serde_json::json!(["open", "auth", "cmd"]), &Value::from(0))), "{windows:?}");
    assert!(windows.contains(&(&serde_json::json!(["auth", "cmd", "login"]), &Value::from(1))), "{windows:?}");
    assert!(windows.contains(&(&serde_json::json!(["cmd", "login", "logout"]), &Value::from(2))), "{windows:?}");
    let new = rows["new"]["reasons"].as_array().unwrap();
    let st = new.iter().find(|r| r["kind"] == "unseen_state").expect("an unseen state");
    assert_eq!((st["states"][0].as_str(), st["position"].as_u64()), (Some("sudo"), Some(3)));
    assert_eq!(rows["new"]["events"], serde_json::json!(["open", "auth", "login", "sudo", "logout", "close"]));
}

/// New parameter values: a login from a user and a network never seen in training.
#[test]
fn new_values_are_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let mut train = String::new();
    for i in 0..300u32 {
        let user = ["alice", "bob", "carol"][i as usize % 3];
        let pid = 1000 + i;
        train += &format!(
            "Jan  1 10:{:02}:{:02} host sshd[{pid}]: Accepted password for {user} from 10.0.0.{} port 5{i:04} ssh2\n",
            i / 60,
            i % 60,
            i % 7 + 1
        );
        train +=
            &format!("Jan  1 10:{:02}:{:02} host sshd[{pid}]: pam_unix(sshd:session): session closed for user {user}\n", i / 60, i % 60);
    }
    std::fs::write(p("train.log"), train).unwrap();
    let test = "Jan  2 09:00:00 host sshd[77]: Accepted password for mallory from 203.0.113.9 port 40000 ssh2\n\
                Jan  2 09:00:05 host sshd[77]: pam_unix(sshd:session): session closed for user mallory\n\
                Jan  2 09:01:00 host sshd[78]: Accepted password for alice from 10.0.0.3 port 40001 ssh2\n\
                Jan  2 09:01:05 host sshd[78]: pam_unix(sshd:session): session closed for user alice\n\
                Jan  2 09:02:00 host sshd[79]: Accepted password for <script>alert(1)</script> from 203.0.113.9 port 40002 ssh2\n\
                Jan  2 09:02:05 host sshd[79]: pam_unix(sshd:session): session closed for user </table>\x1b[31m\n";
    std::fs::write(p("test.log"), test).unwrap();
    ok(&["train", s(&p("train.log")), "--year", "2024", "--model", s(&p("m")), "-q"]);
    ok(&["score", s(&p("test.log")), "--year", "2024", "--model", s(&p("m")), "--out", s(&p("o")), "-q"]);
    let rows: HashMap<String, Value> = scores(&p("o")).into_iter().map(|r| (r["session"].as_str().unwrap().to_owned(), r)).collect();
    let bad = rows.iter().find(|(k, _)| k.ends_with(":77")).expect("session of pid 77").1;
    let good = rows.iter().find(|(k, _)| k.ends_with(":78")).expect("session of pid 78").1;
    let values: Vec<(String, String)> = bad["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "new_value")
        .map(|r| (r["field"].as_str().unwrap().to_owned(), r["value"].as_str().unwrap().to_owned()))
        .collect();
    assert!(values.contains(&("user".into(), "mallory".into())), "{values:?}");
    assert!(values.contains(&("source_net".into(), "203.0.113.0/24".into())), "{values:?}");
    assert!(good["reasons"].as_array().unwrap().iter().all(|r| r["kind"] != "new_value"), "{good}");
    assert_eq!(bad["events"], serde_json::json!(["authentication.login.success", "session.end"]));
    // Log content in the report stays text: the hostile session is listed, escaped.
    let html = std::fs::read_to_string(p("o/report.html")).expect("report written");
    assert!(html.contains("user=script&gt;alert(1)&lt;/script"), "user name not shown escaped");
    assert!(!html.contains("alert(1)</script") && !html.contains('\x1b'), "log content reached the page as markup");
    assert_eq!((html.matches("<script>").count(), html.matches("</script>").count()), (1, 1), "only the report's own sorting script");
}

/// Training twice on the same input gives the same bytes; `model info` reads the model back; a
/// damaged model is refused with a message naming the file.
#[test]
fn models_are_deterministic_inspectable_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let log = data("loghub/OpenSSH_2k.log");
    ok(&["train", s(&log), "--model", s(&p("a")), "-q"]);
    ok(&["train", s(&log), "--model", s(&p("b")), "-q"]);
    let a = std::fs::read(p("a")).unwrap();
    assert!(a == std::fs::read(p("b")).unwrap(), "training is not deterministic");
    let info = ok(&["model", "info", s(&p("a"))]);
    for want in ["format version 8", "entities     [source_ip, user]", "ngram 3", "threshold", "templates in the miner", "OpenSSH_2k.log"] {
        assert!(info.contains(want), "{want}: {info}");
    }
    let json: Value = serde_json::from_str(ok(&["model", "info", s(&p("a")), "--json"]).trim()).unwrap();
    assert!(json["info"]["sessions"].as_u64().unwrap() > 100, "{json}");
    // A model of another kind of log: the user is told plainly, and nothing is written unless
    // asked to go on.
    let bgl = data("loghub/BGL_2k.log");
    let (code, _, err) = logsieve(&["score", s(&bgl), "--model", s(&p("a")), "--out", s(&p("bgl"))]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the model does not fit this log: 1975 of 2000 events (99%) are in states it never saw"), "{err}");
    assert!(err.contains("OpenSSH_2k.log") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_dir(p("bgl")).unwrap().count(), 0, "a refused run writes nothing");
    let (code, _, err) = logsieve(&["score", s(&bgl), "--model", s(&p("a")), "--out", s(&p("bgl")), "--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning: the model does not fit this log") && p("bgl/scores.jsonl").exists(), "{err}");
    // The model's own session key (from training) that matches nothing is named as the model's.
    let hdfs = data("loghub/HDFS_2k.log");
    ok(&["train", s(&hdfs), "--model", s(&p("blk")), "--session-key", r"(blk_-?\d+)", "-q"]);
    let (code, _, err) = logsieve(&["score", s(&log), "--model", s(&p("blk")), "--out", s(&p("ssh"))]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(r"2000 records did not match the session key `(blk_-?\d+)` (the model's, from training)"), "{err}");
    assert!(err.contains(r"its session key `(blk_-?\d+)` (from training) matched none of the 2000 records"), "{err}");
    assert!(!err.contains("--session-key `"), "no --session-key was given: {err}");
    std::fs::write(p("cut"), &a[..a.len() / 2]).unwrap();
    let (code, _, err) = logsieve(&["score", s(&log), "--model", s(&p("cut")), "--out", s(&p("o"))]);
    assert_eq!(code, 2);
    assert!(err.contains("cut: model is truncated"), "{err}");
    std::fs::write(p("text"), "hello").unwrap();
    let (code, _, err) = logsieve(&["model", "info", s(&p("text"))]);
    assert_eq!(code, 2);
    assert!(err.contains("not a logsieve model"), "{err}");
}

/// Logs without entities are cut into windows (BGL): count windows by default, time windows with
/// --window-secs; the flags are saved in the model and used when scoring.
#[test]
fn keyless_logs_are_windowed() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let log = data("loghub/BGL_2k.log");
    let (code, _, err) = logsieve(&["train", s(&log), "--model", s(&p("m")), "--window", "50"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("40 sessions (40 windows"), "{err}");
    ok(&["score", s(&log), "--model", s(&p("m")), "--out", s(&p("o")), "-q"]);
    let rows = scores(&p("o"));
    assert_eq!(rows.len(), 40);
    assert!(rows.iter().all(|r| r["closed"] == "window" && r["events"].as_array().unwrap().len() == 50));
    let (code, _, err) = logsieve(&["train", s(&log), "--model", s(&p("t")), "--window-secs", "3600"]);
    assert_eq!(code, 0, "{err}");
    assert!(ok(&["model", "info", s(&p("t"))]).contains("windows of 3600 s"));
}

/// Labels that are neither anomalous nor normal are an error naming the file and line.
#[test]
fn bad_labels_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("scores.jsonl"), "{\"session\":\"a\",\"score\":1.0,\"anomalous\":false}\n").unwrap();
    std::fs::write(p("labels.csv"), "session,label\na,Normal\nb,maybe\n").unwrap();
    let (code, _, err) = logsieve(&["eval", "--scores", s(&p("scores.jsonl")), "--labels", s(&p("labels.csv"))]);
    assert_eq!(code, 2);
    assert!(err.contains("labels.csv: line 3: label \"maybe\""), "{err}");
    std::fs::write(p("empty.log"), "").unwrap();
    let (code, _, err) = logsieve(&["train", "--model", s(&p("m")), "-q", s(&p("empty.log"))]);
    assert_eq!(code, 2);
    assert!(err.contains("at least 2 sessions"), "{err}");
}

/// `--config` (TOML) sets the options, flags override it, and a bad key names the file.
#[test]
fn config_file_sets_options_and_flags_override() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("c.toml"), "ngram = 4\nmax_fpr = 0.01\n[session]\nidle_timeout = 600.0\n[session.window]\nevents = 10\n").unwrap();
    let log = data("loghub/OpenSSH_2k.log");
    ok(&["train", s(&log), "--config", s(&p("c.toml")), "--window", "30", "--model", s(&p("m")), "-q"]);
    let info = ok(&["model", "info", s(&p("m"))]);
    for want in ["ngram 4", "max_fpr 0.01", "idle timeout 600 s", "windows of 30 events"] {
        assert!(info.contains(want), "{want}: {info}");
    }
    std::fs::write(p("bad.toml"), "ngrams = 4\n").unwrap();
    let (code, _, err) = logsieve(&["train", s(&log), "--config", s(&p("bad.toml")), "--model", s(&p("m2"))]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.toml") && err.contains("ngrams"), "{err}");
    assert!(!p("m2").exists());
}

/// Training runs its cross-fitting folds in parallel: one thread or two, the model is the same
/// byte for byte (and the example models in models/ were trained before training was parallel).
#[test]
fn training_on_one_or_two_threads_gives_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let mut models = Vec::new();
    for threads in ["1", "2"] {
        let m = dir.path().join(format!("m{threads}"));
        let out = assert_cmd::Command::cargo_bin("logsieve")
            .unwrap()
            .env("RAYON_NUM_THREADS", threads)
            .args(["train", s(&data("loghub/OpenSSH_2k.log")), "--year", "2024", "--model", s(&m), "-q"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        models.push(std::fs::read(&m).unwrap());
    }
    assert!(models[0] == models[1], "one and two threads trained different models");
}

/// Messages no rule knows, from an sshd process, stay in that process's session (not a window of
/// unrelated lines), and a session made of them is flagged with its lines.
#[test]
fn an_sshd_session_of_unknown_messages_is_flagged_with_its_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("train.log"), sshd_training_log()).unwrap();
    let new = "Jan  2 09:00:00 host sshd[7001]: Accepted password for alice from 10.0.0.2 port 50001 ssh2\n\
Jan  2 09:00:01 host sshd[7003]: userauth_pubkey: key type ssh-dss not in PubkeyAcceptedAlgorithms [preauth]\n\
Jan  2 09:00:05 host sshd[7001]: pam_unix(sshd:session): session closed for user alice\n\
Jan  2 09:00:06 host sshd[7003]: Connection reset by authenticating user root 203.0.113.9 port 4242 [preauth]\n";
    std::fs::write(p("new.log"), new).unwrap();
    ok(&["train", "-q", "--year", "2024", s(&p("train.log")), "--model", s(&p("m"))]);
    ok(&["score", "-q", "--year", "2024", s(&p("new.log")), "--model", s(&p("m")), "--out", s(&p("o"))]);
    let rows = scores(&p("o"));
    let odd = rows.iter().find(|r| r["session"] == "sshd@host:7003").unwrap_or_else(|| panic!("no session for pid 7003: {rows:?}"));
    assert_eq!(odd["anomalous"], true, "{odd}");
    assert_eq!(odd["lines"], serde_json::json!([2, 4]), "{odd}");
    assert_eq!(odd["reason_lines"], serde_json::json!([2, 4]), "{odd}");
    let normal = rows.iter().find(|r| r["session"] == "sshd@host:7001").unwrap();
    assert_eq!((normal["anomalous"].as_bool(), normal["lines"].clone()), (Some(false), serde_json::json!([1, 3])), "{normal}");
}

/// A clean period that is not clean: HDFS sessions with error events mixed into the training
/// sessions are set aside, listed by model info with their reasons, and sessions like them are
/// still flagged.
#[test]
fn anomalous_training_sessions_are_set_aside_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let seq = |n: &str| data(&format!("hdfs/sequences/{n}"));
    let abnormal = std::fs::read_to_string(seq("hdfs_abnormal_head1500.csv")).unwrap();
    // Ten anomalous sessions holding event 20 ("Unexpected error trying to delete block").
    let mixed: Vec<&str> =
        abnormal.lines().filter(|l| l.split(',').nth(1).is_some_and(|e| e.split(' ').any(|x| x == "20"))).take(10).collect();
    assert_eq!(mixed.len(), 10);
    let mut train = std::fs::read_to_string(seq("hdfs_normal_train.csv")).unwrap();
    for l in &mixed {
        train.push_str(l);
        train.push('\n');
    }
    std::fs::write(p("train.csv"), &train).unwrap();
    let templates = seq("HDFS_templates.csv");
    ok(&["train", "-q", "-f", "sequences", "--templates", s(&templates), s(&p("train.csv")), "--model", s(&p("m"))]);
    let info: Value = serde_json::from_str(ok(&["model", "info", "--json", s(&p("m"))]).trim()).unwrap();
    let keys: Vec<&str> = mixed.iter().map(|l| l.split(',').next().unwrap()).collect();
    let total = info["set_aside"]["total"].as_u64().unwrap();
    // Identical sessions are one entry under the smallest key; no clean session holds event 20,
    // so the entries of the ten are keyed by one of them, and count all ten.
    let of_the_ten: u64 = info["set_aside"]["listed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| keys.contains(&a["key"].as_str().unwrap()))
        .map(|a| a["sessions"].as_u64().unwrap())
        .sum();
    assert_eq!(of_the_ten, 10, "{}", info["set_aside"]);
    assert!(total >= 10, "{}", info["set_aside"]);
    let first = &info["set_aside"]["listed"][0];
    assert!(first["reasons"][0].as_str().unwrap().starts_with("error never seen in training: 20"), "{first}");
    let text = ok(&["model", "info", s(&p("m"))]);
    assert!(text.contains(&format!("set aside    {total} of 1383 training sessions as anomalous")), "{text}");
    // Sessions like them are flagged: score the ten again.
    std::fs::write(p("again.csv"), mixed.join("\n") + "\n").unwrap();
    ok(&["score", "-q", "-f", "sequences", s(&p("again.csv")), "--model", s(&p("m")), "--out", s(&p("o"))]);
    assert!(scores(&p("o")).iter().all(|r| r["anomalous"] == true));
    let html = std::fs::read_to_string(p("o/report.html")).unwrap();
    assert!(html.contains("The training period was not clean") && html.contains(keys[0]), "the report lists the sessions set aside");
}

/// A log without entities (kernel lines: no pid, no rule key) is cut into windows; a window whose
/// only novelty is an error message never seen in training is flagged, names that message, and
/// points at its line; the other windows are not flagged.
#[test]
fn a_keyless_window_with_a_new_error_message_is_flagged_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let normal = [
        "eth0: link up, 1000 Mbps full duplex",
        "usb 1-1: new high-speed USB device number 4",
        "EXT4-fs (sda1): mounted filesystem with ordered data mode",
    ];
    let line = |i: usize, msg: &str| format!("Mar  1 {:02}:{:02}:{:02} node kernel: {msg}\n", i / 3600 % 24, i / 60 % 60, i % 60);
    let train: String = (0..2000).map(|i| line(i, normal[i % 3])).collect();
    let mut new: String = (0..200).map(|i| line(i, normal[i % 3])).collect();
    new.insert_str(
        new.char_indices().filter(|(_, c)| *c == '\n').nth(149).unwrap().0 + 1,
        &line(150, "EDAC MC0: uncorrectable memory error on DIMM 2"),
    );
    std::fs::write(p("train.log"), train).unwrap();
    std::fs::write(p("new.log"), new).unwrap();
    ok(&["train", "-q", "--year", "2024", s(&p("train.log")), "--model", s(&p("m"))]);
    ok(&["score", "-q", "--year", "2024", s(&p("new.log")), "--model", s(&p("m")), "--out", s(&p("o"))]);
    let rows = scores(&p("o"));
    assert!(rows.iter().all(|r| r["closed"] == "window"), "keyless lines are windowed");
    let flagged: Vec<&Value> = rows.iter().filter(|r| r["anomalous"] == true).collect();
    assert_eq!(flagged.len(), 1, "{flagged:?}");
    let w = flagged[0];
    let first = &w["reasons"][0];
    assert_eq!(first["kind"], "error_state", "{w}");
    assert!(
        first["text"].as_str().unwrap().starts_with("error never seen in training: kernel:edac-uncorrectable-memory-error-on-dimm"),
        "{first}"
    );
    // Its line, and the lines of the windows of states around it (never seen either).
    assert_eq!(w["reason_lines"], serde_json::json!([149, 150, 151, 152, 153]), "{w}");
}
