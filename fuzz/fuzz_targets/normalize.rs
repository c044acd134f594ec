//! Raw text through parse (auto), the rule packs, the generic layer and the template miner, and
//! the ECS writer.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use logsieve::normalize::rules::RuleSet;
use logsieve::normalize::{normalize_text, Normalizer, Origin};
use logsieve::output::ecs::write_ecs;

fuzz_target!(|data: &[u8]| {
    static RULES: OnceLock<Arc<RuleSet>> = OnceLock::new();
    let rules = RULES.get_or_init(|| Arc::new(RuleSet::builtin()));
    let text = String::from_utf8_lossy(data);
    let mut normalizer = Normalizer::new(Arc::clone(rules));
    let mut out = Vec::new();
    for (event, rec) in normalize_text(&text, &mut normalizer) {
        out.clear();
        write_ecs(&mut out, &rec, Some(&event), &Origin { file: "fuzz", line: 1, original: &text });
        assert!(std::str::from_utf8(&out).is_ok());
    }
});
