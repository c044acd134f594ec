//! CLI tests: run the real binary on the bundled datasets and on small hand-made inputs.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};

use assert_cmd::Command;
use serde_json::Value;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets").join(rel)
}

fn logsieve() -> Command {
    Command::cargo_bin("logsieve").expect("binary built")
}

struct Run {
    code: i32,
    events: Vec<Value>,
    stderr: String,
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut cmd = logsieve();
    cmd.args(args);
    if let Some(input) = stdin {
        cmd.write_stdin(input.to_vec());
    }
    let out = cmd.output().expect("runs");
    let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
    let events = stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    Run { code: out.status.code().unwrap_or(-1), events, stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
}

fn get<'a>(v: &'a Value, dotted: &str) -> &'a Value {
    dotted.split('.').fold(v, |v, k| &v[k])
}

fn stats_of(args: &[&str]) -> (Run, Value) {
    let dir = tempfile::tempdir().unwrap();
    let stats = dir.path().join("stats.json");
    let mut all = args.to_vec();
    all.extend(["--stats", stats.to_str().unwrap()]);
    let r = run(&all, None);
    let s = serde_json::from_str(&std::fs::read_to_string(&stats).expect("stats written")).unwrap();
    (r, s)
}

/// Every bundled loghub sample is read whole by `auto`: every line a record with a recognised
/// header and a timestamp, numbered 1..=2000 in order, and accounted for in --stats.
#[test]
fn auto_reads_every_bundled_loghub_sample() {
    for system in ["Apache", "BGL", "HDFS", "Hadoop", "Linux", "OpenSSH", "OpenStack", "Thunderbird"] {
        let path = data(&format!("loghub/{system}_2k.log"));
        let (r, stats) = stats_of(&["normalize", path.to_str().unwrap(), "--year", "2005"]);
        assert_eq!(r.code, 0, "{system}: {}", r.stderr);
        assert_eq!(r.events.len(), 2000, "{system}");
        for (i, e) in r.events.iter().enumerate() {
            assert_eq!(get(e, "logsieve.line"), &Value::from(i + 1), "{system}");
            assert_ne!(get(e, "logsieve.format"), "plain", "{system} line {}: {}", i + 1, get(e, "event.original"));
            assert!(e.get("@timestamp").is_some(), "{system} line {} has no timestamp", i + 1);
        }
        let input = &stats["inputs"][0];
        assert_eq!((input["read"].as_u64(), input["parsed"].as_u64()), (Some(2000), Some(2000)), "{system}");
        assert!(r.stderr.contains("2000 lines read, 2000 parsed (100.0%"), "{system}: {}", r.stderr);
    }
}

#[test]
fn openssh_line_becomes_ecs_fields() {
    let r = run(&["normalize", data("loghub/OpenSSH_2k.log").to_str().unwrap(), "--year", "2017", "-q"], None);
    let e = &r.events[1];
    assert_eq!(e["@timestamp"], "2017-12-10T06:55:46");
    assert_eq!(get(e, "host.hostname"), "LabSZ");
    assert_eq!(get(e, "process.name"), "sshd");
    assert_eq!(get(e, "process.pid"), 24200);
    assert_eq!(e["message"], "Invalid user webmaster from 173.234.31.186");
    assert_eq!(get(e, "event.original"), "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186");
    assert_eq!(get(e, "logsieve.file"), data("loghub/OpenSSH_2k.log").to_str().unwrap());
    assert!(r.stderr.is_empty(), "--quiet prints no summary: {}", r.stderr);
}

/// The loghub header templates (../shared/datasets/README.md) read their own systems whole.
#[test]
fn loghub_pattern_templates_read_their_systems() {
    let templates = [
        ("HDFS", "<Date> <Time> <Pid> <Level> <Component>: <Content>"),
        ("Hadoop", "<Date> <Time> <Level> [<Process>] <Component>: <Content>"),
        ("BGL", "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>"),
        ("Thunderbird", "<Label> <Timestamp> <Date> <User> <Month> <Day> <Time> <Location> <Component>([<PID>])?: <Content>"),
        ("Linux", "<Month> <Date> <Time> <Level> <Component>([<PID>])?: <Content>"),
        ("Apache", "[<Time>] [<Level>] <Content>"),
        ("OpenSSH", "<Date> <Day> <Time> <Component> sshd[<Pid>]: <Content>"),
        ("OpenStack", "<Logrecord> <Date> <Time> <Pid> <Level> <Component> [<ADDR>] <Content>"),
    ];
    for (system, template) in templates {
        let format = format!("pattern:{template}");
        let path = data(&format!("loghub/{system}_2k.log"));
        let r = run(&["normalize", path.to_str().unwrap(), "--format", &format, "--year", "2005"], None);
        assert_eq!(r.code, 0, "{system}: {}", r.stderr);
        assert!(r.stderr.contains("2000 lines read, 2000 parsed (100.0%: pattern 2000), 0 skipped"), "{system}: {}", r.stderr);
        let timed = r.events.iter().filter(|e| e.get("@timestamp").is_some()).count();
        assert_eq!(timed, 2000, "{system}: every line has its timestamp");
    }
}

