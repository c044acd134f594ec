//! The review side through the real binary: the demo run, the report and its rebuild, the example
//! models, `allow` marking reviewed sessions and values normal, and `watch` on stdin and on a
//! growing, rotated file.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::{data, logsieve, ok, root, s, scores, sshd_training_log};
use serde_json::Value;

/// `logsieve demo` needs no flags: it trains on the bundled clean HDFS blocks, scores the others,
/// compares with the labels, writes everything the notebook reads, and says where the report is.
#[test]
fn demo_runs_the_main_job_and_says_where_the_report_is() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let stdout = ok(&["demo", "--out", s(&out)]);
    // It compares its verdicts with the labels of all 60 blocks (how well: tests/quality.rs).
    let counts = stdout.lines().find(|l| l.starts_with("tp ")).unwrap_or_else(|| panic!("no verdict counts: {stdout}"));
    let n: u64 = counts.split_whitespace().skip(1).step_by(2).map(|x| x.parse::<u64>().unwrap()).sum();
    assert_eq!(n, 60, "{counts}");
    assert!(stdout.lines().any(|l| l == format!("report: {}", out.join("report.html").display())), "{stdout}");
    for f in ["scores.jsonl", "scores.parquet", "report.html", "run.json", "events.jsonl", "pr_curve.svg", "hdfs.model"] {
        assert!(std::fs::metadata(out.join(f)).is_ok_and(|m| m.len() > 0), "{f} not written");
    }
    // Every line of new.log is accounted for: all parsed, each named by a template state under
    // a rule pack's block key; the normalized events are one per line.
    let run: Value = serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let lines = std::fs::read_to_string(data("hdfs/demo/new.log")).unwrap().lines().count() as u64;
    assert_eq!(run["total"]["read"], lines);
    assert_eq!(run["total"]["parsed"], lines);
    assert_eq!(run["coverage"]["entity"], lines, "{}", run["coverage"]);
    assert_eq!(std::fs::read_to_string(out.join("events.jsonl")).unwrap().lines().count() as u64, lines);
    // The report shows the raw lines behind the top session, read back from the input.
    let rows = scores(&out);
    let top = rows.iter().max_by(|a, b| a["score"].as_f64().unwrap().total_cmp(&b["score"].as_f64().unwrap())).unwrap();
    let first = top["lines"][0].as_u64().unwrap() as usize;
    let raw = std::fs::read_to_string(data("hdfs/demo/new.log")).unwrap().lines().nth(first - 1).unwrap().to_owned();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(!raw.contains(['<', '>', '&', '"', '\'']));
    assert!(html.contains(&format!("new.log:{first}</b>  {raw}")), "raw line {first} not in the report");
    assert!(html.contains("Nomenclature coverage") && html.contains("template state, key from a rule pack"));
    // The page is written in parts, with the tags that enclose them written by hand: each opens
    // once and closes once, and every listed session is inside the sessions table.
    for tag in ["html", "body"] {
        assert_eq!((html.matches(&format!("<{tag}")).count(), html.matches(&format!("</{tag}>")).count()), (1, 1), "{tag}");
    }
    assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\"><head>") && html.ends_with("</script></body></html>\n"));
    let table = &html[html.find("<table id=\"top\">").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    let listed = table.matches("<tbody id=\"s").count();
    assert!(listed > 0 && listed == html.matches("<tbody").count(), "{listed} sessions in the table");
    // run.json says which message template each template state stands for, as the scoring
    // miner ended; events.jsonl names its states as the scores do and holds those templates.
    let templates = run["templates"].as_object().expect("run.json has templates");
    let mut seen = std::collections::BTreeMap::<String, Vec<String>>::new();
    for line in std::fs::read_to_string(out.join("events.jsonl")).unwrap().lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        let (state, template) = (e["logsieve"]["state"].as_str().unwrap(), e["logsieve"]["template"].as_str().unwrap());
        seen.entry(state.to_owned()).or_default().push(template.to_owned());
    }
    let scored: std::collections::BTreeSet<&str> =
        rows.iter().flat_map(|r| r["events"].as_array().unwrap()).map(|e| e.as_str().unwrap()).collect();
    assert_eq!(scored, seen.keys().map(String::as_str).collect(), "events.jsonl and scores.jsonl name other states");
    for (state, ts) in &seen {
        let t = templates.get(state).and_then(Value::as_str).unwrap_or_else(|| panic!("{state} has no template in run.json"));
        assert!(ts.iter().any(|x| x == t), "{state}: run.json says {t:?}, the events {ts:?}");
    }
    // Why sessions were flagged: the state never seen in training (an error, here) that most
    // anomalous sessions hold is the first such cause, with its count and its message template.
    let mut unseen = std::collections::BTreeMap::<&str, usize>::new();
    for r in rows.iter().filter(|r| r["anomalous"] == true) {
        let mut states: Vec<&str> = r["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["kind"] == "unseen_state" || x["kind"] == "error_state")
            .map(|x| x["states"][0].as_str().unwrap())
            .collect();
        states.sort_unstable();
        states.dedup();
        for st in states {
            *unseen.entry(st).or_default() += 1;
        }
    }
    let (state, n) = unseen.iter().max_by_key(|(st, n)| (**n, std::cmp::Reverse(**st))).expect("the demo has unseen states");
    let why = &html[html.find("<h2>Why sessions were flagged</h2>").expect("the causes table")..html.find("<h2>Input</h2>").unwrap()];
    let row = why
        .split("<tr>")
        .find(|r| {
            (r.contains("state never seen in training") || r.contains("error never or rarely seen"))
                && r.contains(&format!(">{state}</span>"))
        })
        .unwrap_or_else(|| panic!("no cause for {state}: {why}"));
    assert!(row.contains(&format!(">{}</span>", state)), "{row}");
    assert!(row.contains(&format!("<td class=\"num\">{n}</td>")), "{row}");
    assert!(
        row.contains(&format!(
            "<code class=\"tpl\">{}</code>",
            templates[*state].as_str().unwrap().replace('<', "&lt;").replace('>', "&gt;")
        )),
        "{row}"
    );
    // Drawn again from the run directory: the same causes, shifts and sessions, described by
    // the same templates.
    ok(&["report", s(&out), "--output", s(&dir.path().join("again.html"))]);
    let again = std::fs::read_to_string(dir.path().join("again.html")).unwrap();
    for (from, to) in [("<h2>Why sessions were flagged", "<h2>Input"), ("<h2>Largest shifts", "</body>")] {
        assert_eq!(section(&html, from, to), section(&again, from, to));
    }
    // The largest shifts in state frequency start with a state that appears or vanishes.
    let shifts = &html[html.find("<th>message template</th>").unwrap()..];
    let first: Vec<&str> =
        shifts.split("<tr>").nth(1).unwrap().split("<td class=\"num\">").skip(1).map(|c| c.split('<').next().unwrap()).collect();
    assert!(first.contains(&"0.00%"), "{first:?}");
}

