//! The normalize stage on real lines: the bundled nomenclature corpus, the seed case (a forwarded
//! mail looks the same from every MTA), and the generic layer.

use std::sync::Arc;

use crate::common::{corpus, score_row};

use logsieve::normalize::rules::RuleSet;
use logsieve::normalize::{normalize_text, Event, Normalizer};
use logsieve::record::Record;

/// The first event with a standard name, as the referee picks it.
fn primary(evs: &[(Event, Record)]) -> Option<&(Event, Record)> {
    evs.iter().find(|(e, _)| e.action.is_some()).or(evs.first())
}

#[test]
fn corpus_lines_become_their_standard_normalize_text() {
    let mut normalizer = Normalizer::new(Arc::new(RuleSet::builtin()));
    let (mut rows, mut hits, mut fields_all, mut fields_ok) = (0, 0, 0, 0);
    let mut misses = Vec::new();
    for row in corpus() {
        rows += 1;
        let (hit, ok, all) = score_row(&row, &mut normalizer, &mut misses);
        hits += usize::from(hit);
        fields_ok += ok;
        fields_all += all;
    }
    let accuracy = hits as f64 / rows as f64;
    let fields = fields_ok as f64 / fields_all as f64;
    assert!(rows == 178 && accuracy >= 0.98, "accuracy {accuracy:.3} ({hits}/{rows}); misses: {misses:#?}");
    assert!(fields >= 0.98, "fields {fields:.3} ({fields_ok}/{fields_all})");
}

/// (product, raw record, recipient, original recipient, sender)
type Forward = (&'static str, &'static str, Option<&'static str>, Option<&'static str>, Option<&'static str>);

#[test]
fn a_forwarded_mail_looks_the_same_from_every_mta() {
    let mut normalizer = Normalizer::new(Arc::new(RuleSet::builtin()));
    // (product, raw record, recipient, original recipient, sender)
    let cases: [Forward; 6] = [
        ("exim", r#"1999-03-02 09:44:33 10HmaX-000000005vi-0000 => one@remote <list@test.ex> R=all T=smtp H=127.0.0.1 [127.0.0.1] C="250 OK""#, Some("one@remote"), Some("list@test.ex"), None),
        ("postfix orig_to", "Apr 27 23:34:43 vs postfix/smtp[9589]: B571297E01AB: to=<me@gmail.com>, orig_to=<me@mydomain.com>, relay=x.com[192.0.2.1]:25, delay=0.5, dsn=2.0.0, status=sent (250 2.0.0 OK)", Some("me@gmail.com"), Some("me@mydomain.com"), None),
        ("postfix forwarded as", "3mLQKH6hqhz7sWK: to=<logspam@system.alerts>, relay=local, delay=3.1, delays=1.8/0.86/0/0.44, dsn=2.0.0, status=sent (forwarded as 3mLQKK4rDdz7sVS)", None, Some("logspam@system.alerts"), None),
        ("sendmail alias", "Mar  6 12:11:02 SERVER sm-mta[5514]: n261B2dO005513: to=server, ctladdr=<root@SERVER> (0/0), delay=00:00:00, xdelay=00:00:00, mailer=local, pri=30771, dsn=2.0.0, stat=Sent", Some("server"), Some("root@SERVER"), None),
        ("procmail !", "From glenn@eresources.com.au  Fri Dec 12 11:11:54 2008\n  Subject: test3\n   Folder: /usr/sbin/sendmail -oi test3@dmdiesel.com.au                     5497", Some("test3@dmdiesel.com.au"), None, Some("glenn@eresources.com.au")),
        // Exchange message tracking columns (2013-2019 layout): REDIRECT names the original
        // recipient in recipient-address and the new one in related-recipient-address.
        ("exchange REDIRECT", "2025-01-14T09:29:05.327Z,,,,exch.example.com,,,AGENT,REDIRECT,123,<a@b>,,bob@example.com,,100,1,alice@example.org,,Hi,carol@example.com,carol@example.com,,Originating,,,,,,,", Some("alice@example.org"), Some("bob@example.com"), Some("carol@example.com")),
    ];
    for (product, raw, to, orig, from) in cases {
        let evs = normalize_text(raw, &mut normalizer);
        let (ev, rec) = primary(&evs).unwrap_or_else(|| panic!("{product}: no event"));
        assert_eq!(ev.action.map(|a| a.name), Some("email.forward"), "{product} ({:?})", ev.rule);
        for (short, want) in [("recipient", to), ("original_recipient", orig), ("sender", from)] {
            if let Some(want) = want {
                assert!(ev.values(short, rec).iter().any(|v| v == want), "{product}: {short} {:?}, want {want}", ev.values(short, rec));
            }
        }
    }
}

#[test]
fn unknown_daemons_get_outcome_user_and_source() {
    let mut normalizer = Normalizer::new(Arc::new(RuleSet::builtin()));
    let evs = normalize_text("Mar  1 10:00:00 gw frobd[77]: authentication failed for bob from 1.2.3.4", &mut normalizer);
    let (ev, rec) = &evs[0];
    assert_eq!((ev.rule_id(), ev.outcome), (Some("generic"), Some(logsieve::normalize::vocabulary::Outcome::Failure)));
    assert_eq!(ev.action.map(|a| a.name), Some("authentication.login.failure"));
    assert_eq!((ev.values("user", rec), ev.values("source_ip", rec)), (vec!["bob".to_owned()], vec!["1.2.3.4".to_owned()]));
    // A message nobody knows and without outcome wording becomes a template state.
    let evs = normalize_text("Mar  1 10:00:01 gw frobd[77]: queue depth now 17", &mut normalizer);
    assert_eq!((evs[0].0.rule_id(), evs[0].0.state.as_str()), (None, "frobd:queue-depth-now"), "named by its words");
}

#[test]
fn windows_event_text_is_one_record() {
    let mut normalizer = Normalizer::new(Arc::new(RuleSet::builtin()));
    let raw = "blint: Security Microsoft Windows security auditing.: [] An account failed to log on.\n\nSubject:\n Security ID:  S-1-5-18\n Account Name:  WIN-SERVERDEMO$\n\nLogon Type:   10\n\nAccount For Which Logon Failed:\n Account Name:  blint\n\nNetwork Information:\n Source Network Address: 10.20.0.12";
    let evs = normalize_text(raw, &mut normalizer);
    assert_eq!(evs.len(), 1, "one record for the whole event");
    let (ev, rec) = &evs[0];
    assert_eq!(ev.rule_id(), Some("windows.4625"));
    assert_eq!(
        (ev.values("user", rec), ev.values("source_ip", rec), ev.values("logon_type", rec)),
        (vec!["blint".to_owned()], vec!["10.20.0.12".to_owned()], vec!["10".to_owned()])
    );
}
