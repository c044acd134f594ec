//! Model and shard file bytes through the decoders: refused with a reason, or a model that hangs
//! together (it scores) and a shard that merges.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logsieve::model::file::{decode, decode_shard};
use logsieve::model::shard::Shard;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = decode(data, "fuzz.model") {
        // A model that decodes is usable: scoring a short session must not panic.
        let matrix = model.vectors.neighbour_matrix();
        let scorer = logsieve::model::Scorer::new(&model, &matrix);
        let names = logsieve::session::States::from_names(&model.states);
        let _ = scorer.score(&[0, 1, 0], &[("user".into(), "x".into())], &names);
    }
    if let Ok(shard) = decode_shard(data, "fuzz.shard") {
        let _ = Shard::merge(&[shard.clone(), shard], &["a".into(), "b".into()]);
    }
});