/// The report offers, under each flagged session, the `logsieve allow` command that marks it
/// normal; run as printed, it does: scored again, that session is no longer flagged, every other
/// verdict stands, and the report lists the allowance with its note.
#[test]
fn the_allow_command_the_report_offers_marks_that_session_normal() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    ok(&["demo", "--out", s(&out)]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let marker = "<div class=\"allow\">Normal after review? <code>";
    let start = html.find(marker).expect("an allow command") + marker.len();
    let cmd = &html[start..start + html[start..].find("</code>").unwrap()];
    let cmd = cmd.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
    let mut words = shlex::split(&cmd).unwrap_or_else(|| panic!("not a shell command: {cmd}"));
    assert_eq!(words.remove(0), "logsieve");
    let key = words[words.iter().position(|w| w == "--session").unwrap() + 1].clone();
    let before = scores(&out);
    let top = before.iter().max_by(|a, b| a["score"].as_f64().unwrap().total_cmp(&b["score"].as_f64().unwrap())).unwrap();
    assert_eq!(top["session"], key.as_str(), "the first command is for the highest-scoring session");
    ok(&words.iter().map(String::as_str).collect::<Vec<_>>());
    let again = dir.path().join("again");
    ok(&["score", "datasets/hdfs/demo/new.log", "--model", s(&out.join("hdfs.model")), "--out", s(&again), "-q"]);
    let after = scores(&again);
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b["session"], a["session"]);
        if b["session"] == key.as_str() {
            assert_eq!((b["anomalous"].as_bool(), a["anomalous"].as_bool()), (Some(true), Some(false)));
            // What it showed is known now; if it still scores above the threshold, the
            // allowance of its state sequence is the reason it is not flagged.
            if a["score"].as_f64() > a["threshold"].as_f64() {
                assert_eq!(a["reasons"][0]["kind"], "allowed");
            }
        } else {
            assert_eq!(b["anomalous"], a["anomalous"], "{}", b["session"]);
        }
    }
    let page = std::fs::read_to_string(again.join("report.html")).unwrap();
    assert!(
        page.contains("What review allowed in this model (1)")
            && page.contains(&format!("session {key}"))
            && page.contains("reviewed: ...")
    );
}

