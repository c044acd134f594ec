//! Session context: what an event takes from the events before it. A message no rule keyed
//! joins its process's entity, an access-log request its web client's visit, and an event that
//! names no source address takes the one its entity named before.

use super::{Event, Normalizer};
use crate::normalize::rules::Role;
use crate::record::Record;

/// A web client's visit ends after this long without a request (the usual web-analytics
/// session), so that a client coming back hours later is another session.
pub const WEB_IDLE_SECS: i64 = 1800;

/// The shape of a requested path: its first segment when it is a plain name (no digits), and for
/// deeper paths `/*` with the last segment's extension (`/wp-admin/*.php`, `/images/*.png`,
/// `/api/*`); the query is dropped.
pub fn path_shape(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let path = match path.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => path,
    };
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let plain = |s: &str| s.len() <= 40 && s.chars().all(|c| c.is_ascii_alphabetic() || "-_.~".contains(c));
    let Some(first) = segs.first() else { return "/".to_owned() };
    let first = if plain(first) { *first } else { "*" };
    if segs.len() == 1 {
        return format!("/{first}");
    }
    let last = segs[segs.len() - 1];
    let ext = last.rsplit_once('.').map(|(_, e)| e).filter(|e| (1..=5).contains(&e.len()) && e.chars().all(|c| c.is_ascii_alphanumeric()));
    match ext {
        Some(e) => format!("/{first}/*.{}", e.to_ascii_lowercase()),
        None => format!("/{first}/*"),
    }
}

/// The field that marks fields an event took from its session (`logsieve.inherited`).
pub const INHERITED: &str = "logsieve.inherited";

/// At most this many processes are remembered with their entity (then the memory starts over).
pub(super) const PROCESSES: usize = 100_000;

impl Normalizer {
    /// An access-log request no rule keyed belongs to its web client's visit (client address
    /// and user agent, until [`WEB_IDLE_SECS`] without a request), and its state is what was
    /// asked and how it went: method, path shape and status class (`GET:/wp-admin/*.php:4xx`).
    pub(super) fn web_client(&mut self, event: &mut Event, rec: &Record) {
        if event.session_key.is_some() || event.action.is_some() {
            return;
        }
        let text = |f: &str| rec.field(f).map(crate::record::value_text).filter(|v| !v.is_empty() && v != "-");
        if rec.field("http.request.method").is_none() {
            return;
        }
        let source = text("source.ip").or_else(|| text("source.domain")).or_else(|| text("source.address"));
        let (Some(ip), Some(method), Some(url), Some(status)) =
            (source, text("http.request.method"), text("url.original"), text("http.response.status_code"))
        else {
            return;
        };
        let agent = text("user_agent.original").unwrap_or_default();
        let agent: String = agent.chars().take(40).collect();
        let client = format!("{ip} {agent}");
        let now = rec.timestamp.as_ref().map(crate::session::millis);
        if self.visits.len() >= PROCESSES && !self.visits.contains_key(&client) {
            self.visits.clear();
        }
        let visit = self.visits.entry(client.clone()).or_insert((now.unwrap_or(0), 0));
        if let Some(now) = now {
            if now - visit.0 > WEB_IDLE_SECS * 1000 {
                visit.1 += 1;
            }
            visit.0 = now;
        }
        event.session_key = Some(if visit.1 == 0 { client } else { format!("{client} #{}", visit.1 + 1) });
        let method = if method.len() <= 10 && method.bytes().all(|b| b.is_ascii_uppercase()) { method } else { "*".to_owned() };
        let class = status.parse::<u32>().map_or("*".to_owned(), |c| format!("{}xx", c / 100));
        event.state = format!("{method}:{}:{class}", path_shape(&url));
    }

    pub(super) fn inherit_source(&mut self, event: &mut Event, rec: &Record) {
        let Some(key) = &event.session_key else { return };
        match event.values("source_ip", rec).into_iter().next() {
            Some(ip) => {
                if self.source_of.get(key) != Some(&ip) {
                    if self.source_of.len() >= PROCESSES {
                        self.source_of.clear();
                    }
                    self.source_of.insert(key.clone(), ip);
                }
            }
            None => {
                if let Some(ip) = self.source_of.get(key) {
                    event.fields.push(("source_ip".into(), ip.clone()));
                    event.fields.push((INHERITED.into(), "source.ip".into()));
                }
            }
        }
        if event.role == Some(Role::End) {
            self.source_of.remove(key);
        }
    }

    /// The entity of an event no rule keyed: its process's (see [`Normalizer::name`]).
    pub(super) fn key_by_process(&mut self, event: &mut Event, rec: &Record) {
        let Some(pid) = rec.pid else { return };
        // `app@host:pid`, put together by hand: `format!` cost more than the lookup.
        let (app, host) = (rec.app.as_deref().unwrap_or("-"), rec.host.as_deref().unwrap_or("-"));
        let mut digits = itoa::Buffer::new();
        let pid = digits.format(pid);
        let mut process = String::with_capacity(app.len() + host.len() + pid.len() + 2);
        for part in [app, "@", host, ":", pid] {
            process.push_str(part);
        }
        match &event.session_key {
            Some(k) => {
                if self.entity_of.get(&process) != Some(k) {
                    if self.entity_of.len() >= PROCESSES {
                        self.entity_of.clear();
                    }
                    self.entity_of.insert(process, k.clone());
                }
            }
            None => event.session_key = Some(self.entity_of.get(&process).cloned().unwrap_or(process)),
        }
    }
}
