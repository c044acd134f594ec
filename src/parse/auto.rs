//! `--format auto`: picks, line by line, the first header that fits, trying the one that fit the
//! previous line first.
//!
//! Built-in headers, most specific first: JSON; RFC 5424; RFC 3164 and its variants; MS Exchange
//! (`#Fields:` header or an ISO stamp then a comma); access logs; Apache and nginx error logs;
//! Linux audit; TAI64N; the loghub headers (HDFS, Hadoop, Zookeeper, OpenStack, BGL, Thunderbird,
//! Spark, HPC, Windows CBS, Android, HealthApp, Proxifier) with typed fields so that they match
//! only their own lines; pre-parsed sequences; a bare leading timestamp; a level word and logger
//! name; a timestamp-less syslog tag. Anything else is a `plain` record.

use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use regex::Regex;

use super::exchange::{ExchangeHeader, ExchangeLine};
use super::time::YearInference;
use super::{apache, generic, json, rfc5424, sequences, syslog, Pattern, Skip};
use crate::record::{Record, RecordKind};

/// A built-in header template with the regex of each of its fields.
struct Builtin {
    template: &'static str,
    types: &'static [(&'static str, &'static str)],
}

const LEVEL: &str = "[A-Z]+";
const LOGGER: &str = r"[^\s:]+";

/// Templates follow loghub's (../shared/datasets/README.md); a host-like field is named `Host`.
const BUILTINS: &[Builtin] = &[
    Builtin {
        template: "<Date> <Time> <Pid> <Level> <Component>: <Content>",
        types: &[("Date", r"\d{6}"), ("Time", r"\d{6}"), ("Pid", r"\d+"), ("Level", LEVEL), ("Component", LOGGER)],
    },
    Builtin {
        template: "<Date> <Time> <Level> [<Process>] <Component>: <Content>",
        types: &[
            ("Date", r"\d{4}-\d\d-\d\d"),
            ("Time", r"\d\d:\d\d:\d\d,\d{3}"),
            ("Level", LEVEL),
            ("Process", r"[^\]]*"),
            ("Component", LOGGER),
        ],
    },
    Builtin {
        template: "<Date> <Time> - <Level> [<Node>:<Component>@<Id>] - <Content>",
        types: &[
            ("Date", r"\d{4}-\d\d-\d\d"),
            ("Time", r"\d\d:\d\d:\d\d,\d{3}"),
            ("Level", LEVEL),
            // `QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181`, `ProcessThread(sid:1 cport:-1):`
            ("Node", r".*?"),
            ("Component", r"[^\s:@\]]+"),
            ("Id", r"\d+"),
        ],
    },
    // OpenStack: loghub's copy starts with the log file name, nova's own files do not.
    Builtin {
        template: "(<Logrecord> )?<Date> <Time> <Pid> <Level> <Component> ([<ADDR>] )?<Content>",
        types: &[
            ("Logrecord", r"\S+"),
            ("Date", r"\d{4}-\d\d-\d\d"),
            ("Time", r"\d\d:\d\d:\d\d\.\d+"),
            ("Pid", r"\d+"),
            ("Level", LEVEL),
            ("Component", r"\S+"),
            ("ADDR", r"[^\]]*"),
        ],
    },
    Builtin {
        template: "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>",
        types: &[
            ("Label", r"\S+"),
            ("Timestamp", r"\d{9,10}"),
            ("Date", r"\d{4}\.\d\d\.\d\d"),
            ("Node", r"\S+"),
            ("Time", r"\d{4}-\d\d-\d\d-\d\d\.\d\d\.\d\d\.\d+"),
            ("NodeRepeat", r"\S+"),
            ("Type", r"\S+"),
            ("Component", r"\S+"),
            ("Level", r"\S+"),
        ],
    },
    // Thunderbird; the tag is optional (a few lines carry none).
    Builtin {
        template: "<Label> <Timestamp> <Date> <Host> <Month> <Day> <Time> <Location> (<Component>([<PID>])?: )?<Content>",
        types: &[
            ("Label", r"\S+"),
            ("Timestamp", r"\d{9,10}"),
            ("Date", r"\d{4}\.\d\d\.\d\d"),
            ("Host", r"\S+"),
            ("Month", r"[A-Z][a-z]{2}"),
            ("Day", r"\d{1,2}"),
            ("Time", r"\d\d:\d\d:\d\d"),
            ("Location", r"\S+"),
            ("Component", r"[^\s:\[]+"),
            ("PID", r"\d+"),
        ],
    },
    Builtin {
        template: "<Date> <Time> <Level> <Component>: <Content>",
        types: &[("Date", r"\d\d/\d\d/\d\d"), ("Time", r"\d\d:\d\d:\d\d"), ("Level", LEVEL), ("Component", LOGGER)],
    },
    Builtin {
        template: "<LogId> <Node> <Component> <State> <Time> <Flag> <Content>",
        types: &[("LogId", r"\d+"), ("Node", r"\S+"), ("Component", r"\S+"), ("State", r"\S+"), ("Time", r"\d{9,10}"), ("Flag", r"\d+")],
    },
    Builtin {
        template: "<Date> <Time>, <Level> <Component> <Content>",
        types: &[("Date", r"\d{4}-\d\d-\d\d"), ("Time", r"\d\d:\d\d:\d\d"), ("Level", r"[A-Z][a-z]+"), ("Component", r"\S+")],
    },
    Builtin {
        template: "<Date> <Time> <Pid> <Tid> <Level> <Component>: <Content>",
        types: &[
            ("Date", r"\d\d-\d\d"),
            ("Time", r"\d\d:\d\d:\d\d\.\d{3}"),
            ("Pid", r"\d+"),
            ("Tid", r"\d+"),
            ("Level", r"[VDIWEFA]"),
            ("Component", r"[^:]*?"),
        ],
    },
    Builtin {
        template: "<Time>|<Component>|<Pid>|<Content>",
        types: &[("Time", r"\d{8}-\d\d:\d\d:\d\d:\d{1,3}"), ("Component", r"[^|]+"), ("Pid", r"\d+")],
    },
    // Proxifier: a 64-bit program is written `svchost.exe *64`.
    Builtin { template: "[<Time>] <Program> - <Content>", types: &[("Time", r"\d\d\.\d\d \d\d:\d\d:\d\d"), ("Program", r"\S+(?: \*64)?")] },
];

