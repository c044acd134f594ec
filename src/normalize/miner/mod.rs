//! A Drain-class online template miner (He et al., ICWS 2017) with one default configuration for
//! every log: messages are split on whitespace, tokens holding a digit (numbers, IPs, ports, hex,
//! UUIDs, block ids, timestamps) are masked as parameters, and a message joins the most similar
//! cluster of the same length and first constant token when at least 70% of that cluster's
//! constant tokens agree; positions that differ become parameters (`<*>`).
//!
//! Compared with Drain3: the tree is keyed on the first *constant* token, so a template that
//! starts with a parameter (a user, an address) is not scattered over many leaves; masked tokens
//! compare like parameters on both sides, so a masked line always matches
//! its own cluster again; and the number of clusters is capped, the least recently used being
//! evicted first (evictions are counted). Template ids are given in order of first appearance, so
//! the same input gives the same ids.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::fasthash::HashMap;

use serde::{Deserialize, Serialize};

mod merge;
mod tokens;
use tokens::{fit, generalise, is_date_word, is_unit, mask, segments, slot_is_free, slug};

/// Miner settings. The defaults are the one configuration used for every log.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MinerConfig {
    /// Share of a cluster's constant tokens a message must match to join it.
    pub similarity: f64,
    /// Clusters kept before the least recently used are evicted.
    pub max_clusters: usize,
    /// Tokens past this many are ignored for matching (very long messages).
    pub max_tokens: usize,
    /// Other values a constant meets before it is a parameter: until then a message that
    /// differs in it starts another template (`Failed password` and `Failed none`, `VM Paused`
    /// and `VM Resumed`), unless it stands where parameters stand (after `for`, `from`, `user`;
    /// the value of a `key=value`).
    pub distinct: usize,
}

impl Default for MinerConfig {
    fn default() -> Self {
        MinerConfig { similarity: 0.7, max_clusters: 50_000, max_tokens: 128, distinct: 4 }
    }
}

/// Tree leaves: (token count, first constant token) → cluster ids in creation order.
type Leaves = HashMap<(usize, String), Vec<u32>>;

/// One template: constant tokens and parameters (`None`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cluster {
    id: u32,
    tokens: Vec<Option<String>>,
    count: u64,
    last_used: u64,
    /// Shared with the events of the template (an event takes it without a copy).
    template: Arc<str>,
    /// The readable name ([`TemplateRef::name`]), given when the template was made.
    name: String,
    /// Per constant position, the other values messages brought there (up to
    /// [`MinerConfig::distinct`]); those messages started other templates.
    others: BTreeMap<usize, BTreeSet<String>>,
}

impl Cluster {
    fn reference(&self) -> TemplateRef<'_> {
        TemplateRef { id: self.id, template: &self.template, shared: &self.template, name: &self.name }
    }

    fn render(tokens: &[Option<String>]) -> Arc<str> {
        let mut s = String::new();
        for (i, t) in tokens.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(t.as_deref().unwrap_or("<*>"));
        }
        s.into()
    }
}

/// The miner's state: saved in models so ids stay stable between training and scoring.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Miner {
    config: MinerConfig,
    #[serde(with = "cluster_map")]
    clusters: HashMap<u32, Cluster>,
    /// (token count, first token or "<*>") → cluster ids, in creation order.
    #[serde(with = "leaf_map")]
    leaves: Leaves,
    next_id: u32,
    tick: u64,
    evicted: u64,
    /// Readable name → template id, for the templates held.
    names: BTreeMap<String, u32>,
    /// Name → a suffix below which every `name-N` (from 2) is taken: where the search for a
    /// free one starts. Only a shortcut (the search gives the same name without it), so it is
    /// not saved, and it is forgotten when a template is evicted.
    #[serde(skip)]
    taken_below: HashMap<String, u32>,
}

