//! Mergeable training: `train --shard` keeps what one partition of the data teaches, and `merge`
//! joins shards into a model that gives the same verdicts as one trained in one process.
//!
//! A shard holds the *distinct* sessions of its partition with how often each occurred (state
//! names, parameter values, count) and the template miner. That multiset is the sufficient
//! statistic of every component, including the cross-fitted calibration, which needs held-out
//! sessions rather than sums: n-gram, pair and value counts, tf-idf weights, the PCA's co-moments
//! and the neighbour set are all functions of it. Sessions repeat a lot (HDFS blocks, sshd logins),
//! so a shard is much smaller than its events.
//!
//! Order independence comes from one canonical form, used by single-process training too
//! ([`canonical`]): state ids are given in name order and sessions are sorted, so a model depends
//! on the multiset of sessions and not on the order they closed in, nor on how they were split.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::components::Featured;
use super::{ModelInfo, TrainOptions};
use crate::activity::Tally;
use crate::normalize::miner::Miner;
use crate::session::States;

/// A distinct session and how often it occurred.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counted {
    /// The smallest key among the identical sessions (how set-aside sessions are listed).
    pub key: String,
    /// State ids (into [`Shard::states`]) in order.
    pub states: Vec<u32>,
    /// Distinct (field, value) pairs.
    pub params: Vec<(String, String)>,
    /// Occurrences.
    pub count: u64,
}

/// What one partition teaches (`train --shard`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Shard {
    /// How it was made (sessions and events are this partition's).
    pub info: ModelInfo,
    /// Training options: every shard of one model must have the same.
    pub options: TrainOptions,
    /// State names by id, sorted.
    pub states: Vec<String>,
    /// The names of the error states (sorted).
    pub errors: Vec<String>,
    /// Message templates of states the input names by id (`--templates`).
    pub templates: std::collections::BTreeMap<String, String>,
    /// Distinct sessions in canonical order.
    pub sessions: Vec<Counted>,
    /// The template miner the partition's events were named by.
    pub miner: Option<Miner>,
    /// What the partition saw of the entities (sources, users).
    pub tally: Tally,
}

/// Sessions and their state table in canonical form: state ids in name order, sessions sorted by
/// state sequence, then parameters, equal sessions joined into one with their counts added up (and
/// the smallest key). Training on it gives the same model whatever order the sessions came in.
pub fn canonical(mut sessions: Vec<(Featured, u64)>, table: &States) -> (Vec<(Featured, u64)>, States) {
    let names = table.names();
    let mut order: Vec<u32> = (0..names.len() as u32).collect();
    order.sort_unstable_by(|a, b| names[*a as usize].cmp(&names[*b as usize]));
    let mut new_id = vec![0u32; names.len()];
    for (new, old) in order.iter().enumerate() {
        new_id[*old as usize] = new as u32;
    }
    let sorted: Vec<String> = order.iter().map(|i| names[*i as usize].clone()).collect();
    for (s, _) in &mut sessions {
        for id in &mut s.states {
            *id = new_id.get(*id as usize).copied().unwrap_or(*id);
        }
    }
    (joined(sessions), States::with_errors(&sorted, &table.error_names()))
}

/// Sorted by content, equal sessions joined: one with the smallest key and the counts added up.
fn joined(mut sessions: Vec<(Featured, u64)>) -> Vec<(Featured, u64)> {
    sessions.sort_unstable_by(|a, b| by_content(&a.0, &b.0));
    let mut out: Vec<(Featured, u64)> = Vec::with_capacity(sessions.len());
    for (s, c) in sessions {
        match out.last_mut() {
            // Sorted: the first of a run has the smallest key.
            Some(last) if last.0.states == s.states && last.0.params == s.params => last.1 += c,
            _ => out.push((s, c)),
        }
    }
    out.retain(|s| s.1 > 0);
    out
}

/// Each session counted once (equal ones are joined by [`canonical`]).
pub fn each_once(sessions: Vec<Featured>) -> Vec<(Featured, u64)> {
    sessions.into_iter().map(|s| (s, 1)).collect()
}

fn by_content(a: &Featured, b: &Featured) -> Ordering {
    a.states.cmp(&b.states).then_with(|| a.params.cmp(&b.params)).then_with(|| a.key.cmp(&b.key))
}

/// [`canonical`] sessions as a shard keeps them.
fn counted(sessions: Vec<(Featured, u64)>) -> Vec<Counted> {
    sessions.into_iter().map(|(s, count)| Counted { key: s.key, states: s.states, params: s.params, count }).collect()
}