/// The built-in headers (the loghub templates, and the access log, Apache and nginx error log and
/// levelled line regexes), each compiled on its first use and shared by the parsers alive at that
/// time. They are freed with the last parser that holds them: a run's own input usually needs one
/// header or none (syslog lines fit before any of these is tried). The analogy layer, which
/// parses every rule example at start-up (about 7 MB of automata for all the headers), uses a
/// set of its own ([`Builtins::private`]): shared, they would live as long as the input's reader
/// that happened to start meanwhile.
#[derive(Debug, Default)]
pub struct Builtins {
    loghub: [OnceLock<Pattern>; BUILTINS.len()],
    access: OnceLock<Regex>,
    apache_error: OnceLock<Regex>,
    nginx_error: OnceLock<Regex>,
    levelled: OnceLock<Regex>,
}

impl Builtins {
    /// A set of headers that no other parser shares: freed when its holder is done.
    pub fn private() -> Arc<Builtins> {
        Arc::new(Builtins::default())
    }

    fn get(&self, i: usize) -> &Pattern {
        self.loghub[i].get_or_init(|| {
            let b = &BUILTINS[i];
            Pattern::compile_typed(b.template, &|name| b.types.iter().find(|(n, _)| *n == name).map(|(_, t)| *t))
                .expect("built-in template compiles")
        })
    }

    /// The common and combined access log line.
    pub(super) fn access(&self) -> &Regex {
        self.access.get_or_init(apache::access_regex)
    }

    /// The Apache error log line.
    pub(super) fn apache_error(&self) -> &Regex {
        self.apache_error.get_or_init(apache::apache_error_regex)
    }

    /// The nginx error log line.
    pub(super) fn nginx_error(&self) -> &Regex {
        self.nginx_error.get_or_init(apache::nginx_error_regex)
    }

    /// A level word, a logger name, the message.
    pub(super) fn levelled(&self) -> &Regex {
        self.levelled.get_or_init(generic::levelled_regex)
    }
}

