//! Entities across sessions through the real binary, on the hand-made auth.logs of
//! `tests/data/security` (see its README): a brute force that got in, a first password login by
//! root, a first sudo by a user; review marking a finding normal; `watch` reporting a burst while
//! it runs.

use std::path::{Path, PathBuf};

use crate::common::{ok, root, s, scores};
use serde_json::Value;

fn log(name: &str) -> PathBuf {
    root().join("tests/data/security").join(name)
}

/// A model of the clean week.
fn model(dir: &Path) -> PathBuf {
    let m = dir.join("web1.model");
    ok(&["train", "-q", s(&log("train.log")), "--model", s(&m)]);
    m
}

/// The entity findings of scoring `name`.
fn findings(dir: &Path, model: &Path, name: &str) -> Vec<Value> {
    let out = dir.join(name);
    ok(&["score", "-q", s(&log(name)), "--model", s(model), "--out", s(&out)]);
    scores(&out).into_iter().filter(|r| r["closed"] == "entity").collect()
}

fn reason(row: &Value) -> (&str, &str) {
    (row["reasons"][0]["kind"].as_str().unwrap(), row["reasons"][0]["text"].as_str().unwrap())
}

#[test]
fn a_burst_of_failures_then_a_success_from_one_address_is_a_brute_force_that_got_in() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    let found = findings(dir.path(), &m, "burst.log");
    assert!(found.iter().all(|r| r["anomalous"] == true));
    let brute: Vec<&Value> = found.iter().filter(|r| reason(r).0 == "failures_then_success").collect();
    assert_eq!(brute.len(), 1, "{found:#?}");
    let (_, text) = reason(brute[0]);
    assert!(text.starts_with("brute force from 203.0.113.66: 60 login failures in 2.5 min, then a success as root at 11:22:30"), "{text}");
    // Its lines are the failures and the login.
    assert_eq!(brute[0]["lines"].as_array().unwrap().len(), 61);
    // The burst itself, per source and per user, in plain numbers against the clean period.
    let burst = found
        .iter()
        .find(|r| reason(r).0 == "rate_burst" && r["reasons"][0]["value"] == "203.0.113.66")
        .unwrap_or_else(|| panic!("{found:#?}"));
    let (_, text) = reason(burst);
    assert!(text.starts_with("authentication.login.failure from source 203.0.113.66: 60 in 5 min"), "{text}");
    assert!(text.contains("clean period: at most 1 per 5 min from any source"), "{text}");
    // The normal users' logins of the same morning are no finding.
    assert!(!found.iter().any(|r| r.to_string().contains("198.51.100.")), "{found:#?}");
    // The report lists the findings first, grouped by entity.
    let html = std::fs::read_to_string(dir.path().join("burst.log/report.html")).unwrap();
    let at = |s: &str| html.find(s).unwrap_or_else(|| panic!("{s} not in the report"));
    assert!(at("Findings about sources and users") < at("Why sessions were flagged"));
    assert!(html.contains("brute force from 203.0.113.66"));
    // The source that got in comes before the user it got in as.
    assert!(at("<h3>source 203.0.113.66") < at("<h3>user root"));
    // With a plot of each burst's counts over time against the clean period's band.
    let findings = &html[at("Findings about sources and users")..at("Why sessions were flagged")];
    assert!(findings.matches("<svg").count() >= 2, "no rate plots");
    let row = burst["reasons"][0].clone();
    assert_eq!(row["band"], serde_json::json!([1, 6]), "{row}");
    assert_eq!(row["series"].as_array().map(Vec::len), Some(1), "{row}");
}

#[test]
fn a_first_password_login_by_root_is_flagged_with_the_user_and_method() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    let found = findings(dir.path(), &m, "root_password.log");
    assert_eq!(found.len(), 1, "{found:#?}");
    let (kind, text) = reason(&found[0]);
    assert_eq!(kind, "new_in_context");
    assert_eq!(text, "first login by root with method password; clean period: 14 such events, with publickey (14)");
    // Marked normal by review (the command the report offers), it is no longer a finding.
    let scored = dir.path().join("root_password.log/scores.jsonl");
    let key = found[0]["session"].as_str().unwrap();
    ok(&["allow", "--model", s(&m), "--session", key, "--scores", s(&scored), "--note", "root may use a password"]);
    let again = findings(&dir.path().join("again"), &m, "root_password.log");
    assert!(again.is_empty(), "{again:#?}");
}