/// The part of a page from `from` up to `to`, if it has `from`.
fn section(html: &str, from: &str, to: &str) -> Option<String> {
    let i = html.find(from)?;
    Some(html[i..i + html[i..].find(to).expect("the section's end")].to_owned())
}

/// The baselines in models/ are what training on the bundled data gives today.
#[test]
fn example_models_retrain_to_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo.model");
    ok(&["train", "datasets/hdfs/demo/train.log", "--session-key", r"blk_-?\d+", "--model", s(&demo), "-q"]);
    let seq = dir.path().join("seq.model");
    ok(&["train", "-f", "sequences", "datasets/hdfs/sequences/hdfs_normal_train.csv", "--model", s(&seq), "-q"]);
    for (got, name) in [(demo, "hdfs-demo.model"), (seq, "hdfs-sequences.model")] {
        let want = std::fs::read(root().join("models").join(name)).unwrap();
        assert!(std::fs::read(&got).unwrap() == want, "models/{name} differs from a fresh training: regenerate it (models/README.md)");
    }
}

/// Hostile sshd sessions: the report escapes their raw lines; `logsieve report DIR` draws the
/// same table again from scores.jsonl, run.json and the model; a missing run.json is named.
#[test]
fn report_rebuilds_from_the_run_directory_and_keeps_log_content_inert() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("train.log"), sshd_training_log()).unwrap();
    let test = "Jan  2 09:00:00 host sshd[77]: Accepted password for alice from 10.0.0.1 port 40000 ssh2\n\
                Jan  2 09:00:05 host sshd[77]: pam_unix(sshd:session): session closed for user alice\n\
                Jan  2 09:02:00 host sshd[79]: Accepted password for <script>alert(1)</script> from 203.0.113.9 port 40002 ssh2\n\
                Jan  2 09:02:05 host sshd[79]: pam_unix(sshd:session): session closed for user </table><b>\x1b[31m\n";
    std::fs::write(p("test.log"), test).unwrap();
    ok(&["train", s(&p("train.log")), "--year", "2024", "--model", s(&p("m")), "-q"]);
    ok(&["score", s(&p("test.log")), "--year", "2024", "--model", s(&p("m")), "--out", s(&p("o")), "-q"]);
    let first = std::fs::read_to_string(p("o/report.html")).unwrap();
    let inert = |html: &str| {
        assert!(html.contains("&lt;/table&gt;&lt;b&gt;\u{FFFD}[31m"), "the hostile raw line is not shown escaped");
        assert!(html.contains("alert(1)&lt;/script&gt;"));
        assert_eq!(html.matches("<table").count(), html.matches("</table>").count(), "a log line closed a table");
        assert_eq!(html.matches("<script>").count(), 1, "only the report's own script");
        assert!(!html.contains('\x1b'));
    };
    inert(&first);
    std::fs::remove_file(p("o/report.html")).unwrap();
    let printed = ok(&["report", s(&p("o"))]);
    assert_eq!(printed.trim(), s(&p("o/report.html")));
    let again = std::fs::read_to_string(p("o/report.html")).unwrap();
    inert(&again);
    // The same sessions in the same order, with the same lines.
    let table = |html: &str| html[html.find("<table id=\"top\">").unwrap()..].to_owned();
    assert_eq!(table(&first), table(&again));
    assert_eq!(section(&first, "<h2>Largest shifts", "<h2 id=\"flagged\">"), section(&again, "<h2>Largest shifts", "<h2 id=\"flagged\">"));
    // Elsewhere, with the model named explicitly.
    ok(&["report", s(&p("o")), "--model", s(&p("m")), "--output", s(&p("elsewhere.html"))]);
    assert!(std::fs::read_to_string(p("elsewhere.html")).unwrap().contains("sessions anomalous"));
    std::fs::remove_file(p("o/run.json")).unwrap();
    let (code, _, err) = logsieve(&["report", s(&p("o"))]);
    assert_ne!(code, 0);
    assert!(err.contains("run.json"), "{err}");
}

