//! Verdicts remembered by what they depend on, so that a session like one scored before is not
//! scored again.
//!
//! [`Scorer::score`] is a function of the session's state ids, its parameter values, and, of the
//! state table, the names of those ids (fixed once interned) and which of them are marked as
//! errors (a mark can come later). The key holds exactly the ids, their error marks and the
//! values, so a remembered verdict is the one scoring would give. Most logs repeat sessions
//! (a cron job's `session.start session.end` for `root`), and `score` of the Linux throughput
//! input spent more than a quarter of its sink thread scoring them.

use super::{Scorer, Verdict};
use crate::fasthash::HashMap;
use crate::session::States;

/// Verdicts by session content; bounded.
#[derive(Debug, Default)]
pub struct VerdictMemo {
    known: HashMap<Box<[u8]>, Verdict>,
    /// The key of the session at hand, kept from session to session.
    key: Vec<u8>,
}

impl VerdictMemo {
    /// Verdicts kept before the memo starts again empty.
    pub const MAX_ENTRIES: usize = 4096;
    /// Longest session (states) remembered; longer ones rarely repeat.
    pub const MAX_STATES: usize = 64;

    /// [`Scorer::score`], remembered.
    pub fn score(&mut self, scorer: &Scorer<'_>, states: &[u32], params: &[(String, String)], names: &States) -> Verdict {
        if states.len() > Self::MAX_STATES {
            return scorer.score(states, params, names);
        }
        self.key.clear();
        self.key.extend_from_slice(&(states.len() as u64).to_le_bytes());
        for &s in states {
            self.key.extend_from_slice(&s.to_le_bytes());
            self.key.push(u8::from(names.is_error(s)));
        }
        for (field, value) in params {
            for part in [field, value] {
                self.key.extend_from_slice(&(part.len() as u64).to_le_bytes());
                self.key.extend_from_slice(part.as_bytes());
            }
        }
        if let Some(v) = self.known.get(self.key.as_slice()) {
            return v.clone();
        }
        let v = scorer.score(states, params, names);
        if self.known.len() >= Self::MAX_ENTRIES {
            self.known.clear();
        }
        self.known.insert(self.key.as_slice().into(), v.clone());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::components::Featured;
    use crate::model::{Model, TrainOptions};

    #[test]
    fn remembered_verdicts_are_the_scorers_own() {
        let train: Vec<Featured> = (0..40u32)
            .map(|i| Featured { key: String::new(), states: vec![0, 1 + i % 3, 4], params: vec![("user".into(), format!("u{}", i % 2))] })
            .collect();
        let mut names = States::from_names(&["a", "b", "c", "d", "e", "f"].map(String::from));
        let model = Model::train(&crate::model::shard::each_once(train), &names, TrainOptions::default().check().unwrap()).unwrap();
        let matrix = model.vectors.neighbour_matrix();
        let scorer = Scorer::new(&model, &matrix);
        let user = |u: &str| vec![("user".to_owned(), u.to_owned())];
        let sessions = [
            (vec![0, 1, 4], user("u0")),
            (vec![0, 1, 4], user("u9")),
            (vec![0, 5, 4], user("u0")),
            (vec![0, 3, 4], vec![]),
            (vec![4, 0], user("u1")),
            ((0..100).map(|i| i % 5).collect(), user("u0")),
        ];
        let mut memo = VerdictMemo::default();
        let mut with_f = Vec::new();
        // Twice over, then again once state `f` is marked an error: the mark changes the verdict.
        for round in 0..3 {
            if round == 2 {
                names.mark_error(5);
            }
            for (states, params) in &sessions {
                let v = memo.score(&scorer, states, params, &names);
                assert_eq!(v, scorer.score(states, params, &names), "{states:?} {params:?} in round {round}");
                if states.contains(&5) {
                    with_f.push(v);
                }
            }
        }
        assert_eq!(with_f[0], with_f[1]);
        assert_ne!(with_f[1], with_f[2], "the error mark changes the verdict, and the memo follows");
    }
}
