//! One line through every header parser, and the multi-line joiner.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use logsieve::parse::multiline::Joiner;
use logsieve::parse::{Format, LineParser, YearAnchor};

fuzz_target!(|data: &[u8]| {
    static FORMATS: OnceLock<Vec<Format>> = OnceLock::new();
    let formats = FORMATS.get_or_init(|| {
        ["auto", "syslog", "json", "apache", "exchange", "pattern:<Date> <Time> <Level> <Component>: <Content>"]
            .iter()
            .map(|f| f.parse().expect("known format"))
            .collect()
    });
    let text = String::from_utf8_lossy(data);
    for format in formats {
        let mut parser = LineParser::new(format, YearAnchor::Given(2024));
        let mut joiner = Joiner::new(matches!(format, Format::Auto));
        for (i, line) in text.split('\n').enumerate() {
            if let Ok(rec) = parser.parse(line, i as u64 + 1) {
                let _ = joiner.push(rec, line, i as u64 + 1);
            }
        }
        let _ = joiner.finish();
    }
});