fn sequences_model(dir: &Path) -> std::path::PathBuf {
    let mut train = String::new();
    for i in 0..500 {
        let tail = if i % 2 == 0 { "b c" } else { "b b c" };
        train += &format!("s{i},a {tail} d\n");
    }
    std::fs::write(dir.join("train.csv"), train).unwrap();
    let model = dir.join("m");
    ok(&["train", "-f", "sequences", s(&dir.join("train.csv")), "--model", s(&model), "--max-fpr", "0.01", "--ngram", "3", "-q"]);
    model
}

/// `watch` on stdin prints the anomalous sessions, with the fields and scores `score` gives them,
/// and stops at the end of the input.
#[test]
fn watch_on_stdin_prints_what_score_flags() {
    let dir = tempfile::tempdir().unwrap();
    let model = sequences_model(dir.path());
    let input = "n1,a b c d\nx1,a c b d\nn2,a b b c d\nx2,a b zzz c d\n";
    std::fs::write(dir.path().join("new.csv"), input).unwrap();
    ok(&["score", "-f", "sequences", s(&dir.path().join("new.csv")), "--model", s(&model), "--out", s(&dir.path().join("o")), "-q"]);
    let flagged: Vec<Value> = scores(&dir.path().join("o")).into_iter().filter(|r| r["anomalous"] == true).collect();
    assert_eq!(flagged.iter().map(|r| r["session"].as_str().unwrap()).collect::<Vec<_>>(), ["x1", "x2"]);
    let out = assert_cmd::Command::cargo_bin("logsieve")
        .unwrap()
        .args(["watch", "-f", "sequences", "--model", s(&model)])
        .write_stdin(input)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Vec<Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(printed, flagged, "watch and score disagree");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("4 lines read") && err.contains("4 sessions scored") && err.contains("2 anomalous"), "{err}");
    let all = ok_stdin(&["watch", "-f", "sequences", "--model", s(&model), "--all", "-q"], input);
    assert_eq!(all.lines().count(), 4);
}

