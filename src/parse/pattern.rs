//! `pattern:<header template>`: any line-oriented header described by a template, e.g.
//! `<Date> <Time> <Pid> <Level> <Component>: <Content>` (loghub's header templates).
//!
//! Grammar: `<Name>` captures a field (`<Content>` the message, to the end of the line); other
//! text is literal; a run of spaces matches one or more spaces; `( ... )?` marks an optional part;
//! other parentheses are literal. Captures are mapped by name: time parts (`Date`,
//! `Day`, `Month`, `Time`, `Year`, `Timestamp`, `DateTime`) to the timestamp, `Level`/`Severity`
//! to the severity, `Component`/`Program`/`App` to the program, `Pid` to the pid,
//! `Node`/`Host`/`Hostname` to the host; any other name is kept as a field.

use std::fmt::Write as _;

use regex::Regex;
use serde_json::Value;

use super::header::{split_tag, trim_end};
use super::time::{parse_any, YearInference};
use crate::record::{Record, RecordKind, Timestamp};

/// A template that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad pattern template {template:?}: {reason} (at byte {at})")]
pub struct PatternError {
    /// The template as given.
    pub template: String,
    /// What is wrong.
    pub reason: String,
    /// Byte offset of the problem in the template.
    pub at: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Time,
    Level,
    App,
    Pid,
    Host,
    Content,
    Field,
}

fn role(name: &str) -> Role {
    match name.to_ascii_lowercase().as_str() {
        "date" | "day" | "month" | "time" | "year" | "timestamp" | "datetime" => Role::Time,
        "level" | "severity" | "loglevel" => Role::Level,
        "component" | "program" | "app" | "application" => Role::App,
        "pid" => Role::Pid,
        "node" | "host" | "hostname" => Role::Host,
        "content" => Role::Content,
        _ => Role::Field,
    }
}

/// Which way of reading the time captures worked on the previous line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeRead {
    /// All time captures joined with spaces.
    Joined,
    /// One capture alone, with a full date.
    Single(usize),
    /// A run of captures with a year-less date (`Month Day Time`).
    Span(usize, usize),
}

/// A compiled header template.
#[derive(Debug, Clone)]
pub struct Pattern {
    template: String,
    regex: Regex,
    /// (capture name, role), in template order; capture i+1 of the regex.
    names: Vec<(String, Role)>,
    /// `<Content>` ends the template: the regex stops before it and the message is the rest of
    /// the line, which spares the regex engine a walk over every message.
    content_is_tail: bool,
    last_time: Option<TimeRead>,
    /// The capture positions of the line at hand, kept from line to line.
    locations: regex::CaptureLocations,
    /// Time captures joined, kept from line to line.
    joined: String,
}

struct Compiler<'a> {
    template: &'a str,
    pos: usize,
    regex: String,
    names: Vec<(String, Role)>,
    types: &'a dyn Fn(&str) -> Option<&'static str>,
}

impl Compiler<'_> {
    fn err(&self, reason: impl Into<String>, at: usize) -> PatternError {
        PatternError { template: self.template.to_owned(), reason: reason.into(), at }
    }

    /// Compiles until end of input or an unmatched `)`, which it leaves unconsumed.
    fn sequence(&mut self, depth: usize) -> Result<(), PatternError> {
        let b = self.template.as_bytes();
        while self.pos < b.len() {
            match b[self.pos] {
                b'<' => {
                    let start = self.pos;
                    let close = self.template[start..].find('>').ok_or_else(|| self.err("'<' without '>'", start))? + start;
                    let name = &self.template[start + 1..close];
                    if name.is_empty()
                        || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
                        || name.as_bytes()[0].is_ascii_digit()
                    {
                        return Err(self.err(format!("field name {name:?} must be letters, digits and '_'"), start));
                    }
                    if self.names.iter().any(|(n, _)| n == name) {
                        return Err(self.err(format!("field <{name}> appears twice"), start));
                    }
                    let role = role(name);
                    let body = match (role, (self.types)(name)) {
                        (_, Some(t)) => t,
                        (Role::Content, None) => ".*",
                        _ => ".*?",
                    };
                    let _ = write!(self.regex, "({body})");
                    self.names.push((name.to_owned(), role));
                    self.pos = close + 1;
                }
                b'(' => {
                    let start = self.pos;
                    self.pos += 1;
                    let before = self.regex.len();
                    self.regex.push_str("(?:");
                    self.sequence(depth + 1)?;
                    if b.get(self.pos) != Some(&b')') {
                        return Err(self.err("'(' without ')'", start));
                    }
                    self.pos += 1;
                    if b.get(self.pos) == Some(&b'?') {
                        self.pos += 1;
                        self.regex.push_str(")?");
                    } else {
                        // Literal parentheses around the inner part.
                        self.regex.replace_range(before..before + 3, r"\(");
                        self.regex.push_str(r"\)");
                    }
                }
                b')' if depth > 0 => return Ok(()),
                b' ' => {
                    while b.get(self.pos) == Some(&b' ') {
                        self.pos += 1;
                    }
                    self.regex.push_str(" +");
                }
                _ => {
                    let c = self.template[self.pos..].chars().next().unwrap_or(' ');
                    self.regex.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
                    self.pos += c.len_utf8();
                }
            }
        }
        Ok(())
    }
}