mod leaf_map {
    //! Serializes the leaf map as a sorted list (maps keyed by tuples have no JSON/TOML form, and
    //! sorting keeps saved models byte-identical).
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(map: &Leaves, s: S) -> Result<S::Ok, S::Error> {
        let mut v: Vec<_> = map.iter().collect();
        v.sort();
        v.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Leaves, D::Error> {
        Ok(Vec::<((usize, String), Vec<u32>)>::deserialize(d)?.into_iter().collect())
    }
}

mod cluster_map {
    //! Serializes the clusters sorted by id, so equal miners are equal bytes.
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(map: &HashMap<u32, Cluster>, s: S) -> Result<S::Ok, S::Error> {
        let mut v: Vec<&Cluster> = map.values().collect();
        v.sort_by_key(|c| c.id);
        v.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<HashMap<u32, Cluster>, D::Error> {
        Ok(Vec::<Cluster>::deserialize(d)?.into_iter().map(|c| (c.id, c)).collect())
    }
}

/// Narrows a cluster's constant tokens to those `other` shares (`None`: a parameter); true if any
/// changed.
fn narrow<'a>(tokens: &mut [Option<String>], other: impl IntoIterator<Item = Option<&'a str>>) -> bool {
    let mut changed = false;
    for (slot, tok) in tokens.iter_mut().zip(other) {
        if let Some(s) = slot.as_deref() {
            if Some(s) != tok {
                *slot = generalise(s, tok);
                changed = true;
            }
        }
    }
    changed
}

/// A matched or created template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateRef<'a> {
    /// Stable id.
    pub id: u32,
    /// The template text, `<*>` for parameters.
    pub template: &'a str,
    /// The same text, to share without a copy.
    pub shared: &'a Arc<str>,
    /// A readable name, unique among the miner's templates: the first constant words of the
    /// message that made the template (`unexpected-error-trying-to-delete-block`), without the
    /// values it gave; `-2`, `-3` … after a name already taken. It stays when the template
    /// generalises, like the id.
    pub name: &'a str,
}

impl Miner {
    /// An empty miner.
    pub fn new(config: MinerConfig) -> Self {
        Miner { config, ..Default::default() }
    }

    /// What is inconsistent in a loaded miner, if anything: a tree leaf naming a cluster that
    /// does not exist, or a cluster no leaf reaches, would break matching.
    pub fn problem(&self) -> Option<String> {
        let mut reached = 0usize;
        let mut leaves: Vec<(&(usize, String), &Vec<u32>)> = self.leaves.iter().collect();
        leaves.sort_unstable();
        for ((len, _), ids) in leaves {
            for id in ids {
                match self.clusters.get(id) {
                    None => return Some(format!("the template tree names template {id}, which is missing")),
                    Some(c) if c.tokens.len() != *len => return Some(format!("template {id} is in the tree under another length")),
                    Some(_) => reached += 1,
                }
            }
        }
        if reached != self.clusters.len() {
            return Some(format!("{} templates, {reached} places in the template tree", self.clusters.len()));
        }
        None
    }

    /// Clusters evicted so far.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Number of templates held.
    pub fn len(&self) -> usize {
        self.clusters.len()
    }