fn ok_stdin(args: &[&str], stdin: &str) -> String {
    let out = assert_cmd::Command::cargo_bin("logsieve").unwrap().args(args).write_stdin(stdin.to_owned()).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Starts logsieve with stdout and stderr piped; stdout's lines arrive on the receiver.
fn spawn_watch(args: &[&str]) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut child =
        Command::new(assert_cmd::cargo::cargo_bin("logsieve")).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// `watch FILE` prints an anomaly while the file grows, follows it across a rotation, and exits
/// cleanly on SIGINT.
#[test]
fn watch_follows_a_growing_rotated_file_and_stops_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let model = sequences_model(dir.path());
    let log = dir.path().join("live.csv");
    std::fs::write(&log, "n1,a b c d\n").unwrap();
    let (child, rx) = spawn_watch(&["watch", s(&log), "-f", "sequences", "--model", s(&model), "--poll-ms", "20"]);
    // Liveness deadline, not a speed test: each anomaly must show up while watch runs.
    let expect = |key: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|_| panic!("no line for {key} while watching"));
            let v: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(v["anomalous"], true, "{v}");
            if v["session"] == key {
                return v;
            }
        }
    };
    std::fs::OpenOptions::new().append(true).open(&log).unwrap().write_all(b"n2,a b b c d\nx1,a c b d\n").unwrap();
    let x1 = expect("x1");
    assert_eq!(x1["lines"], serde_json::json!([3]));
    // Rotation: the file is moved away and a new one takes its name.
    std::fs::rename(&log, dir.path().join("live.csv.1")).unwrap();
    std::fs::write(&log, "x2,a b zzz c d\n").unwrap();
    let x2 = expect("x2");
    assert_eq!(x2["lines"], serde_json::json!([1]));
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "watch did not stop cleanly: {:?}", out.status);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("replaced (rotated)"), "{err}");
    assert!(err.contains("4 lines read") && err.contains("2 anomalous"), "{err}");
}

/// `watch --from-end` prints only what is written after it starts, with the lines' numbers in
/// the file.
#[test]
fn watch_from_the_end_keeps_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let model = sequences_model(dir.path());
    let log = dir.path().join("live.csv");
    std::fs::write(&log, "x0,a c b d\nn1,a b c d\n").unwrap();
    let (mut child, rx) = spawn_watch(&["watch", s(&log), "-f", "sequences", "--model", s(&model), "--poll-ms", "20", "--from-end", "-q"]);
    // Give watch time to reach the end before the new line is written (a liveness margin, not a
    // speed test: the line written later must be the first printed).
    std::thread::sleep(Duration::from_millis(500));
    std::fs::OpenOptions::new().append(true).open(&log).unwrap().write_all(b"x1,a c c d\n").unwrap();
    let line = rx.recv_timeout(Duration::from_secs(30)).expect("the new anomaly is printed");
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["session"], "x1", "the anomaly already in the file was printed: {v}");
    assert_eq!(v["lines"], serde_json::json!([3]));
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(child.wait().unwrap().success());
}