/// What merging shards gives: the input of [`super::Model::train`].
#[derive(Debug)]
pub struct Merged {
    /// The distinct sessions with their counts, canonical order.
    pub sessions: Vec<(Featured, u64)>,
    /// The state table, error states marked.
    pub states: States,
    /// The shards' options.
    pub options: TrainOptions,
    /// The united template miner.
    pub miner: Option<Miner>,
    /// The rule packs' checksum, as every shard has it.
    pub rules: String,
    /// The shards' inputs, sorted.
    pub inputs: Vec<String>,
    /// The templates of states named by id.
    pub templates: std::collections::BTreeMap<String, String>,
    /// The shards' entity tallies, added up.
    pub tally: Tally,
}

impl Shard {
    /// A shard from a partition's sessions (with how often each occurred), with the state table
    /// they index (error states marked) and the templates of states named by id.
    pub fn new(
        sessions: Vec<(Featured, u64)>,
        states: &States,
        options: TrainOptions,
        miner: Option<Miner>,
        templates: std::collections::BTreeMap<String, String>,
        info: ModelInfo,
        tally: Tally,
    ) -> Self {
        let errors = states.error_names();
        let (sessions, states) = canonical(sessions, states);
        let info = ModelInfo {
            sessions: sessions.iter().map(|s| s.1).sum(),
            events: sessions.iter().map(|(s, c)| s.states.len() as u64 * c).sum(),
            ..info
        };
        Shard { info, options, states: states.names().to_vec(), errors, templates, sessions: counted(sessions), miner, tally }
    }

    /// What is inconsistent in a loaded shard, if anything.
    pub fn problem(&self) -> Option<String> {
        let n = self.states.len();
        if self.states.windows(2).any(|w| w[0] >= w[1]) {
            return Some("state names are not sorted and distinct".into());
        }
        for s in &self.sessions {
            if s.count == 0 {
                return Some("a session counted 0 times".into());
            }
            if let Some(id) = s.states.iter().find(|&&id| id as usize >= n) {
                return Some(format!("state id {id} beyond the {n} states"));
            }
        }
        if self.errors.iter().any(|e| self.states.binary_search(e).is_err()) {
            return Some("an error state is not among the states".into());
        }
        if self.sessions.iter().map(|s| s.count).sum::<u64>() != self.info.sessions {
            return Some("session counts do not add up to the shard's total".into());
        }
        self.miner.as_ref().and_then(Miner::problem)
    }

