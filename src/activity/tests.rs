//! The activity module's tests: networks of addresses, tallies of partitions, the busiest minute,
//! and the busiest entities of a contaminated period.

use super::*;

#[test]
fn networks_of_addresses() {
    let cases = [
        ("192.0.2.17", Some("192.0.2.0/24")),
        ("0.0.0.0", Some("0.0.0.0/24")),
        ("255.255.255.255", Some("255.255.255.0/24")),
        ("10.1.22.3", Some("10.1.22.0/24")),
        ("2001:db8:0:1:2::9", Some("2001:db8:0:1::/64")),
        ("::1", Some("0:0:0:0::/64")),
        ("999.1.1.1", None),
        ("host.example", None),
    ];
    for (ip, want) in cases {
        assert_eq!(network(ip).as_deref(), want, "{ip}");
    }
}

fn act(name: &str, secs: i64, fields: &[(&'static str, &str)]) -> Act {
    let time = Timestamp::from_unix(secs, 0);
    let fields: Vec<(&'static str, String)> = fields.iter().map(|(f, v)| (*f, v.to_string())).collect();
    let entities = fields.iter().filter(|(f, _)| DEFAULT_ENTITIES.contains(f)).map(|(f, v)| (f.to_string(), v.clone())).collect();
    Act { name: name.into(), time, entities, fields, state: 0, line: LineRef { file: 0, line: 1 } }
}

#[test]
fn tallies_of_partitions_add_up_to_the_tally_of_their_union() {
    let events = [
        act("authentication.login.failure", 10, &[("source_ip", "192.0.2.1"), ("user", "root")]),
        act("authentication.login.failure", 20, &[("source_ip", "192.0.2.1"), ("user", "admin")]),
        act(LOGIN_SUCCESS, 400, &[("source_ip", "192.0.2.1"), ("user", "root"), ("method", "publickey")]),
        act(LOGIN_SUCCESS, 30, &[("source_ip", "198.51.100.7"), ("user", "ann"), ("method", "password")]),
    ];
    let mut all = Tally::default();
    events.iter().for_each(|a| all.observe(a, 300));
    let (mut a, mut b) = (Tally::default(), Tally::default());
    events.iter().step_by(2).for_each(|e| a.observe(e, 300));
    events.iter().skip(1).step_by(2).for_each(|e| b.observe(e, 300));
    b.merge(&a);
    assert_eq!(b, all);
    let base = all.baseline(300, 0.0);
    let fails = base.rates[&("source_ip".to_owned(), "authentication.login.failure".to_owned())];
    assert_eq!((fails.busiest, fails.breadth, fails.entities), (2, 2, 1));
    let methods = &base.contexts[&("login-method".to_owned(), "root".to_owned())];
    assert_eq!((methods.events, methods.once), (1, 1));
}

#[test]
fn the_busiest_minute_bounds_every_sliding_minute() {
    let mut t = Tally::default();
    // 2 failures at 0:50 and 0:55, 2 more at 1:05 and 1:10: 4 in 20 s across a minute's edge;
    // 3 more spread over the rest of the bucket.
    for s in [50, 55, 65, 70, 150, 210, 270] {
        t.observe(&act("authentication.login.failure", s, &[("source_ip", "192.0.2.1")]), 300);
    }
    let key = ("source_ip".to_owned(), "authentication.login.failure".to_owned());
    let rate = t.baseline(300, 0.0).rates[&key];
    assert_eq!((rate.busiest, rate.short), (7, Some(4)));
    // The whole log has no short scale (its bursts are judged per bucket).
    assert_eq!(t.baseline(300, 0.0).rates[&(ALL.to_owned(), key.1.clone())].short, None);
}

#[test]
fn the_busiest_entities_of_a_contaminated_period_are_set_aside() {
    let mut t = Tally::default();
    for i in 0..20 {
        t.observe(&act("authentication.login.failure", 0, &[("source_ip", &format!("10.0.0.{i}"))]), 300);
    }
    for k in 0..50 {
        t.observe(&act("authentication.login.failure", k, &[("source_ip", "203.0.113.9")]), 300);
    }
    let key = ("source_ip".to_owned(), "authentication.login.failure".to_owned());
    assert_eq!(t.baseline(300, 0.0).rates[&key].busiest, 50);
    assert_eq!(t.baseline(300, 0.05).rates[&key].busiest, 1, "one of 21 sources is within 5 %");
}
