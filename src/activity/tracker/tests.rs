//! The tracker's tests: silences, files followed apart, bursts of the whole log and of a
//! minute, and a log whose time goes back.

use super::*;

fn act(name: &str, secs: i64, file: u32, source: &str) -> Act {
    Act {
        name: name.into(),
        time: Timestamp::from_unix(secs, 0),
        entities: vec![("source_ip".into(), source.into())],
        fields: vec![("source_ip", source.into())],
        state: 0,
        line: LineRef { file, line: secs as u64 },
    }
}

/// A clean hour: every 5 minutes 10 cron runs, and one login failure from one address.
fn baseline() -> Baseline {
    let mut t = super::super::Tally::default();
    for b in 0..12 {
        for k in 0..10 {
            t.observe(&act("cron.run", b * 300 + k, 0, "10.0.0.1"), 300);
        }
        t.observe(&act("authentication.login.failure", b * 300 + 20, 0, "10.0.0.2"), 300);
    }
    t.baseline(300, 0.05)
}

#[test]
fn an_event_the_whole_log_always_had_is_missed_when_it_stops() {
    let base = baseline();
    assert_eq!(base.rates[&(ALL.to_owned(), "cron.run".to_owned())].quietest, 10);
    assert_eq!(base.rates[&(ALL.to_owned(), "authentication.login.failure".to_owned())].quietest, 1);
    let mut t = Tracker::new(&base, false);
    // cron runs in buckets 100 and 104, failures go on in between.
    for b in [100, 101, 102, 103, 104] {
        if b == 100 || b == 104 {
            t.observe(&act("cron.run", b * 300, 0, "10.0.0.1"));
        }
        t.observe(&act("authentication.login.failure", b * 300 + 5, 0, "10.0.0.2"));
    }
    t.finish();
    let silent: Vec<&Finding> = t.findings.iter().filter(|f| f.kind == Kind::Silence).collect();
    assert_eq!(silent.len(), 1, "{:?}", t.findings);
    assert!(silent[0].text.starts_with("cron.run stopped: none in 15 min"), "{}", silent[0].text);
    // Failures (at least 1 per bucket) are not regular enough for their absence to matter.
    assert!(!t.findings.iter().any(|f| f.act.contains("failure")));
}

#[test]
fn files_are_followed_apart_so_an_earlier_file_does_not_inflate_a_later_bucket() {
    let base = baseline();
    let mut t = Tracker::new(&base, false);
    // Two files of the same hour: 4 failures from one address in each, in bucket 50.
    for file in 0..2 {
        for k in 0..4 {
            t.observe(&act("authentication.login.failure", 50 * 300 + k, file, "192.0.2.9"));
        }
        t.observe(&act("authentication.login.failure", 60 * 300, file, "192.0.2.1"));
    }
    t.finish();
    assert!(t.findings.iter().all(|f| f.kind != Kind::Burst), "{:?}", t.findings);
    // In one file, 8 are a burst (the clean period's busiest address had 1).
    let mut t = Tracker::new(&base, false);
    for k in 0..8 {
        t.observe(&act("authentication.login.failure", 50 * 300 + k, 0, "192.0.2.9"));
    }
    t.finish();
    assert!(t.findings.iter().any(|f| f.kind == Kind::Burst && f.value == "192.0.2.9" && f.count == 8), "{:?}", t.findings);
}

#[test]
fn a_log_whose_time_goes_back_is_not_counted_into_one_bucket() {
    let base = baseline();
    // The same hour of one failure a bucket from one address, logged 50 times over (a log
    // replayed, files concatenated out of order): never more than one in a bucket.
    let mut t = Tracker::new(&base, false);
    for _ in 0..50 {
        for b in 0..12 {
            t.observe(&act("authentication.login.failure", b * 300 + 20, 0, "10.0.0.2"));
        }
    }
    let (most, minute) = t.open.values().fold((0, 0), |(a, b), c| (a.max(c.count), b.max(c.recent.len())));
    assert!(most <= 1 && minute <= 1, "{most} events, {minute} in the minute");
    t.finish();
    assert!(t.findings.iter().all(|f| f.kind != Kind::Burst), "{:?}", t.findings);
}

#[test]
fn a_burst_spread_over_many_sources_is_a_burst_of_the_whole_log() {
    let base = baseline();
    let mut t = Tracker::new(&base, false);
    for i in 0..20 {
        t.observe(&act("authentication.login.failure", 70 * 300 + i, 0, &format!("198.51.100.{i}")));
    }
    t.finish();
    let kinds: Vec<(&str, &str)> = t.findings.iter().map(|f| (f.field.as_str(), f.value.as_str())).collect();
    assert_eq!(kinds, [(ALL, ALL)], "no one source is a burst, the log is: {:?}", t.findings);
    assert!(t.findings[0].text.contains("20 in 5 min") && t.findings[0].text.contains("at most 1 from one source"));
}