    /// Joins shards. The result does not depend on their order. Shards trained with other
    /// options or rule packs, or whose template miners contradict each other (their events were
    /// normalized apart), are refused: the error says which.
    pub fn merge(shards: &[Shard], names: &[String]) -> Result<Merged, String> {
        let Some(first) = shards.first() else {
            return Err("no shards to merge".into());
        };
        for (s, name) in shards.iter().zip(names).skip(1) {
            if s.options != first.options {
                return Err(format!("{name} was trained with other options than {}", names[0]));
            }
            if s.templates != first.templates {
                return Err(format!("{name} was trained with other --templates than {}", names[0]));
            }
            if s.info.rules != first.info.rules {
                return Err(format!(
                    "{name} was trained with other rule packs ({}) than {} ({})",
                    s.info.rules, names[0], first.info.rules
                ));
            }
        }
        let mut all: Vec<String> = shards.iter().flat_map(|s| s.states.iter().cloned()).collect();
        all.sort_unstable();
        all.dedup();
        let mut errors: Vec<String> = shards.iter().flat_map(|s| s.errors.iter().cloned()).collect();
        errors.sort_unstable();
        errors.dedup();
        let states = States::with_errors(&all, &errors);
        let mut sessions = Vec::with_capacity(shards.iter().map(|s| s.sessions.len()).sum());
        for s in shards {
            let ids: Vec<u32> = s.states.iter().map(|n| states.get(n).unwrap_or(u32::MAX)).collect();
            for c in &s.sessions {
                let featured =
                    Featured { key: c.key.clone(), states: c.states.iter().map(|&i| ids[i as usize]).collect(), params: c.params.clone() };
                sessions.push((featured, c.count));
            }
        }
        let sessions = joined(sessions);
        let miners: Vec<&Miner> = shards.iter().filter_map(|s| s.miner.as_ref()).collect();
        let miner = if miners.is_empty() { None } else { Some(Miner::merge(miners)?) };
        let mut inputs: Vec<String> = shards.iter().flat_map(|s| s.info.inputs.iter().cloned()).collect();
        inputs.sort_unstable();
        inputs.dedup();
        let mut tally = Tally::default();
        for s in shards {
            tally.merge(&s.tally);
        }
        Ok(Merged {
            tally,
            sessions,
            states,
            options: first.options.clone(),
            miner,
            rules: first.info.rules.clone(),
            inputs,
            templates: first.templates.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Model;

    fn featured(names: &[&str], states: &States, user: &str) -> Featured {
        let mut s = states.clone();
        Featured {
            key: format!("{user}{}", names.len()),
            states: names.iter().map(|n| s.intern(n)).collect(),
            params: vec![("user".into(), user.into())],
        }
    }

    /// Sessions over a state table interned in the order given.
    fn partition(order: &[&str], rows: &[(&[&str], &str)]) -> (Vec<(Featured, u64)>, States) {
        let states = States::from_names(&order.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        (rows.iter().map(|(n, u)| (featured(n, &states, u), 1)).collect(), states)
    }

    const ROWS: [(&[&str], &str); 8] = [
        (&["open", "auth", "close"], "alice"),
        (&["open", "auth", "close"], "bob"),
        (&["open", "fail", "close"], "alice"),
        (&["open", "auth", "cmd", "close"], "alice"),
        (&["open", "auth", "close"], "alice"),
        (&["open", "fail", "fail", "close"], "carol"),
        (&["open", "auth", "close"], "alice"),
        (&["open", "auth", "cmd", "cmd", "close"], "bob"),
    ];

    #[test]
    fn merged_shards_train_the_model_one_process_trains_in_any_order() {
        let options = TrainOptions { folds: 3, ..TrainOptions::default() };
        // One process, sessions closing in one order and states interned in another.
        let (all, states) = partition(&["close", "fail", "open", "auth", "cmd"], &ROWS);
        let (all, states) = canonical(all, &states);
        let single = super::super::file::encode(&Model::train(&all, &states, options.clone().check().unwrap()).unwrap());
        // Three partitions, each with its own state table.
        let parts = [
            partition(&["open", "auth", "close", "cmd"], &[ROWS[0], ROWS[3], ROWS[6]]),
            partition(&["open", "fail", "close", "auth"], &[ROWS[2], ROWS[5], ROWS[1]]),
            partition(&["open", "auth", "cmd", "close"], &[ROWS[7], ROWS[4]]),
        ];
        let shards: Vec<Shard> = parts
            .into_iter()
            .map(|(s, st)| Shard::new(s, &st, options.clone(), None, Default::default(), ModelInfo::default(), Tally::default()))
            .collect();
        let names: Vec<String> = (0..3).map(|i| format!("s{i}")).collect();
        assert!(shards.iter().all(|s| s.problem().is_none()));
        let counts: Vec<u64> = shards[0].sessions.iter().map(|c| c.count).collect();
        assert_eq!(counts, [2, 1], "distinct sessions are kept once with a count");
        for order in [[0, 1, 2], [2, 0, 1], [1, 2, 0]] {
            let picked: Vec<Shard> = order.iter().map(|&i| shards[i].clone()).collect();
            let m = Shard::merge(&picked, &names).unwrap();
            assert_eq!(m.sessions, all);
            let merged = super::super::file::encode(&Model::train(&m.sessions, &m.states, m.options.check().unwrap()).unwrap());
            assert_eq!(merged, single, "order {order:?}");
        }
    }

    #[test]
    fn shards_with_other_options_or_counts_that_do_not_add_up_are_refused() {
        let (s, st) = partition(&["a", "b"], &[(&["a", "b"], "x")]);
        let one = Shard::new(s.clone(), &st, TrainOptions::default(), None, Default::default(), ModelInfo::default(), Tally::default());
        let other = Shard::new(
            s,
            &st,
            TrainOptions { ngram: 4, ..TrainOptions::default() },
            None,
            Default::default(),
            ModelInfo::default(),
            Tally::default(),
        );
        let e = Shard::merge(&[one.clone(), other], &["one".into(), "two".into()]).unwrap_err();
        assert!(e.contains("two was trained with other options than one"), "{e}");
        let mut bad = one;
        bad.sessions[0].count = 5;
        assert_eq!(bad.problem().as_deref(), Some("session counts do not add up to the shard's total"));
    }
}
