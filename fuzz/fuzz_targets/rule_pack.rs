//! A user rule pack (TOML) through the loader: refused with a message, or loaded and its
//! examples checked.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use logsieve::normalize::example_problem;
use logsieve::normalize::rules::RuleSet;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(set) = RuleSet::with_pack("fuzz.toml", text) {
        let set = Arc::new(set);
        // The user's rules come first: check their examples as `rules test` does.
        for rule in set.rules().iter().take(8) {
            for ex in &rule.examples {
                let _ = example_problem(rule, ex, &set);
            }
        }
    }
});