impl Pattern {
    /// Compiles a user template; every capture but `<Content>` matches lazily.
    pub fn compile(template: &str) -> Result<Self, PatternError> {
        Self::compile_typed(template, &|_| None)
    }

    /// Compiles a template whose captures may have their own regexes (`types(name)`), which is
    /// how auto-detection keeps the built-in loghub headers from matching unrelated lines.
    pub fn compile_typed(template: &str, types: &dyn Fn(&str) -> Option<&'static str>) -> Result<Self, PatternError> {
        let mut c = Compiler { template, pos: 0, regex: String::from("^"), names: Vec::new(), types };
        c.sequence(0)?;
        if !c.names.iter().any(|(_, r)| *r == Role::Content) {
            return Err(c.err("the template has no <Content> field for the message", template.len()));
        }
        let content_is_tail = c.names.last().is_some_and(|(_, r)| *r == Role::Content) && c.regex.ends_with("(.*)");
        if content_is_tail {
            c.regex.truncate(c.regex.len() - "(.*)".len());
            c.names.pop();
        } else {
            c.regex.push('$');
        }
        let regex = Regex::new(&c.regex).map_err(|e| c.err(e.to_string(), 0))?;
        let locations = regex.capture_locations();
        Ok(Pattern {
            template: template.to_owned(),
            regex,
            names: c.names,
            content_is_tail,
            last_time: None,
            locations,
            joined: String::new(),
        })
    }

    /// The template as given.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// Parses a line. `None`: the line does not match the template.
    pub fn parse(&mut self, line: &str, years: &mut YearInference) -> Option<Record> {
        let caps = &mut self.locations;
        let whole = self.regex.captures_read(caps, line)?;
        let mut rec = Record::new(RecordKind::Pattern, String::new());
        if self.content_is_tail {
            rec.message = trim_end(&line[whole.end()..]).to_owned();
        }
        let mut times: Vec<&str> = Vec::new();
        for (i, (name, role)) in self.names.iter().enumerate() {
            let Some((start, end)) = caps.get(i + 1) else { continue };
            let v = &line[start..end];
            match role {
                Role::Time => times.push(v),
                Role::Content => rec.message = trim_end(v).to_owned(),
                Role::Level => match v.parse() {
                    Ok(s) => rec.severity = Some(s),
                    Err(_) => rec.push_field(name.as_str(), v),
                },
                Role::App => rec.app = Some(v.to_owned()),
                Role::Pid => match v.parse() {
                    Ok(p) => rec.pid = Some(p),
                    Err(_) => rec.push_field(name.as_str(), v),
                },
                Role::Host => rec.host = Some(v.to_owned()),
                Role::Field => rec.fields.push((name.clone(), Value::from(v))),
            }
        }
        // `crond(pam_unix)[2915]` captured as one component: split it like a syslog tag.
        if let Some(app) = rec.app.take_if(|app| app.contains(['(', '['])) {
            match split_tag(&format!("{app}:"), false) {
                Some(t) => {
                    rec.component = t.component.map(str::to_owned);
                    rec.pid = rec.pid.or(t.pid);
                    rec.app = Some(t.app.to_owned());
                }
                None => rec.app = Some(app),
            }
        }
        rec.timestamp = self.timestamp(&times, years);
        Some(rec)
    }