/// The review loop: allowing a reviewed false positive stops it being flagged on the same input,
/// and every other verdict stays as it was; `model info` lists the allowance with its note.
#[test]
fn allowing_a_reviewed_session_unflags_it_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let seq = |n: &str| data(&format!("hdfs/sequences/{n}"));
    let (normal, abnormal) = (seq("hdfs_normal_test.csv"), seq("hdfs_abnormal_head1500.csv"));
    // Windows of 3, so that the windows allowed below are written as 3 states.
    ok(&["train", "-f", "sequences", "--ngram", "3", s(&seq("hdfs_normal_train.csv")), "--model", s(&p("m")), "-q"]);
    let score = |out: &str| {
        ok(&["score", "-f", "sequences", s(&normal), s(&abnormal), "--model", s(&p("m")), "--out", s(&p(out)), "-q"]);
        scores(&p(out))
    };
    let before = score("before");
    // A normal test session that is flagged (the highest-scoring): review says it is fine.
    let fp = before
        .iter()
        .take(1373)
        .filter(|r| r["anomalous"] == true)
        .max_by(|a, b| a["score"].as_f64().unwrap().total_cmp(&b["score"].as_f64().unwrap()))
        .expect("a flagged normal session to review");
    let key = fp["session"].as_str().unwrap().to_owned();
    // Its states no training session held.
    let novelties: Vec<Value> =
        fp["reasons"].as_array().unwrap().iter().filter(|r| r["kind"] == "unseen_state").map(|r| r["states"][0].clone()).collect();
    ok(&[
        "allow",
        "--model",
        s(&p("m")),
        "--session",
        &key,
        "--scores",
        s(&p("before/scores.jsonl")),
        "--note",
        "replica cleanup, checked",
    ]);
    let after = score("after");
    assert_eq!(before.len(), after.len());
    // Allowing a session makes its novelties known (its unseen states are now held by one
    // training session), so a session whose novelty was the same may follow it; every other
    // verdict stands.
    let novel = |r: &Value| r["events"].as_array().unwrap().iter().any(|e| novelties.contains(e));
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b["session"], a["session"]);
        if b["session"] == key.as_str() {
            assert_eq!(a["anomalous"], false, "{a}");
            // Either it still scores above the threshold and the allowance clears it, or what
            // it taught the model brings it below.
            assert!(a["reasons"][0]["kind"] == "allowed" || a["score"].as_f64() < a["threshold"].as_f64(), "{a}");
        } else if !novel(b) {
            assert_eq!(b["anomalous"], a["anomalous"], "{} changed", b["session"]);
        }
    }
    let info = ok(&["model", "info", s(&p("m"))]);
    assert!(info.contains(&format!("allowance    session {key} at ")) && info.contains("replica cleanup, checked"), "{info}");
    let (code, _, err) = logsieve(&["allow", "--model", s(&p("m")), "--window", "5 22"]);
    assert_eq!(code, 2);
    assert!(err.contains("a window holds 3 states, not 2"), "{err}");
    ok(&["allow", "--model", s(&p("m")), "--window", "5 22 $", "--value", "user=bob"]);
    let info = ok(&["model", "info", s(&p("m"))]);
    assert!(info.contains("window 5 22 $") && info.contains("value user=bob"), "{info}");
    // An allowed window is not reported unseen again, in any session.
    let unseen = |rows: &[Value], w: &[Value]| {
        rows.iter()
            .flat_map(|r| r["reasons"].as_array().unwrap())
            .filter(|x| x["kind"] == "unseen_window" && x["states"].as_array().unwrap() == w)
            .count()
    };
    let window = before[1373..].iter().flat_map(|r| r["reasons"].as_array().unwrap()).find(|x| x["kind"] == "unseen_window").unwrap()
        ["states"]
        .as_array()
        .unwrap()
        .clone();
    assert!(unseen(&after, &window) > 0);
    let words: Vec<&str> = window.iter().map(|w| w.as_str().unwrap()).collect();
    ok(&["allow", "--model", s(&p("m")), "--window", &words.join(" ")]);
    assert_eq!(unseen(&score("window"), &window), 0, "window {words:?} still reported unseen");
}

/// `allow --value FIELD=VALUE`: a reviewed new value (a new admin's user name) is no longer new.
#[test]
fn an_allowed_value_is_no_longer_new() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("train.log"), sshd_training_log()).unwrap();
    std::fs::write(
        p("new.log"),
        "Jan  2 09:00:00 host sshd[77]: Accepted password for carol from 10.0.0.1 port 40000 ssh2\n\
         Jan  2 09:00:05 host sshd[77]: pam_unix(sshd:session): session closed for user carol\n",
    )
    .unwrap();
    ok(&["train", s(&p("train.log")), "--year", "2024", "--model", s(&p("m")), "-q"]);
    let new_values = |out: &str| -> Vec<String> {
        ok(&["score", s(&p("new.log")), "--year", "2024", "--model", s(&p("m")), "--out", s(&p(out)), "-q"]);
        // The session; carol's first login is also a finding about her (tests/it/security.rs).
        let rows: Vec<_> = scores(&p(out)).into_iter().filter(|r| r["closed"] != "entity").collect();
        assert_eq!(rows.len(), 1);
        rows[0]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["kind"] == "new_value")
            .map(|r| format!("{}={}", r["field"].as_str().unwrap(), r["value"].as_str().unwrap()))
            .collect()
    };
    assert_eq!(new_values("before"), ["user=carol"]);
    ok(&["allow", "--model", s(&p("m")), "--value", "user=carol", "--note", "new admin"]);
    assert_eq!(new_values("after"), Vec::<String>::new());
}