/// The built-in headers one parser uses: a set of its own, or else the set the parsers alive
/// share, taken when the parser first needs a header from it.
#[derive(Debug, Default)]
pub(super) struct HeldBuiltins(Option<Arc<Builtins>>);

impl HeldBuiltins {
    /// Holds `set`.
    pub(super) fn of(set: Arc<Builtins>) -> Self {
        HeldBuiltins(Some(set))
    }

    /// The set held, taking the shared one first if need be.
    pub(super) fn get(&mut self) -> &Builtins {
        self.0.get_or_insert_with(builtins)
    }
}

static SHARED: Mutex<Weak<Builtins>> = Mutex::new(Weak::new());

/// The compiled built-in headers: the ones every parser alive shares, else a new, empty set.
/// Holding the result keeps what is compiled for the parsers made meanwhile (as the analogy
/// layer does while it parses the rules' examples, one parser per example).
pub fn builtins() -> Arc<Builtins> {
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(b) = shared.upgrade() {
        return b;
    }
    let b = Builtins::private();
    *shared = Arc::downgrade(&b);
    b
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Candidate {
    Json,
    Rfc5424,
    Rfc3164,
    Exchange,
    Access,
    ApacheError,
    NginxError,
    Audit,
    Tai64n,
    Builtin(usize),
    Sequence,
    Timestamped,
    Levelled,
    Untimed,
}

fn order() -> impl Iterator<Item = Candidate> {
    use Candidate::*;
    [Json, Rfc5424, Rfc3164, Exchange, Access, ApacheError, NginxError, Audit, Tai64n]
        .into_iter()
        .chain((0..BUILTINS.len()).map(Builtin))
        .chain([Sequence, Timestamped, Levelled, Untimed])
}

/// Auto-detection state for one input.
#[derive(Debug, Default)]
pub struct AutoDetect {
    last: Option<Candidate>,
    /// This parser's copies of the built-in headers it has tried (a copy keeps its own capture
    /// slots), taken from the parser's [`HeldBuiltins`] when first needed.
    patterns: Vec<Option<Pattern>>,
}

/// What a parser keeps across lines besides the candidate that fit last.
pub(super) struct Context<'a> {
    pub(super) years: &'a mut YearInference,
    pub(super) exchange: &'a mut ExchangeHeader,
    pub(super) headers: &'a mut HeldBuiltins,
}

/// The outcome of one candidate on one line.
enum Try {
    Record(Record),
    Skip(Skip),
    No,
}

impl AutoDetect {
    fn attempt(&mut self, c: Candidate, line: &str, line_no: u64, ctx: &mut Context<'_>) -> Try {
        let Context { years, exchange, headers } = ctx;
        let first = line.as_bytes()[0];
        let rec = match c {
            Candidate::Json if first == b'{' => json::parse_json(line, years),
            Candidate::Rfc5424 if first == b'<' => rfc5424::parse_rfc5424(line),
            Candidate::Rfc3164 => syslog::parse_rfc3164(line, years),
            Candidate::Exchange if first == b'#' || first.is_ascii_digit() => match exchange.parse(line) {
                Some(ExchangeLine::Row(r)) => Some(r),
                Some(ExchangeLine::Header) => return Try::Skip(Skip::Header),
                None => None,
            },
            Candidate::Access => apache::parse_access(headers.get(), line),
            Candidate::ApacheError if first == b'[' => apache::parse_apache_error(headers.get(), line),
            Candidate::NginxError if first.is_ascii_digit() => apache::parse_nginx_error(headers.get(), line),
            Candidate::Audit if first == b't' => syslog::parse_audit(line),
            Candidate::Tai64n if first == b'@' => syslog::parse_tai64n(line),
            Candidate::Builtin(i) => {
                if self.patterns.is_empty() {
                    self.patterns = vec![None; BUILTINS.len()];
                }
                let builtins = headers.get();
                self.patterns[i].get_or_insert_with(|| builtins.get(i).clone()).parse(line, years)
            }
            Candidate::Sequence if sequences::looks_like_sequence(line) => sequences::parse_sequence(line, line_no).ok(),
            Candidate::Timestamped if first.is_ascii_alphanumeric() || first == b'[' => generic::parse_stamped_line(line, years),
            Candidate::Levelled if first.is_ascii_uppercase() => generic::parse_levelled(headers.get(), line),
            Candidate::Untimed => syslog::parse_untimed(headers.get(), line),
            _ => None,
        };
        match rec {
            Some(r) => Try::Record(r),
            None => Try::No,
        }
    }

