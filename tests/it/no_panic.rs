//! Property tests: no input makes a parser, the template compiler, the line reader or the ECS
//! writer panic, every line is accounted for, and every record is written as one valid JSON line.

use std::sync::{Arc, LazyLock};

use logsieve::normalize::miner::Miner;
use logsieve::normalize::rules::RuleSet;
use logsieve::normalize::{generic as generic_layer, Normalizer, Origin};
use logsieve::output::ecs::write_ecs;
use logsieve::parse::exchange::ExchangeHeader;
use logsieve::parse::{apache, generic, header, json, rfc5424, sequences, syslog, time};
use logsieve::parse::{Format, LineParser, Pattern, YearAnchor, YearInference};
use logsieve::read::LineReader;
use proptest::prelude::*;

static RULES: LazyLock<Arc<RuleSet>> = LazyLock::new(|| Arc::new(RuleSet::builtin()));

fn formats() -> Vec<Format> {
    [
        "auto",
        "syslog",
        "json",
        "apache",
        "exchange",
        "sequences",
        "pattern:<Date> <Time> <Pid> <Level> <Component>: <Content>",
        "pattern:<Month> <Date> <Time> <Level> <Component>([<PID>])?: <Content>",
        "pattern:<Time>(<X>)? <Content>",
    ]
    .iter()
    .map(|f| f.parse().expect("format"))
    .collect()
}

/// Runs every parser on `line` and writes each record; panics are the failure.
fn exercise(line: &str) {
    let mut years = YearInference::new(YearAnchor::Given(2024));
    let headers = logsieve::parse::auto::builtins();
    let _ = syslog::parse_rfc3164(line, &mut years);
    let _ = syslog::parse_untimed(&headers, line);
    let _ = syslog::parse_tai64n(line);
    let _ = syslog::parse_audit(line);
    let _ = header::split_tag(line, true);
    let _ = rfc5424::parse_rfc5424(line);
    let _ = json::parse_json(line, &mut years);
    let _ = apache::parse_access(&headers, line);
    let _ = apache::parse_apache_error(&headers, line);
    let _ = apache::parse_nginx_error(&headers, line);
    let _ = generic::parse_timestamped(line);
    let _ = generic::parse_levelled(&headers, line);
    let _ = sequences::parse_sequence(line, 1);
    let _ = ExchangeHeader::default().parse(line);
    let _ = time::parse_any(line, Some(&mut years));
    let _ = time::parse_any(line, None);
    let _ = time::scan_bsd(line.as_bytes(), &mut years);
    let _ = time::scan_iso(line.as_bytes());
    let _ = time::tai64n(line.as_bytes());
    let _ = Pattern::compile(line);
    let _ = generic_layer::classify(line);
    let mut miner = Miner::default();
    let _ = miner.add(line);
    let _ = miner.peek(line);
    for format in formats() {
        let mut p = LineParser::new(&format, YearAnchor::LastWritten { year: 2024, month: 2 });
        let mut normalizer = Normalizer::new(RULES.clone());
        for n in 1..=2 {
            if let Ok(rec) = p.parse(line, n) {
                let event = normalizer.normalize(&rec);
                let mut out = Vec::new();
                write_ecs(&mut out, &rec, Some(&event), &Origin { file: "f", line: n, original: line });
                let text = std::str::from_utf8(&out).expect("ECS output is UTF-8");
                assert!(!text.contains('\n'), "one line per record");
                serde_json::from_str::<serde_json::Value>(text).expect("ECS output is JSON");
            }
        }
    }
}

/// Real header starts, so that random tails reach the deeper branches of each parser.
const PREFIXES: &[&str] = &[
    "Dec 10 06:55:46 LabSZ sshd[",
    "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: ",
    "<34>1 2003-10-11T22:14:15.003Z h app 1 ID [a b=\"",
    "<13>",
    "2015-04-16T18:02:50.321974+00:00 host ",
    "{\"@timestamp\":",
    "{\"__REALTIME_TIMESTAMP\":\"1\",\"MESSAGE\":[",
    "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"",
    "[Sat Jul 20 21:37:32.266605 2013] [auth_basic:error] [pid ",
    "2012/04/09 11:53:29 [error] 2865#0: ",
    "#Fields: date-time,event-id\n",
    "2024-01-07T00:00:07.463Z,",
    "081109 203615 148 INFO dfs.DataNode: ",
    "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 ",
    "@400000003e3829103573e42c ",
    "type=USER_LOGIN msg=audit(",
    "blk_1,",
    "srv sshd[1]: ",
    "Fri Jan 19 12:20:33 2007 [pid ",
    "Feb 29 00:00:00 ",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn log_shaped_text(line in "[<>0-9A-Za-z :.\\[\\]()/@#,={}\"'\\\\|+-]{0,120}") {
        exercise(&line);
    }

    #[test]
    fn real_header_then_anything(i in 0..PREFIXES.len(), tail in "\\PC{0,80}", cut in 0usize..64) {
        let full = format!("{}{}", PREFIXES[i], tail);
        exercise(&full);
        // Also every header cut short at a char boundary.
        let at = (0..=cut.min(full.len())).rev().find(|&k| full.is_char_boundary(k)).unwrap_or(0);
        exercise(&full[..at]);
    }

    #[test]
    fn reader_accounts_for_every_line(bytes in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), Just(0xff), any::<u8>()], 0..300)) {
        let mut r = LineReader::new(&bytes[..]);
        let (mut lines, mut consumed) = (0u64, 0usize);
        while let Some(line) = r.next_line().unwrap() {
            lines += 1;
            consumed += line.bytes;
            prop_assert!(!line.text.contains('\n'));
        }
        let newlines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        let unterminated = u64::from(!bytes.is_empty() && *bytes.last().unwrap() != b'\n');
        prop_assert_eq!(lines, newlines + unterminated);
        prop_assert_eq!(consumed, bytes.len());
    }
}
