//! MS Exchange message tracking logs: CSV rows described by a `#Fields:` header line.
//!
//! Rows seen before any `#Fields:` header (a single row pasted from a log, or a file whose header
//! was cut off) are read with the Exchange 2013–2019 column order, when their column count matches.

use serde_json::Value;

use super::time::scan_iso;
use crate::record::{Record, RecordKind};

/// Columns of Exchange 2013, 2016 and 2019 message tracking logs, in order.
pub const DEFAULT_FIELDS: [&str; 30] = [
    "date-time",
    "client-ip",
    "client-hostname",
    "server-ip",
    "server-hostname",
    "source-context",
    "connector-id",
    "source",
    "event-id",
    "internal-message-id",
    "message-id",
    "network-message-id",
    "recipient-address",
    "recipient-status",
    "total-bytes",
    "recipient-count",
    "related-recipient-address",
    "reference",
    "message-subject",
    "sender-address",
    "return-path",
    "message-info",
    "directionality",
    "tenant-id",
    "original-client-ip",
    "original-server-ip",
    "custom-data",
    "transport-traffic-type",
    "log-id",
    "schema-version",
];

/// The column header of one Exchange log file.
#[derive(Debug, Clone, Default)]
pub struct ExchangeHeader {
    fields: Option<Vec<String>>,
}

/// What one line of an Exchange log is.
#[derive(Debug)]
pub enum ExchangeLine {
    /// A `#...` header line (the `#Fields:` one sets the columns).
    Header,
    /// A data row.
    Row(Record),
}

fn split_csv(line: &str) -> Option<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(line.as_bytes());
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) => Some(record.iter().map(str::to_owned).collect()),
        _ => None,
    }
}

/// ECS name for an Exchange column, where one fits.
fn ecs_name(column: &str) -> Option<&'static str> {
    Some(match column {
        "client-ip" => "source.ip",
        "client-hostname" => "source.domain",
        "server-ip" => "host.ip",
        "sender-address" => "email.from.address",
        "message-subject" => "email.subject",
        "message-id" => "email.message_id",
        "directionality" => "email.direction",
        _ => return None,
    })
}

/// Whether the line looks like an Exchange row without a header: an ISO stamp, then a comma.
pub fn looks_like_row(line: &str) -> bool {
    matches!(scan_iso(line.as_bytes()), Some((_, n)) if line.as_bytes().get(n) == Some(&b','))
}

impl ExchangeHeader {
    /// Whether a `#Fields:` header has been seen.
    pub fn has_fields(&self) -> bool {
        self.fields.is_some()
    }

    /// Parses one line. `None`: not an Exchange line.
    pub fn parse(&mut self, line: &str) -> Option<ExchangeLine> {
        if let Some(h) = line.strip_prefix('#') {
            if let Some(fields) = h.strip_prefix("Fields:") {
                self.fields = Some(fields.split(',').map(|f| f.trim().to_owned()).collect());
                return Some(ExchangeLine::Header);
            }
            let known = ["Software:", "Version:", "Log-type:", "Date:"].iter().any(|p| h.starts_with(p));
            return known.then_some(ExchangeLine::Header);
        }
        if !looks_like_row(line) {
            return None;
        }
        let values = split_csv(line)?;
        let names: Vec<&str> = match &self.fields {
            Some(f) => f.iter().map(String::as_str).collect(),
            None if values.len() == DEFAULT_FIELDS.len() => DEFAULT_FIELDS.to_vec(),
            None => return None,
        };
        let mut rec = Record::new(RecordKind::Exchange, String::new());
        rec.app = Some("MSExchangeTransport".into());
        let (mut event, mut source) = ("", "");
        for (name, value) in names.iter().zip(&values) {
            if value.is_empty() {
                continue;
            }
            match *name {
                "date-time" => rec.timestamp = scan_iso(value.as_bytes()).map(|(t, _)| t),
                "server-hostname" => rec.host = Some(value.clone()),
                "event-id" => event = value,
                "source" => source = value,
                "recipient-address" => {
                    let to: Vec<Value> = value.split(';').filter(|a| !a.is_empty()).map(Value::from).collect();
                    rec.fields.push(("email.to.address".into(), Value::Array(to)));
                }
                _ => {}
            }
            let key = ecs_name(name).map(str::to_owned).unwrap_or_else(|| format!("exchange.{name}"));
            rec.fields.push((key, Value::from(value.as_str())));
        }
        // Exchange rows have no free text; the event and its source stand for the message.
        rec.message = format!("{event} {source}").trim().to_owned();
        Some(ExchangeLine::Row(rec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: &str = r#"2024-01-07T00:00:07.463Z,192.168.0.1,exchange,192.168.0.2,exchange.example.com,;250 2.0.0OK,Intra-Organization SMTP Send Connector,SMTP,SEND,123,<a@b>,uuid,uwe@example.com;bob@example.com,250 2.1.5,1234,2,,,"Hi, there",support@example.com,support@example.com,,Originating,,,,,,,"#;

    #[test]
    fn row_without_header_uses_default_columns() {
        let mut h = ExchangeHeader::default();
        let Some(ExchangeLine::Row(r)) = h.parse(ROW) else { panic!("not a row") };
        assert_eq!(r.timestamp.unwrap().to_string(), "2024-01-07T00:00:07.463Z");
        assert_eq!((r.host.as_deref(), r.message.as_str()), (Some("exchange.example.com"), "SEND SMTP"));
        assert_eq!(r.field("email.to.address"), Some(&Value::from(vec!["uwe@example.com", "bob@example.com"])));
        assert_eq!(r.field("email.from.address"), Some(&Value::from("support@example.com")));
        assert_eq!(r.field("email.subject"), Some(&Value::from("Hi, there")));
        assert_eq!(r.field("source.ip"), Some(&Value::from("192.168.0.1")));
    }

    #[test]
    fn header_sets_columns() {
        let mut h = ExchangeHeader::default();
        assert!(matches!(h.parse("#Software: Microsoft Exchange Server"), Some(ExchangeLine::Header)));
        assert!(matches!(h.parse("#Fields: date-time,event-id,recipient-address,sender-address"), Some(ExchangeLine::Header)));
        let Some(ExchangeLine::Row(r)) = h.parse("2025-01-14T09:29:05.327Z,REDIRECT,bob@example.com,alice@example.com") else { panic!() };
        assert_eq!(r.message, "REDIRECT");
        assert_eq!(r.field("email.from.address"), Some(&Value::from("alice@example.com")));
        for line in ["", "#Comment", "2025-01-14T09:29:05Z only", "not,a,row"] {
            assert!(h.parse(line).is_none(), "{line:?}");
        }
        // Without a header, a row of the wrong width is not guessed at.
        assert!(ExchangeHeader::default().parse("2025-01-14T09:29:05.327Z,REDIRECT,x").is_none());
    }
}