/// fail2ban's test lines come from ~20 daemons in many header styles: auto recognises them all.
#[test]
fn auto_recognises_every_fail2ban_line() {
    let mut rdr = tsv_rows(&data("fail2ban/fail2ban_labels.tsv"));
    let header = rdr.remove(0);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (line_col, time_col) = (col("line"), col("time"));
    let input: String = rdr.iter().map(|r| format!("{}\n", &r[line_col])).collect();
    let r = run(&["normalize", "-", "--year", "2005"], Some(input.as_bytes()));
    assert_eq!(r.code, 0);
    assert_eq!(r.events.len(), rdr.len());
    let plain: Vec<&Value> = r.events.iter().filter(|e| get(e, "logsieve.format") == "plain").map(|e| get(e, "event.original")).collect();
    assert!(plain.is_empty(), "no header recognised on: {plain:?}");
    // Wall-clock agreement with fail2ban where the line's stamp has no zone of its own (fail2ban
    // shows zoned and epoch stamps in its test suite's local zone).
    let (mut ok, mut n) = (0, 0);
    for (row, e) in rdr.iter().zip(&r.events) {
        let want: &str = &row[time_col];
        let zoned = e["@timestamp"].as_str().is_some_and(|t| t.ends_with('Z') || t.rfind(['+', '-']).is_some_and(|i| i > 19));
        if !want.is_empty() && !zoned {
            n += 1;
            ok += usize::from(e["@timestamp"].as_str().is_some_and(|t| t.contains(&want[5..19])));
        }
    }
    assert!(n > 190 && ok == n, "{ok}/{n} zone-less timestamps agree with fail2ban");
}

fn tsv_rows(path: &Path) -> Vec<csv::StringRecord> {
    let mut rdr = csv::ReaderBuilder::new().delimiter(b'\t').has_headers(false).from_path(path).unwrap();
    rdr.records().map(|r| r.unwrap()).collect()
}

#[test]
fn raw_hdfs_sessions_file_is_read_whole() {
    let (r, stats) = stats_of(&["normalize", data("hdfs/logai_HDFS_AD_5k.log").to_str().unwrap()]);
    assert_eq!(r.code, 0);
    assert_eq!(r.events.len(), 4519);
    assert_eq!(stats["total"]["formats"]["pattern"], 4519);
    let blocks = r.events.iter().filter(|e| e["message"].as_str().is_some_and(|m| m.contains("blk_"))).count();
    assert!(blocks > 4400, "HDFS messages keep their block ids: {blocks}");
}

#[test]
fn gzip_and_plain_give_the_same_events() {
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read(data("loghub/Linux_2k.log")).unwrap();
    let gz = dir.path().join("linux.log.1");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    enc.write_all(&original).unwrap();
    enc.finish().unwrap();
    let plain = dir.path().join("linux.log");
    std::fs::write(&plain, &original).unwrap();
    let strip = |r: Run| -> Vec<Value> {
        r.events
            .into_iter()
            .map(|mut e| {
                e["logsieve"].as_object_mut().unwrap().remove("file");
                e
            })
            .collect()
    };
    let a = strip(run(&["normalize", gz.to_str().unwrap(), "--year", "2005"], None));
    let b = strip(run(&["normalize", plain.to_str().unwrap(), "--year", "2005"], None));
    assert_eq!(a.len(), 2000);
    assert_eq!(a, b);
}

