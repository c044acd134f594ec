//! The pre-parsed sequences reader (`id,e1 e2 e3` lines).
#![no_main]

use libfuzzer_sys::fuzz_target;
use logsieve::parse::{Format, LineParser, YearAnchor};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parser = LineParser::new(&Format::Sequences, YearAnchor::Given(2024));
    for (i, line) in text.split('\n').enumerate() {
        if let Ok(rec) = parser.parse(line, i as u64 + 1) {
            // A parsed line is a session with an id and at least one state, none of them blank.
            let seq = rec.sequence.as_ref().expect("a sequences record holds its sequence");
            assert!(!seq.id.is_empty() && !seq.events.is_empty(), "{line:?}");
            assert!(seq.events.iter().all(|e| !e.trim().is_empty() && !e.contains(|c: char| c == ',' || c.is_whitespace())), "{line:?}");
        }
    }
});