    /// Parses a non-empty line.
    pub(super) fn parse(&mut self, line: &str, line_no: u64, ctx: &mut Context<'_>) -> Result<Record, Skip> {
        let last = self.last;
        for c in last.into_iter().chain(order().filter(|c| Some(*c) != last)) {
            match self.attempt(c, line, line_no, ctx) {
                Try::Record(r) => {
                    self.last = Some(c);
                    return Ok(r);
                }
                Try::Skip(s) => return Err(s),
                Try::No => {}
            }
        }
        Ok(Record::new(RecordKind::Plain, super::header::trim_end(line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{Format, LineParser, YearAnchor};

    fn kind_of(lines: &[&str]) -> Vec<(RecordKind, Option<String>)> {
        let mut p = LineParser::new(&Format::Auto, YearAnchor::Given(2024));
        lines.iter().enumerate().map(|(i, l)| p.parse(l, i as u64 + 1).map(|r| (r.kind, r.app)).unwrap()).collect()
    }

    #[test]
    fn one_line_of_each_format() {
        use RecordKind::*;
        let rows = [
            ("Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186", Rfc3164, Some("sshd")),
            ("<34>1 2003-10-11T22:14:15.003Z host su - - - failed", Rfc5424, Some("su")),
            (r#"{"@timestamp":"2024-01-01T00:00:00Z","message":"x"}"#, Ecs, None),
            (r#"127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326"#, AccessLog, None),
            ("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok", ApacheError, None),
            ("2012/04/09 11:53:29 [error] 2865#0: *66647 user", NginxError, Some("nginx")),
            ("081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating", Pattern, Some("dfs.DataNode$PacketResponder")),
            ("2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.X: Created", Pattern, Some("org.apache.hadoop.X")),
            ("- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected", Pattern, Some("KERNEL")),
            ("- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond(pam_unix)[2915]: session closed for user root", Pattern, Some("crond")),
            ("- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 no tag on this line", Pattern, None),
            ("nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO nova.osapi_compute.wsgi.server [req-1 - - -] 10.11.10.1 GET", Pattern, Some("nova.osapi_compute.wsgi.server")),
            ("INFO nova.compute.claims [req-a4] [instance: 1176] Claim successful", Pattern, Some("nova.compute.claims")),
            ("2017-05-16 00:00:00.008 25746 INFO nova.osapi_compute.wsgi.server [req-1 - - -] 10.11.10.1 GET", Pattern, Some("nova.osapi_compute.wsgi.server")),
            ("2013-01-04 17:03:46 login authenticator failed for x [1.2.3.4]: 535", Timestamped, None),
            ("@400000003e3829103573e42c info msg 706430: bytes 2737", Tai64n, None),
            ("type=USER_LOGIN msg=audit(1383116048.000:595): pid=12354", Audit, Some("audit")),
            ("srv sshd[1643]: ROOT LOGIN REFUSED FROM ::ffff:1.2.3.4", Rfc3164, Some("sshd")),
            ("blk_-9041047513394897329,5 5 22 5 11 9", Sequence, None),
            ("FAILED LOGIN (1) on '/dev/tty1' FOR 'czanik', Authentication failure", Plain, None),
            ("1286536309.586    921 10.0.0.1 TCP_MISS/200 3 GET http://x/ - HIER_NONE/- text/html", Timestamped, None),
            ("I0301 10:00:00.123456   12345 server.go:123] Accepted connection", Timestamped, None),
            ("01-Mar-2024 10:00:00.123 INFO [main] org.apache.catalina.startup.Catalina.start Server startup", Timestamped, None),
            ("[2024-03-01 10:00:00] local.ERROR: login failed", Timestamped, None),
            ("12345 requests served", Plain, None),
        ];
        for (line, kind, app) in rows {
            assert_eq!(kind_of(&[line]), vec![(kind, app.map(str::to_owned))], "{line}");
        }
    }

    #[test]
    fn mixed_file_is_read_line_by_line() {
        use RecordKind::*;
        let got = kind_of(&[
            "Dec 10 06:55:46 LabSZ sshd[24200]: a",
            r#"{"message":"b"}"#,
            "Dec 10 06:55:47 LabSZ sshd[24200]: c",
            "081109 203615 148 INFO dfs.X: d",
        ]);
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), [Rfc3164, Json, Rfc3164, Pattern]);
    }

    #[test]
    fn exchange_header_then_rows() {
        let mut p = LineParser::new(&Format::Auto, YearAnchor::Given(2024));
        assert_eq!(p.parse("#Software: Microsoft Exchange Server", 1), Err(Skip::Header));
        assert_eq!(p.parse("#Fields: date-time,event-id,source", 2), Err(Skip::Header));
        let r = p.parse("2024-01-01T00:00:00.000Z,RECEIVE,SMTP", 3).unwrap();
        assert_eq!((r.kind, r.message.as_str()), (RecordKind::Exchange, "RECEIVE SMTP"));
    }

    #[test]
    fn parsers_made_while_the_headers_are_held_share_them_and_parse_alike() {
        let held = builtins();
        assert!(Arc::ptr_eq(&held, &builtins()));
        let hdfs = "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating";
        let mut first = LineParser::new(&Format::Auto, YearAnchor::Given(2024));
        let a = first.parse(hdfs, 1).unwrap();
        // The second parser finds the header compiled by the first and parses the same record.
        let mut second = LineParser::new(&Format::Auto, YearAnchor::Given(2024));
        let b = second.parse(hdfs, 1).unwrap();
        assert_eq!((a.kind, &a.app, &a.message, a.timestamp), (b.kind, &b.app, &b.message, b.timestamp));
        assert_eq!(b.message, "PacketResponder 1 terminating");
        // (Other tests running alongside may have compiled more of the shared set meanwhile.)
        assert!(held.loghub.iter().any(|p| p.get().is_some()));
    }

    #[test]
    fn the_web_and_levelled_headers_are_compiled_into_the_parsers_set_and_freed_with_it() {
        let private = Builtins::private();
        let mut parser = LineParser::auto_with(private.clone(), YearAnchor::Given(2024));
        let access = r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326"#;
        assert_eq!(parser.parse(access, 1).unwrap().kind, RecordKind::AccessLog);
        // Only what the line needed: the access log regex fit before the others were tried.
        assert!(private.access.get().is_some());
        assert!(private.apache_error.get().is_none() && private.nginx_error.get().is_none() && private.levelled.get().is_none());
        let levelled = parser.parse("INFO nova.compute.claims [req-a4] Claim successful on node x", 2).unwrap();
        assert_eq!(
            (levelled.app.as_deref(), levelled.message.as_str()),
            (Some("nova.compute.claims"), "[req-a4] Claim successful on node x")
        );
        assert!(private.levelled.get().is_some());
        drop(parser);
        assert_eq!(Arc::strong_count(&private), 1, "the parser let go of its set, and the regexes go with it");
    }

    #[test]
    fn a_private_set_is_compiled_and_freed_apart_from_the_shared_one() {
        let _held = builtins();
        let private = Builtins::private();
        assert!(!Arc::ptr_eq(&private, &builtins()));
        let hdfs = "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating";
        let mut parser = LineParser::auto_with(private.clone(), YearAnchor::Given(2024));
        let shared = LineParser::new(&Format::Auto, YearAnchor::Given(2024)).parse(hdfs, 1).unwrap();
        let own = parser.parse(hdfs, 1).unwrap();
        assert_eq!((own.kind, &own.app, &own.message, own.timestamp), (shared.kind, &shared.app, &shared.message, shared.timestamp));
        // Only the headers tried on this line were compiled, into the private set.
        let compiled = private.loghub.iter().filter(|p| p.get().is_some()).count();
        assert!((1..BUILTINS.len()).contains(&compiled), "{compiled}");
        drop(parser);
        assert_eq!(Arc::strong_count(&private), 1, "the parser let go of its set");
    }
}