#[test]
fn globs_stdin_and_totals() {
    let pattern = data("loghub/[HL]*_2k.log");
    let r = run(&["normalize", pattern.to_str().unwrap()], None);
    assert_eq!(r.code, 0);
    assert_eq!(r.events.len(), 6000, "HDFS, Hadoop and Linux");
    assert!(r.stderr.contains("total of 3 inputs: 6000 lines read, 6000 parsed"), "{}", r.stderr);
    let files: std::collections::BTreeSet<&str> = r.events.iter().map(|e| get(e, "logsieve.file").as_str().unwrap()).collect();
    assert_eq!(files.len(), 3);
    let r = run(&["normalize"], Some(b"Jan  1 00:00:00 h a[1]: x\n"));
    assert_eq!((r.code, get(&r.events[0], "logsieve.file").as_str()), (0, Some("-")));
}

#[test]
fn crlf_invalid_utf8_and_blank_lines_are_accounted_for() {
    let input =
        b"Jan  1 00:00:00 h a[1]: one\r\n\r\nJan  1 00:00:01 h a[1]: bad \xff byte\n   \nno header here\nJan  1 00:00:02 h a[1]: last";
    let (r, _) = {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.log");
        std::fs::write(&p, input).unwrap();
        stats_of(&["normalize", p.to_str().unwrap(), "--year", "2024"])
    };
    assert_eq!(r.code, 0);
    let lines: Vec<u64> = r.events.iter().map(|e| get(e, "logsieve.line").as_u64().unwrap()).collect();
    assert_eq!(lines, [1, 3, 5, 6]);
    assert_eq!(r.events[0]["message"], "one");
    assert_eq!(r.events[1]["message"], "bad \u{fffd} byte");
    assert_eq!(r.events[2]["message"], "no header here");
    assert_eq!(r.events[3]["message"], "last");
    assert!(r.stderr.contains("6 lines read, 4 parsed (66.7%: plain 1, rfc3164 3), 2 skipped (empty line 2)"), "{}", r.stderr);
    assert!(r.stderr.contains("no header recognised on 1 (16.7%)"), "{}", r.stderr);
    assert!(r.stderr.contains("1 not valid UTF-8 (kept, decoded lossily)"), "{}", r.stderr);
}

#[test]
fn explicit_format_counts_lines_it_cannot_read() {
    let (r, stats) = stats_of(&["normalize", data("loghub/Apache_2k.log").to_str().unwrap(), "--format", "syslog"]);
    assert_eq!(r.code, 0, "a malformed line is a counted skip, not an error");
    assert!(r.events.is_empty());
    assert_eq!(stats["inputs"][0]["skipped"]["not syslog"], 2000);
    assert!(r.stderr.contains("0 parsed (0.0%), 2000 skipped (not syslog 2000)"), "{}", r.stderr);
}

#[test]
fn sequences_input() {
    let r = run(&["normalize", "--format", "sequences"], Some(b"blk_1,5 22 11\n3 4\nblk_2,\n"));
    assert_eq!(r.code, 0);
    assert_eq!(r.events.len(), 2);
    assert_eq!(get(&r.events[0], "logsieve.session"), "blk_1");
    assert_eq!(get(&r.events[1], "logsieve.session"), "2", "no id column: the line number is the id");
    assert_eq!(get(&r.events[1], "logsieve.events"), &serde_json::json!(["3", "4"]));
    assert!(r.stderr.contains("1 skipped (sequence without states 1)"), "{}", r.stderr);
}

#[test]
fn bad_inputs_name_the_file_and_exit_2_after_reading_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.log");
    let good = data("loghub/OpenSSH_2k.log");
    let r = run(&["normalize", missing.to_str().unwrap(), dir.path().to_str().unwrap(), good.to_str().unwrap()], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains(&format!("{}: cannot open", missing.display())), "{}", r.stderr);
    assert!(r.stderr.contains("is a directory"), "{}", r.stderr);
    assert_eq!(r.events.len(), 2000, "the readable input is still read");

    let truncated = dir.path().join("cut.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&std::fs::read(&good).unwrap()).unwrap();
    let bytes = enc.finish().unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let r = run(&["normalize", truncated.to_str().unwrap()], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains(&format!("{}: line ", truncated.display())) && r.stderr.contains("read error"), "{}", r.stderr);
    assert!(!r.events.is_empty() && r.events.len() < 2000, "lines before the cut are kept: {}", r.events.len());
    assert!(r.stderr.contains("STOPPED"), "{}", r.stderr);

    let nomatch = dir.path().join("*.nothing");
    let r = run(&["normalize", nomatch.to_str().unwrap()], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no file matches"), "{}", r.stderr);
}

#[test]
fn bad_formats_are_usage_errors() {
    let r = run(&["normalize", "--format", "logfmt"], Some(b""));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown format \"logfmt\""), "{}", r.stderr);
    let r = run(&["normalize", "--format", "pattern:<Date> (<Time> <Content>"], Some(b""));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("'(' without ')'"), "{}", r.stderr);
}

