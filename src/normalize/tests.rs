//! The normalize stage's tests: layers, session context (process entities, inherited sources,
//! web visits, mail transactions).

use super::*;

#[test]
fn layers_name_events_as_the_report_counts_them() {
    let rules = Arc::new(RuleSet::builtin());
    let mut n = Normalizer::new(rules);
    let text = "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186\n\
Dec 10 06:55:47 LabSZ frobd[1]: authentication failed for bob\n\
Dec 10 06:55:48 LabSZ frobd[1]: all quiet";
    let layers: Vec<Layer> = normalize_text(text, &mut n).iter().map(|(e, _)| e.layer()).collect();
    assert_eq!(layers, [Layer::Standard, Layer::Generic, Layer::Template]);
    let mut c = Coverage::default();
    for l in layers {
        c.count(l);
    }
    assert_eq!((c.standard, c.generic, c.template, c.entity), (1, 1, 1, 0));
    // A wrong password is no unknown user; a login the words name fails with failure wording.
    let text = "Mar  1 10:00:00 h webmin[1]: Invalid login as root from 192.0.2.1\n\
Mar  1 10:00:00 h frobd[2]: logon user=bob refused";
    let names: Vec<_> = normalize_text(text, &mut n).iter().map(|(e, _)| (e.action.map(|a| a.name), e.outcome)).collect();
    assert_eq!(
        names,
        [(Some("authentication.login.failure"), Some(Outcome::Failure)), (Some("authentication.login.failure"), Some(Outcome::Failure))]
    );
}

#[test]
fn an_event_without_an_address_takes_its_connections() {
    let mut n = Normalizer::new(Arc::new(RuleSet::builtin()));
    let text = "Feb 17 17:40:17 host sshd[19725]: Connection from 192.0.2.10 port 62004 on 192.0.2.1 port 22\n\
Feb 17 17:40:18 host sshd[19725]: error: kex_exchange_identification: Connection closed by remote host\n\
Feb 17 17:40:18 host sshd[19725]: Connection closed by 192.0.2.10 port 62004 [preauth]\n\
Feb 17 17:40:19 host sshd[19725]: error: kex_exchange_identification: Connection closed by remote host\n\
Feb 17 17:40:19 host sshd[19726]: error: kex_exchange_identification: Connection closed by remote host";
    let events = normalize_text(text, &mut n);
    let source = |i: usize| events[i].0.values("source_ip", &events[i].1);
    assert_eq!(source(1), ["192.0.2.10"]);
    assert_eq!(events[1].0.outcome, Some(Outcome::Failure));
    assert!(events[1].0.fields.contains(&(INHERITED.into(), "source.ip".into())), "{:?}", events[1].0.fields);
    assert!(!events[0].0.fields.iter().any(|(k, _)| k == INHERITED), "its own address is not inherited");
    // The connection ended: a later event of the same pid is another connection's.
    assert!(source(3).is_empty(), "{:?}", events[3].0.fields);
    assert!(source(4).is_empty(), "another process inherits nothing");
}

#[test]
fn a_mail_is_followed_by_its_queue_id_and_a_rejected_one_by_its_connection() {
    let mut n = Normalizer::new(Arc::new(RuleSet::builtin()));
    let text = "Mar  1 10:00:00 mx postfix/smtpd[11]: connect from unknown[192.0.2.1]\n\
Mar  1 10:00:01 mx postfix/smtpd[11]: NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 554 5.7.1 <x@example.com>: Relay access denied; from=<a@b.example> to=<x@example.com> proto=ESMTP helo=<y>\n\
Mar  1 10:00:02 mx postfix/smtpd[12]: NOQUEUE: reject: RCPT from unknown[192.0.2.2]: 554 5.7.1 <x@example.com>: Relay access denied; from=<a@b.example> to=<x@example.com> proto=ESMTP helo=<z>\n\
Mar  1 10:00:03 mx postfix/smtpd[13]: 5C4D3E2F1A: client=unknown[192.0.2.3]\n\
Mar  1 10:00:03 mx postfix/cleanup[14]: 5C4D3E2F1A: message-id=<abc@example.com>\n\
Mar  1 10:00:03 mx postfix/qmgr[15]: 5C4D3E2F1A: from=<a@b.example>, size=1234, nrcpt=1 (queue active)\n\
Mar  1 10:00:04 mx postfix/local[16]: 5C4D3E2F1A: to=<bob@example.com>, relay=local, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (delivered to mailbox)\n\
Mar  1 10:00:04 mx postfix/qmgr[15]: 5C4D3E2F1A: removed";
    let events = normalize_text(text, &mut n);
    let keys: Vec<&str> = events.iter().map(|(e, _)| e.session_key.as_deref().unwrap_or("-")).collect();
    assert_eq!(keys[..3], ["postfix/smtpd@mx:11", "postfix/smtpd@mx:11", "postfix/smtpd@mx:12"], "NOQUEUE is no queue id");
    assert!(keys[3..].iter().all(|k| *k == "5C4D3E2F1A"), "{keys:?}");
    assert_eq!(events.last().map(|(e, _)| e.role), Some(Some(Role::End)));
}