    /// Whether no template is held.
    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty()
    }

    /// Templates with their counts, by id.
    pub fn templates(&self) -> Vec<(TemplateRef<'_>, u64)> {
        let mut v: Vec<_> = self.clusters.values().map(|c| (c.reference(), c.count)).collect();
        v.sort_by_key(|t| t.0.id);
        v
    }

    /// The template named `name` ([`TemplateRef::name`]), if the miner holds it.
    pub fn named(&self, name: &str) -> Option<TemplateRef<'_>> {
        self.clusters.get(self.names.get(name)?).map(Cluster::reference)
    }

    /// `base`, or `base-2`, `base-3` … whichever no template holds.
    /// The caller takes the name it returns.
    fn free_name(&mut self, base: String) -> String {
        if !self.names.contains_key(&base) {
            return base;
        }
        let start = self.taken_below.get(&base).copied().unwrap_or(2);
        let (n, name) =
            (start..).map(|n| (n, format!("{base}-{n}"))).find(|(_, name)| !self.names.contains_key(name)).unwrap_or((start, base.clone()));
        self.taken_below.insert(base, n + 1);
        name
    }

    /// Learns from a message and returns its template.
    pub fn add(&mut self, message: &str) -> TemplateRef<'_> {
        let tokens = Self::tokens(message, self.config.max_tokens);
        let key = Self::key(&tokens);
        self.tick += 1;
        let (mut best, refused) = self.best_match(&key, &tokens);
        for (id, positions) in refused {
            let distinct = self.config.distinct;
            let c = self.clusters.get_mut(&id).expect("leaf ids are live clusters");
            let mut opened = true;
            for &p in &positions {
                let seen = c.others.entry(p).or_default();
                if seen.len() < distinct {
                    seen.insert(tokens[p].as_deref().unwrap_or("<*>").to_owned());
                }
                opened &= seen.len() >= distinct;
            }
            // Met enough values: a parameter from now on, and this message joins the template
            // (the first one, which the messages with its first value keep joining).
            if opened {
                for &p in &positions {
                    if let Some(slot) = c.tokens[p].as_deref() {
                        c.tokens[p] = generalise(slot, tokens[p].as_deref());
                    }
                }
                c.template = Cluster::render(&c.tokens);
                if best.is_none_or(|b| b > id) {
                    best = Some(id);
                }
            }
        }
        let id = match best {
            Some(id) => {
                let tick = self.tick;
                let c = self.clusters.get_mut(&id).expect("leaf ids are live clusters");
                if narrow(&mut c.tokens, tokens.iter().map(|t| t.as_deref())) {
                    c.template = Cluster::render(&c.tokens);
                }
                c.count += 1;
                c.last_used = tick;
                id
            }
            None => {
                if self.clusters.len() >= self.config.max_clusters {
                    self.evict();
                }
                let id = self.next_id;
                self.next_id += 1;
                let toks: Vec<Option<String>> = tokens.iter().map(|t| t.as_deref().map(str::to_owned)).collect();
                let template = Cluster::render(&toks);
                let name = self.free_name(slug(toks.iter().map(Option::as_deref)));
                self.names.insert(name.clone(), id);
                let cluster = Cluster { id, tokens: toks, count: 1, last_used: self.tick, template, name, others: BTreeMap::new() };
                self.clusters.insert(id, cluster);
                self.leaves.entry(key).or_default().push(id);
                id
            }
        };
        self.clusters[&id].reference()
    }

    /// The template a message would join, without learning from it.
    pub fn peek(&self, message: &str) -> Option<TemplateRef<'_>> {
        let tokens = Self::tokens(message, self.config.max_tokens);
        let key = Self::key(&tokens);
        let id = self.best_match(&key, &tokens).0?;
        Some(self.clusters[&id].reference())
    }

    /// A message's tokens, parameters masked. A parameter that spans a varying number of tokens
    /// is one: a number's unit (`0 bytes`, `<1 sec`) and a parenthesised aside of numbers and
    /// units after it (`1190 bytes (1.16 KB)`) fold into the number. Day and month names next to
    /// a number (`at Sun Jul 10 03:55:21 2005`) are parameters.
    fn tokens(message: &str, max: usize) -> Vec<Option<Cow<'_, str>>> {
        let raw: Vec<&str> = message.split_ascii_whitespace().take(max).collect();
        let number = |j: usize| raw.get(j).is_some_and(|t| mask(t).is_none());
        let mut out: Vec<Option<Cow<'_, str>>> = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            let after_number = i > 0 && out.last().is_some_and(Option::is_none);
            if after_number && raw[i].starts_with('(') {
                let end = (i..raw.len().min(i + 3)).find(|&j| raw[j].ends_with(')'));
                if let Some(j) = end {
                    let inner: Vec<&str> = raw[i..=j].iter().map(|t| t.trim_matches(['(', ')'])).collect();
                    if inner.iter().any(|t| mask(t).is_none())
                        && inner.iter().all(|t| mask(t).is_none() || is_unit(t))
                        && inner.iter().any(|t| is_unit(t))
                    {
                        i = j + 1;
                        continue;
                    }
                }
            }
            if after_number && number(i - 1) && is_unit(raw[i]) {
                i += 1;
                continue;
            }
            let date = is_date_word(raw[i])
                && ((i > 0 && (number(i - 1) || is_date_word(raw[i - 1])))
                    || number(i + 1)
                    || raw.get(i + 1).is_some_and(|t| is_date_word(t)));
            out.push(if date { None } else { mask(raw[i]) });
            i += 1;
        }
        out
    }

    /// The tree key: token count and the first word of the first constant token, so a leading
    /// parameter (a user name, a client address) does not scatter one template over many leaves.
    fn key(tokens: &[Option<Cow<'_, str>>]) -> (usize, String) {
        let first = tokens.iter().flatten().next().map(|t| t.as_ref()).unwrap_or("<*>");
        let word = segments(first).find(|(w, s)| *w && *s != "<*>").map_or(first, |(_, s)| s);
        (tokens.len(), word.to_owned())
    }

    /// The cluster a message joins: the most similar one of its leaf, at least
    /// [`MinerConfig::similarity`]. A cluster is not joined by a message that would turn one of
    /// its constants into a parameter, unless that constant stands where parameters stand or has
    /// already met [`MinerConfig::distinct`] other values; such refusals are returned, so that
    /// the values are counted.
    fn best_match(&self, key: &(usize, String), tokens: &[Option<Cow<'_, str>>]) -> (Option<u32>, Vec<(u32, Vec<usize>)>) {
        let Some(ids) = self.leaves.get(key) else { return (None, Vec::new()) };
        let mut best: Option<(f64, u32)> = None;
        let mut refused = Vec::new();
        for &id in ids {
            let c = &self.clusters[&id];
            let (mut same, mut constant, mut narrowed) = (0.0, 0usize, Vec::new());
            for (i, (slot, tok)) in c.tokens.iter().zip(tokens).enumerate() {
                if let Some(s) = slot {
                    constant += 1;
                    let f = fit(s, tok.as_deref());
                    same += f;
                    if f < 1.0 {
                        narrowed.push(i);
                    }
                }
            }
            let sim = if constant == 0 { 1.0 } else { same / constant as f64 };
            if sim < self.config.similarity {
                continue;
            }
            // A constant is a constant until it has met many values: `Failed password` and
            // `Failed none`, `VM Resumed` and `VM Paused`, are different events; `for root` and
            // `for admin` are not.
            narrowed.retain(|&i| !slot_is_free(&c.tokens, i, tokens[i].as_deref()));
            if !narrowed.is_empty() {
                let open = narrowed.iter().all(|p| {
                    let seen = c.others.get(p);
                    let value = tokens[*p].as_deref().unwrap_or("<*>");
                    let n = seen.map_or(0, BTreeSet::len) + usize::from(!seen.is_some_and(|v| v.contains(value)));
                    n > self.config.distinct
                });
                if !open {
                    refused.push((id, narrowed));
                    continue;
                }
            }
            if best.is_none_or(|(b, _)| sim > b) {
                best = Some((sim, id));
            }
        }
        (best.map(|(_, id)| id), refused)
    }

    /// Drops the least recently used tenth of the clusters.
    fn evict(&mut self) {
        let mut by_age: Vec<(u64, u32)> = self.clusters.values().map(|c| (c.last_used, c.id)).collect();
        by_age.sort_unstable();
        let n = (self.clusters.len() / 10).max(1);
        for &(_, id) in &by_age[..n] {
            if let Some(c) = self.clusters.remove(&id) {
                if self.names.get(&c.name) == Some(&id) {
                    self.names.remove(&c.name);
                    self.taken_below.clear();
                }
            }
            self.evicted += 1;
        }
        // Each leaf is filtered on its own: the visiting order cannot change the result.
        #[allow(clippy::iter_over_hash_type)]
        for ids in self.leaves.values_mut() {
            ids.retain(|id| self.clusters.contains_key(id));
        }
        self.leaves.retain(|_, ids| !ids.is_empty());
    }
}

#[cfg(test)]
mod tests;