#[test]
fn a_first_sudo_by_a_user_is_flagged_naming_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    let found = findings(dir.path(), &m, "first_sudo.log");
    assert_eq!(found.len(), 1, "{found:#?}");
    let (kind, text) = reason(&found[0]);
    assert_eq!(kind, "new_in_context");
    assert!(text.starts_with("first privilege use (sudo, su) by alice; clean period: 21 such events, with ops (21)"), "{text}");
    assert_eq!(found[0]["lines"].as_array().unwrap().len(), 1);
}

#[test]
fn watch_reports_a_burst_when_it_crosses_its_limit_and_again_when_it_has_grown() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    let text = std::fs::read_to_string(log("burst.log")).unwrap();
    let out = assert_cmd::Command::cargo_bin("logsieve")
        .unwrap()
        .args(["watch", "-", "--model", s(&m), "-q"])
        .write_stdin(text)
        .output()
        .unwrap();
    assert!(out.status.success());
    let rows: Vec<Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let counts: Vec<u64> = rows
        .iter()
        .filter(|r| {
            r["closed"] == "entity"
                && reason(r).0 == "rate_burst"
                && r["reasons"][0]["value"] == "203.0.113.66"
                && r["reasons"][0]["states"][0] == "authentication.login.failure"
        })
        .map(|r| r["reasons"][0]["count"].as_u64().unwrap())
        .collect();
    // First at the crossing (6 failures are improbable when the busiest source had 1 in 5
    // minutes), then each time it doubled, and its final count when its bucket closed.
    assert_eq!(counts, [6, 12, 24, 48, 60], "{rows:#?}");
}

/// A rule pack declares an entity field (`[pack] entities = ["tenant"]`): `train` follows it
/// like the source and the user, so a burst of failures for one tenant, spread over addresses
/// and users that each fail once, is a finding about that tenant.
#[test]
fn an_entity_a_rule_pack_declares_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::create_dir(p("rules")).unwrap();
    std::fs::write(
        p("rules/vpn.toml"),
        r#"[pack]
name = "vpn"
entities = ["tenant"]

[[rule]]
id = "vpn.login-failed"
process = '^vpnd$'
match = 'login failed for tenant (?P<tenant>\S+) user (?P<user>\S+) from (?P<source>\S+)'
action = "authentication.login.failure"
[[rule.example]]
line = "Mar  1 10:00:00 gw vpnd[7]: login failed for tenant acme user bob from 192.0.2.1"
fields = { user = "bob", source_ip = "192.0.2.1" }
"#,
    )
    .unwrap();
    let line = |secs: u32, tenant: &str, i: u32| {
        format!(
            "Mar  1 {:02}:{:02}:{:02} gw vpnd[{}]: login failed for tenant {tenant} user u{i} from 10.{}.{}.1\n",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            100 + i,
            i / 250,
            i % 250
        )
    };
    // A clean day: each of 10 tenants has a failure every 10 minutes.
    let train: String = (0..1440u32).map(|k| line(k * 60, &format!("t{}", k % 10), k)).collect();
    // Then 40 failures for one tenant in two minutes, each from its own address and user.
    let new: String = (0..40u32).map(|k| line(86_100 + k * 3, "acme", 2000 + k)).collect();
    std::fs::write(p("train.log"), train).unwrap();
    std::fs::write(p("new.log"), new).unwrap();
    let rules = s(&p("rules")).to_owned();
    ok(&["train", "-q", "--year", "2024", "--rules", &rules, s(&p("train.log")), "--model", s(&p("m"))]);
    let info: Value = serde_json::from_str(ok(&["model", "info", "--json", s(&p("m"))]).trim()).unwrap();
    assert_eq!(info["entities"]["fields"], serde_json::json!(["source_ip", "user", "tenant"]), "{}", info["entities"]);
    ok(&["score", "-q", "--year", "2024", "--rules", &rules, s(&p("new.log")), "--model", s(&p("m")), "--out", s(&p("o"))]);
    let rows = scores(&p("o"));
    let tenant: Vec<&Value> = rows.iter().filter(|r| r["closed"] == "entity" && r["reasons"][0]["field"] == "tenant").collect();
    assert_eq!(tenant.len(), 1, "{rows:#?}");
    let text = tenant[0]["reasons"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("authentication.login.failure with tenant acme: 40 in 5 min"), "{text}");
}