#[test]
fn a_web_client_is_followed_through_its_visit() {
    let mut n = Normalizer::new(Arc::new(RuleSet::builtin()));
    let line = |t: &str, ip: &str, req: &str, status: u32| {
        format!("{ip} - - [10/Oct/2024:{t} +0000] \"{req} HTTP/1.1\" {status} 512 \"-\" \"Mozilla/5.0 (X11; Linux)\"")
    };
    let text = [
        line("13:55:36", "203.0.113.9", "GET /index.html", 200),
        line("13:55:40", "203.0.113.9", "POST /wp-login.php?redirect=1", 401),
        line("13:56:02", "198.51.100.4", "GET /images/2024/logo.PNG", 304),
        line("15:10:00", "203.0.113.9", "GET /wp-admin/admin-ajax.php", 404),
    ]
    .join("\n");
    let events = normalize_text(&text, &mut n);
    let keys: Vec<&str> = events.iter().map(|(e, _)| e.session_key.as_deref().unwrap_or("-")).collect();
    assert_eq!(keys[0], "203.0.113.9 Mozilla/5.0 (X11; Linux)");
    assert_eq!(keys[1], keys[0], "the same visit");
    assert_ne!(keys[2], keys[0], "another client");
    assert_eq!(keys[3], "203.0.113.9 Mozilla/5.0 (X11; Linux) #2", "back after more than 30 minutes: another visit");
    let states: Vec<&str> = events.iter().map(|(e, _)| e.state.as_str()).collect();
    assert_eq!(states, ["GET:/index.html:2xx", "POST:/wp-login.php:4xx", "GET:/images/*.png:3xx", "GET:/wp-admin/*.php:4xx"]);
    assert_eq!(path_shape("/"), "/");
    assert_eq!(path_shape("/user/12345/profile"), "/user/*");
    assert_eq!(path_shape("/2024/05/post"), "/*/*");
    assert_eq!(path_shape("http://example.org/a/b.js?x=1"), "/a/*.js");
}

/// Every line of the bundled logs and line corpora, with its file's name: what the memo of rule
/// decisions is checked on.
fn bundled_lines() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets");
    let mut files: Vec<std::path::PathBuf> = ["loghub", "hdfs", "hdfs/demo"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).unwrap().map(|e| e.unwrap().path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    let mut out: Vec<(String, String)> = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        out.extend(text.lines().map(|l| (f.display().to_string(), l.to_owned())));
    }
    // The line corpora: the column that holds the raw line.
    for (tsv, column) in
        [("nomenclature/corpus_dev.tsv", "raw_line"), ("fail2ban/fail2ban_labels.tsv", "line"), ("unseen/services.tsv", "line")]
    {
        let text = std::fs::read_to_string(root.join(tsv)).unwrap();
        let mut rows = text.lines();
        let header: Vec<&str> = rows.next().unwrap().split('\t').collect();
        let at = header.iter().position(|h| *h == column).unwrap();
        out.extend(rows.filter_map(|r| r.split('\t').nth(at)).map(|l| (tsv.to_owned(), l.trim_matches('"').replace("\"\"", "\""))));
    }
    out
}

#[test]
fn remembered_rule_decisions_are_the_per_line_ones_on_every_bundled_log() {
    let rules = Arc::new(RuleSet::builtin());
    let mut parser = LineParser::new(&Format::Auto, YearAnchor::Given(2024));
    let (mut memo, mut each) = (Normalizer::new(Arc::clone(&rules)), Normalizer::new(Arc::clone(&rules)).without_memo());
    let lines = bundled_lines();
    assert!(lines.len() > 30_000, "{}", lines.len());
    for (i, (file, line)) in lines.iter().enumerate() {
        let Ok(rec) = parser.parse(line, i as u64 + 1) else { continue };
        assert_eq!(memo.classify(&rec), each.classify(&rec), "{file}: {line}");
    }
    let (hits, misses) = memo.memo_counts();
    // Most lines differ from an earlier one only in numbers: the rules ran for a few of them.
    assert!(hits > 3 * misses, "{hits} lines decided by shape, {misses} anew");
    assert_eq!(each.memo_counts(), (0, 0));
}