#[test]
fn allow_without_anything_to_allow_is_a_usage_error() {
    let r = run(&["allow", "--model", "m"], Some(b""));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("name what to allow"), "{}", r.stderr);
}

#[test]
fn output_is_deterministic() {
    let path = data("loghub/Thunderbird_2k.log");
    let a = logsieve().args(["normalize", path.to_str().unwrap()]).output().unwrap();
    let b = logsieve().args(["normalize", path.to_str().unwrap()]).output().unwrap();
    assert_eq!(a.stdout, b.stdout);
    assert!(!a.stdout.is_empty());
}

#[test]
fn closed_pipe_ends_quietly() {
    let bin = assert_cmd::cargo::cargo_bin("logsieve");
    let mut child = StdCommand::new(bin)
        .args(["normalize", data("loghub/HDFS_2k.log").to_str().unwrap(), data("loghub/BGL_2k.log").to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(first.starts_with('{'));
    assert!(status.success(), "exit {status}: {err}");
    assert!(!err.contains("error"), "{err}");
}

/// Every command that prints to stdout ends quietly with 0 when the reader has gone before it
/// writes (a pipe into `true`): no panic from a failed print.
#[test]
fn commands_printing_to_a_closed_pipe_exit_quietly() {
    let bin = assert_cmd::cargo::cargo_bin("logsieve");
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/hdfs-demo.model");
    let dir = tempfile::tempdir().unwrap();
    let labels = data("hdfs/demo/labels.csv");
    let new = data("hdfs/demo/new.log");
    let out = dir.path().join("o");
    let st = logsieve()
        .args(["score", new.to_str().unwrap(), "--model", model.to_str().unwrap(), "--out", out.to_str().unwrap(), "-q"])
        .output()
        .unwrap();
    assert!(st.status.success());
    let scores = out.join("scores.jsonl");
    let commands: Vec<Vec<&str>> = vec![
        vec!["model", "info", model.to_str().unwrap()],
        vec!["eval", "--scores", scores.to_str().unwrap(), "--labels", labels.to_str().unwrap()],
        vec!["report", out.to_str().unwrap()],
        vec!["rules", "list"],
        vec!["templates", new.to_str().unwrap()],
    ];
    for args in commands {
        // The reader (`true`) is gone before logsieve starts writing.
        let script = "set -o pipefail; (sleep 0.3; exec \"$@\") | true";
        let run = StdCommand::new("bash").arg("-c").arg(script).arg("logsieve").arg(&bin).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success() && !err.contains("panicked"), "{args:?}: {:?} {err}", run.status);
    }
}

#[test]
fn builtin_rule_examples_all_pass() {
    let out = logsieve().args(["rules", "test"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.trim_end().ends_with(" examples, 0 failed"), "{text}");
}

#[test]
fn user_rules_override_and_broken_packs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("site.toml"),
        r#"[pack]
name = "site"
[[rule]]
id = "openssh.accepted"
process = '^sshd$'
match = '^Accepted (?P<method>\S+) for (?P<user>\S+) from (?P<source>\S+)'
action = "session.start"
[[rule.example]]
line = "Nov 28 09:16:03 srv sshd[32307]: Accepted publickey for git from 192.0.2.1 port 57904 ssh2"
fields = { user = "git" }
"#,
    )
    .unwrap();
    let line = b"Nov 28 09:16:03 srv sshd[32307]: Accepted publickey for git from 192.0.2.1 port 57904 ssh2\n";
    let r = run(&["normalize", "--rules", dir.path().to_str().unwrap(), "-q"], Some(line));
    assert_eq!(get(&r.events[0], "event.action"), "session.start");
    let r = run(&["normalize", "-q"], Some(line));
    assert_eq!(get(&r.events[0], "event.action"), "authentication.login.success");
    assert_eq!(get(&r.events[0], "user.name"), "git");
    let out = logsieve().args(["rules", "test", dir.path().to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));

    std::fs::write(
        dir.path().join("bad.toml"),
        "[pack]\nname = 'bad'\n[[rule]]\nid = 'x'\nmatch = '('\naction = 'session.end'\n[[rule.example]]\nline = 'x'\n",
    )
    .unwrap();
    let r = run(&["normalize", "--rules", dir.path().to_str().unwrap()], Some(line));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("bad.toml: rule x: match regex"), "{}", r.stderr);
}

