//! Model file bytes through the decoder: refused with a reason, or a model that hangs together.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logsieve::model::file::decode;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = decode(data, "fuzz.model") {
        // A model that decodes is usable: scoring a short session must not panic.
        let matrix = model.vectors.neighbour_matrix();
        let scorer = logsieve::model::Scorer::new(&model, &matrix);
        let names = logsieve::session::States::from_names(&model.states);
        let _ = scorer.score(&[0, 1, 0], &[("user".into(), "x".into())], &names);
    }
});