#[test]
fn watch_alerts_on_a_fast_burst_before_its_bucket_fills() {
    // Clean: one address fails 3 times within 10 s, three times in a bucket (9 per 5 min,
    // at most 3 in a minute).
    let mut tally = super::super::Tally::default();
    for s in [0, 5, 10, 130, 135, 140, 250, 255, 260] {
        tally.observe(&act("authentication.login.failure", s, 0, "10.0.0.2"), 300);
    }
    let base = tally.baseline(300, 0.0);
    let rate = base.rates[&("source_ip".to_owned(), "authentication.login.failure".to_owned())];
    assert_eq!((rate.busiest, rate.short), (9, Some(3)));
    assert_eq!((limit(9), limit(3)), (21, 11));
    // A brute force at one failure a second: the minute's limit (11) is reached at its 11th
    // failure, long before the bucket's (21).
    let mut t = Tracker::new(&base, true);
    let mut first = None;
    for i in 0..30 {
        t.observe(&act("authentication.login.failure", 100 * 300 + i, 0, "192.0.2.66"));
        if first.is_none() && !t.findings.is_empty() {
            first = Some(i + 1);
        }
    }
    assert_eq!(first, Some(11), "{:?}", t.findings);
    let f = &t.findings[0];
    assert_eq!((f.kind, f.value.as_str()), (Kind::Burst, "192.0.2.66"));
    assert!(t.findings[1].text.contains("22 in 5 min"), "{}", t.findings[1].text);
    assert!(
        f.text.contains("11 within a minute (08:20:00–08:20:10)") && f.text.contains("clean period: at most 3 in any minute"),
        "{}",
        f.text
    );
    // Reported again when it has doubled (22 in a minute, by then over the bucket's limit too).
    assert_eq!(t.findings.len(), 2, "{:?}", t.findings.iter().map(|f| &f.text).collect::<Vec<_>>());
    // Nine failures spread over a bucket are no burst at either scale.
    let mut t = Tracker::new(&base, true);
    for i in 0..9 {
        t.observe(&act("authentication.login.failure", 100 * 300 + 29 * i, 0, "192.0.2.67"));
    }
    t.finish();
    assert!(t.findings.is_empty(), "{:?}", t.findings);
}

#[test]
fn a_minute_of_events_at_one_time_is_one_run() {
    let t = |s: u32| Timestamp::naive(chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap().and_hms_opt(10, 0, s).unwrap());
    let mut m = Minute::default();
    // 10,000 events in one second, then 10 a second later: two runs, every event counted.
    for _ in 0..10_000 {
        m.push(1_000, t(1));
    }
    for _ in 0..10 {
        m.push(2_000, t(2));
    }
    assert_eq!((m.runs.len(), m.len(), m.first()), (2, 10_010, Some(t(1))));
    // The first second leaves the window whole; the same millisecond written otherwise is a run.
    m.drop_until(1_000);
    assert_eq!((m.runs.len(), m.len(), m.first(), m.last_millis()), (1, 10, Some(t(2)), Some(2_000)));
    m.push(2_000, t(3));
    assert_eq!((m.runs.len(), m.len()), (2, 11));
    m.clear();
    assert_eq!((m.len(), m.first()), (0, None));
}

#[test]
fn a_minute_replayed_keeps_one_run_per_time() {
    let t = |s: u32| Timestamp::naive(chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap().and_hms_opt(10, 0, s).unwrap());
    let mut m = Minute::default();
    // The same 30 seconds replayed 1,000 times: every event counted, one run per second, in
    // time order.
    for _ in 0..1_000 {
        for s in 0..30 {
            m.push(i64::from(s) * 1_000, t(s));
        }
    }
    assert_eq!((m.runs.len(), m.len(), m.first(), m.last_millis()), (30, 30_000, Some(t(0)), Some(29_000)));
    assert!(m.runs.iter().zip(m.runs.iter().skip(1)).all(|(a, b)| a.0 < b.0));
    // An event out of order at a new time goes in its place; the window then loses what is at or
    // before its start, whatever order it came in.
    m.push(14_500, t(14));
    assert_eq!((m.runs.len(), m.runs[15].0, m.runs[15].2), (31, 14_500, 1));
    m.drop_until(14_500);
    assert_eq!((m.runs.len(), m.len(), m.first()), (15, 15_000, Some(t(15))));
}