#[test]
fn rules_that_tell_digits_apart_still_decide_each_line() {
    // Two Windows events differ only in their numbers, and so do two web statuses a user rule
    // tells apart: lines of one shape, each given its own rule.
    let pack = r#"
[pack]
name = "t"
[[rule]]
id = "t.server-error"
process = '^web$'
match = 'status=5\d\d from (?P<source>\S+)'
action = "network.connection.end"
[[rule.example]]
line = "Jan  1 00:00:00 h web[1]: status=503 from 192.0.2.1"
[[rule]]
id = "t.status"
process = '^web$'
match = 'status=\d+ from (?P<source>\S+)'
action = "network.connection.start"
[[rule.example]]
line = "Jan  1 00:00:00 h web[1]: status=200 from 192.0.2.1"
"#;
    let rules = Arc::new(RuleSet::with_pack("t.toml", pack).unwrap());
    let mut n = Normalizer::new(Arc::clone(&rules));
    let mut each = Normalizer::new(rules).without_memo();
    let text = "Jan  1 00:00:00 h web[1]: status=200 from 192.0.2.1\n\
Jan  1 00:00:01 h web[1]: status=503 from 192.0.2.2\n\
Jan  1 00:00:02 h web[1]: status=404 from 192.0.2.3\n\
Jan  1 00:00:03 h web[1]: status=500 from 192.0.2.4\n\
Jan  1 00:00:04 h web[1]: status=999 from 300.0.2.4\n\
Mar  1 10:00:00 h MSWinEventLog[1]: AUDIT_FAILURE(4625) Logon Type: 3 Account For Which Logon Failed: Account Name: bob Source Network Address: 192.0.2.5\n\
Mar  1 10:00:01 h MSWinEventLog[1]: AUDIT_SUCCESS(4624) Logon Type: 3 New Logon: Account Name: bob Source Network Address: 192.0.2.5";
    let got: Vec<_> = normalize_text(text, &mut n).into_iter().map(|(e, _)| (e.rule_id().map(str::to_owned), e.fields)).collect();
    let want: Vec<_> = normalize_text(text, &mut each).into_iter().map(|(e, _)| (e.rule_id().map(str::to_owned), e.fields)).collect();
    assert_eq!(got, want);
    let ids: Vec<_> = got.iter().map(|(id, _)| id.as_deref().unwrap_or("-")).collect();
    assert_eq!(ids, ["t.status", "t.server-error", "t.status", "t.server-error", "t.status", "windows.4625", "windows.4624"]);
    // The fields are the line's own, cut at the remembered spans: `300.0.2.4` is no address.
    assert!(got[4].1.contains(&("source_domain".to_owned(), "300.0.2.4".to_owned())), "{:?}", got[4].1);
    assert!(got[2].1.contains(&("source_ip".to_owned(), "192.0.2.3".to_owned())), "{:?}", got[2].1);
}

#[test]
fn the_first_value_is_the_first_usable_of_the_values() {
    let rules = Arc::new(RuleSet::builtin());
    let mut n = Normalizer::new(rules);
    let text = "Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2\n\
{\"@timestamp\":\"2024-03-01T10:00:00Z\",\"message\":\"login failed\",\"source\":{\"ip\":[\"-\",\"192.0.2.7\"]},\"user\":{\"name\":\"-\"}}\n\
{\"@timestamp\":\"2024-03-01T10:00:00Z\",\"message\":\"all quiet\",\"source\":{\"ip\":\"192.0.2.8\"},\"http\":{\"response\":{\"status_code\":404}}}";
    let events = normalize_text(text, &mut n);
    assert_eq!(events.len(), 3);
    for (ev, rec) in &events {
        for f in ["user", "source_ip", "method", "target_user", "recipient", "nothing"] {
            let want = ev.values(f, rec).into_iter().find(|v| !v.is_empty() && v != "-");
            assert_eq!(ev.first_value(f, rec), want, "{f} of {:?}", rec.message);
        }
    }
    assert_eq!(events[1].0.first_value("source_ip", &events[1].1).as_deref(), Some("192.0.2.7"));
}
