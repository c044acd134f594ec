//! Model and shard payloads behind a valid header (so past the checksum, which `model_file`
//! rarely gets through): the first byte picks a model or a shard. Refused with a reason, or a
//! model that scores and a shard that merges.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logsieve::model::file::{decode, decode_shard, frame_raw};
use logsieve::model::shard::Shard;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, payload)) = data.split_first() else { return };
    if pick & 1 == 0 {
        if let Ok(model) = decode(&frame_raw(false, payload), "fuzz.model") {
            let matrix = model.vectors.neighbour_matrix();
            let scorer = logsieve::model::Scorer::new(&model, &matrix);
            let names = logsieve::session::States::from_names(&model.states);
            let _ = scorer.score(&[0, 1, 0], &[("user".into(), "x".into())], &names);
            if let Some(miner) = &model.miner {
                let _ = miner.peek("Failed password for root from 1.2.3.4 port 22");
            }
        }
    } else if let Ok(shard) = decode_shard(&frame_raw(true, payload), "fuzz.shard") {
        let _ = Shard::merge(&[shard.clone(), shard], &["a".into(), "b".into()]);
    }
});