    fn read_time(parts: &[&str], how: TimeRead, years: &mut YearInference, joined: &mut String) -> Option<Timestamp> {
        let mut join = |parts: &[&str]| {
            joined.clear();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    joined.push(' ');
                }
                joined.push_str(p);
            }
        };
        match how {
            TimeRead::Joined => {
                join(parts);
                parse_any(joined, Some(years))
            }
            TimeRead::Single(i) => parse_any(parts.get(i)?, None),
            TimeRead::Span(s, n) => {
                join(parts.get(s..s + n)?);
                parse_any(joined, Some(years))
            }
        }
    }

    /// Reads the time captures: all joined, else one capture that holds a full date (latest in the
    /// template first: BGL's `Time` beats its epoch `Timestamp`), else a year-less run.
    fn timestamp(&mut self, parts: &[&str], years: &mut YearInference) -> Option<Timestamp> {
        if parts.is_empty() {
            return None;
        }
        if let Some(how) = self.last_time {
            if let Some(t) = Self::read_time(parts, how, years, &mut self.joined) {
                return Some(t);
            }
        }
        let mut tries = vec![TimeRead::Joined];
        tries.extend((0..parts.len()).rev().map(TimeRead::Single));
        for n in (2..parts.len()).rev() {
            tries.extend((0..=parts.len() - n).map(|s| TimeRead::Span(s, n)));
        }
        for how in tries {
            if Some(how) == self.last_time {
                continue;
            }
            if let Some(t) = Self::read_time(parts, how, years, &mut self.joined) {
                self.last_time = Some(how);
                return Some(t);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::time::YearAnchor;
    use crate::record::Severity;

    fn years() -> YearInference {
        YearInference::new(YearAnchor::Given(2005))
    }

    /// The loghub header templates (../shared/datasets/README.md) on a line of each system.
    #[test]
    fn loghub_templates() {
        let rows = [
            ("<Date> <Time> <Pid> <Level> <Component>: <Content>", "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating", "2008-11-09T20:36:15", Some("dfs.DataNode$PacketResponder"), Some(148), "PacketResponder 1 for block blk_38865049064139660 terminating"),
            ("<Date> <Time> <Level> [<Process>] <Component>: <Content>", "2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster", "2015-10-18T18:01:47.978", Some("org.apache.hadoop.mapreduce.v2.app.MRAppMaster"), None, "Created MRAppMaster"),
            ("<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>", "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected", "2005-06-03T15:42:50.675872", Some("KERNEL"), None, "instruction cache parity error corrected"),
            ("<Label> <Timestamp> <Date> <User> <Month> <Day> <Time> <Location> <Component>([<PID>])?: <Content>", "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond(pam_unix)[2915]: session closed for user root", "2005-11-09T20:01:01Z", Some("crond"), Some(2915), "session closed for user root"),
            ("<Month> <Date> <Time> <Level> <Component>([<PID>])?: <Content>", "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 ", "2005-06-14T15:16:01", Some("sshd"), Some(19939), "authentication failure; logname= uid=0"),
            ("<Month> <Date> <Time> <Level> <Component>([<PID>])?: <Content>", "Jun 14 15:16:02 combo kernel: klogd 1.4.1", "2005-06-14T15:16:02", Some("kernel"), None, "klogd 1.4.1"),
            ("[<Time>] [<Level>] <Content>", "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok", "2005-12-04T04:47:44", None, None, "workerEnv.init() ok"),
            ("<Date> <Day> <Time> <Component> sshd[<Pid>]: <Content>", "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186", "2005-12-10T06:55:46", Some("LabSZ"), Some(24200), "Invalid user webmaster from 173.234.31.186"),
            ("<Logrecord> <Date> <Time> <Pid> <Level> <Component> [<ADDR>] <Content>", "nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO nova.osapi_compute.wsgi.server [req-38 113d - - -] 10.11.10.1 \"GET /v2\" status: 200", "2017-05-16T00:00:00.008", Some("nova.osapi_compute.wsgi.server"), Some(25746), "10.11.10.1 \"GET /v2\" status: 200"),
        ];
        for (template, line, ts, app, pid, msg) in rows {
            let mut p = Pattern::compile(template).unwrap();
            let r = p.parse(line, &mut years()).unwrap_or_else(|| panic!("{template} did not match {line}"));
            assert_eq!(r.timestamp.map(|t| t.to_string()).as_deref(), Some(ts), "{line}");
            assert_eq!((r.app.as_deref(), r.pid, r.message.as_str()), (app, pid, msg), "{line}");
        }
    }

    #[test]
    fn fields_and_levels() {
        let mut p = Pattern::compile("<Date> <Time> <Level> [<Process>] <Component>: <Content>").unwrap();
        let r = p.parse("2015-10-18 18:01:47,978 WARN [IPC Server handler 5] org.X: y", &mut years()).unwrap();
        assert_eq!((r.severity, r.field("Process")), (Some(Severity::Warning), Some(&Value::from("IPC Server handler 5"))));
        assert!(p.parse("not this format", &mut years()).is_none());
        assert!(p.parse("", &mut years()).is_none());
        // An unparseable time keeps the record, without a timestamp.
        let mut p = Pattern::compile("<Time> <Content>").unwrap();
        let r = p.parse("later something happened", &mut years()).unwrap();
        assert_eq!((r.timestamp, r.message.as_str(), r.field("Time")), (None, "something happened", None));
    }

    #[test]
    fn grammar() {
        let mut p = Pattern::compile("x(<A>) <Content>").unwrap();
        let r = p.parse("x(1)   hello", &mut years()).unwrap();
        assert_eq!((r.field("A"), r.message.as_str()), (Some(&Value::from("1")), "hello"));
        assert!(p.parse("x1 hello", &mut years()).is_none());
        // A ')' with no '(' is literal text.
        let mut p = Pattern::compile("<A>) <Content>").unwrap();
        assert_eq!(p.parse("12) hi", &mut years()).unwrap().field("A"), Some(&Value::from("12")));
        let mut p = Pattern::compile("a.b*<Content>").unwrap();
        assert!(p.parse("a.b*z", &mut years()).is_some());
        assert!(p.parse("axb*z", &mut years()).is_none());
        for (bad, why) in [
            ("<Date> <Time>", "no <Content>"),
            ("<Date <Content>", "must be letters"),
            ("<Date> <Date> <Content>", "twice"),
            ("(<A> <Content>", "without ')'"),
            ("<> <Content>", "must be letters"),
            ("<Content", "without '>'"),
        ] {
            let e = Pattern::compile(bad).unwrap_err();
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
    }
}