#[test]
fn normalize_names_events_and_templates() {
    let r = run(&["normalize", data("loghub/OpenSSH_2k.log").to_str().unwrap(), "-q"], None);
    let e = &r.events[1]; // Invalid user webmaster from 173.234.31.186
    assert_eq!(get(e, "event.action"), "authentication.user.invalid");
    assert_eq!(get(e, "event.outcome"), "failure");
    assert_eq!(get(e, "event.category"), &serde_json::json!(["authentication"]));
    assert_eq!((get(e, "user.name"), get(e, "source.ip")), (&Value::from("webmaster"), &Value::from("173.234.31.186")));
    assert_eq!(get(e, "logsieve.rule"), "openssh.invalid-user");
    assert_eq!(get(e, "logsieve.session_key"), "sshd@LabSZ:24200");
    assert!(get(e, "logsieve.template_id").is_u64() && get(e, "logsieve.template").is_string());
    let with_action = r.events.iter().filter(|e| get(e, "event.action").is_string()).count();
    assert!(with_action > 1500, "{with_action} of 2000 OpenSSH lines get a standard event");
    // Every line has a template id; lines no rule knows are named after process and template.
    assert!(r.events.iter().all(|e| get(e, "logsieve.template_id").is_u64()));
    let unknown = r.events.iter().find(|e| get(e, "event.action").is_null()).unwrap();
    let state = get(unknown, "logsieve.state").as_str().unwrap();
    let (app, name) = state.split_once(':').unwrap_or_else(|| panic!("{unknown}"));
    assert_eq!(app, "sshd", "{unknown}");
    assert!(!name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'), "{unknown}");
}

#[test]
fn templates_lists_what_the_miner_found() {
    let out = logsieve().args(["templates", data("loghub/OpenSSH_2k.log").to_str().unwrap(), "-q"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows[0], "id\tcount\ttemplate\texample\tname");
    assert!(rows.len() > 20 && rows.len() < 80, "{} templates", rows.len() - 1);
    let counts: Vec<u64> = rows[1..].iter().map(|r| r.split('\t').nth(1).unwrap().parse().unwrap()).collect();
    assert_eq!(counts.iter().sum::<u64>(), 2000);
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "most frequent first");
    assert!(rows.iter().any(|r| r.contains("\tFailed password for <*> from <*> port <*> ssh2\t")), "{text}");
    // Every template has a name of its own.
    let names: std::collections::BTreeSet<&str> = rows[1..].iter().map(|r| r.rsplit('\t').next().unwrap()).collect();
    assert_eq!(names.len(), rows.len() - 1, "{text}");
    assert!(rows.iter().any(|r| r.ends_with("\tfailed-password-for-from-port-ssh")), "{text}");
}

/// A `--rules` pack too big for one `RegexSet` (150 rules of 60 Unicode word characters each)
/// is no panic: its rules are tried one by one, the right one matches, and the run says so.
#[test]
fn rules_too_many_for_one_set_are_tried_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut pack = String::from("[pack]\nname = \"big\"\ndescription = \"many wide rules\"\n");
    for i in 0..150 {
        pack += &format!(
            "\n[[rule]]\nid = \"big.r{i}\"\nmatch = '^zz{i} \\w{{60}} end$'\naction = \"authentication.login.failure\"\n[[rule.example]]\nline = \"Mar  1 10:00:00 h app[1]: zz{i} {} end\"\n",
            "a".repeat(60)
        );
    }
    std::fs::write(dir.path().join("big.toml"), pack).unwrap();
    let input = format!("Mar  1 10:00:00 h app[1]: zz7 {} end\nMar  1 10:00:00 h app[1]: nothing\n", "b".repeat(60));
    let r = run(&["normalize", "--rules", dir.path().to_str().unwrap(), "-"], Some(input.as_bytes()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(get(&r.events[0], "logsieve.rule"), "big.r7");
    assert_eq!(get(&r.events[0], "event.action"), "authentication.login.failure");
    assert!(r.stderr.contains("too big to compile as one"), "{}", r.stderr);
}
