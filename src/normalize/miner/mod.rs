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
use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

mod tokens;
use tokens::{fit, generalise, is_date_word, is_slug, is_unit, mask, segments, slot_is_free, slug};

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
    template: String,
    /// The readable name ([`TemplateRef::name`]), given when the template was made.
    name: String,
    /// Per constant position, the other values messages brought there (up to
    /// [`MinerConfig::distinct`]); those messages started other templates.
    others: BTreeMap<usize, BTreeSet<String>>,
}

impl Cluster {
    fn render(tokens: &[Option<String>]) -> String {
        let mut s = String::new();
        for (i, t) in tokens.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(t.as_deref().unwrap_or("<*>"));
        }
        s
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
        let mut v: Vec<_> =
            self.clusters.values().map(|c| (TemplateRef { id: c.id, template: &c.template, name: &c.name }, c.count)).collect();
        v.sort_by_key(|t| t.0.id);
        v
    }

    /// The template of id `id`, if the miner holds it (it may have been evicted).
    pub fn template(&self, id: u32) -> Option<&str> {
        self.clusters.get(&id).map(|c| c.template.as_str())
    }

    /// The template named `name` ([`TemplateRef::name`]), if the miner holds it.
    pub fn named(&self, name: &str) -> Option<TemplateRef<'_>> {
        let c = &self.clusters.get(self.names.get(name)?)?;
        Some(TemplateRef { id: c.id, template: &c.template, name: &c.name })
    }

    /// `base`, or `base-2`, `base-3` … whichever no template holds.
    fn free_name(&self, base: String) -> String {
        if !self.names.contains_key(&base) {
            return base;
        }
        (2u32..).map(|n| format!("{base}-{n}")).find(|n| !self.names.contains_key(n)).unwrap_or(base)
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
        let c = &self.clusters[&id];
        TemplateRef { id, template: &c.template, name: &c.name }
    }

    /// Takes in a template that another miner gave a message (an event stored by `normalize
    /// --output parquet`): the cluster `id` is created with that template and `name` (the name
    /// the other miner gave it; made from the template when not given), or, if known, its
    /// constant tokens are narrowed to those the template keeps. Replaying a miner's events in any
    /// order rebuilds its clusters, so partitions of one normalization agree on template ids.
    /// An id known with another length or tree key is an error: the events were mined apart.
    pub fn restore(&mut self, id: u32, template: &str, message: &str, name: Option<&str>) -> Result<(), String> {
        let key = Self::key(&Self::tokens(message, self.config.max_tokens));
        let tokens: Vec<Option<String>> = template.split_ascii_whitespace().map(|t| (t != "<*>").then(|| t.to_owned())).collect();
        self.tick += 1;
        let tick = self.tick;
        match self.clusters.get_mut(&id) {
            Some(c) => {
                if c.tokens.len() != tokens.len() || !self.leaves.get(&key).is_some_and(|ids| ids.contains(&id)) {
                    return Err(format!("template {id} is {:?} here but {:?} before", template, c.template));
                }
                if narrow(&mut c.tokens, tokens.iter().map(Option::as_deref)) {
                    c.template = Cluster::render(&c.tokens);
                }
                c.count += 1;
                c.last_used = c.last_used.max(tick);
            }
            None => {
                if key.0 != tokens.len() {
                    return Err(format!("template {id} ({template:?}) does not fit its message"));
                }
                let template = Cluster::render(&tokens);
                let name = match name.filter(|n| is_slug(n)) {
                    Some(n) => n.to_owned(),
                    None => self.free_name(slug(tokens.iter().map(Option::as_deref))),
                };
                self.names.entry(name.clone()).and_modify(|held| *held = (*held).min(id)).or_insert(id);
                self.clusters.insert(id, Cluster { id, tokens, count: 1, last_used: tick, template, name, others: BTreeMap::new() });
                let leaf = self.leaves.entry(key).or_default();
                let at = leaf.partition_point(|&x| x < id);
                leaf.insert(at, id);
                self.next_id = self.next_id.max(id.saturating_add(1));
            }
        }
        Ok(())
    }

    /// Joins miners rebuilt from partitions of one normalization ([`Miner::restore`]): the
    /// clusters are united by id (constant tokens narrowed, counts added), so the result does not
    /// depend on the order of `miners`. A template id that two miners give different shapes is an
    /// error: they were not mined together.
    pub fn merge<'a>(miners: impl IntoIterator<Item = &'a Miner>) -> Result<Miner, String> {
        let mut out: Option<Miner> = None;
        for m in miners {
            let Some(o) = out.as_mut() else {
                out = Some(m.clone());
                continue;
            };
            if o.config != m.config {
                return Err("the template miners have different settings".into());
            }
            let mut ids: Vec<&u32> = m.clusters.keys().collect();
            ids.sort_unstable();
            for id in ids {
                let c = &m.clusters[id];
                match o.clusters.get_mut(id) {
                    Some(mine) => {
                        if mine.tokens.len() != c.tokens.len() {
                            return Err(format!("template {id} is {:?} in one shard and {:?} in another", mine.template, c.template));
                        }
                        if narrow(&mut mine.tokens, c.tokens.iter().map(Option::as_deref)) {
                            mine.template = Cluster::render(&mine.tokens);
                        }
                        mine.count += c.count;
                        for (p, values) in &c.others {
                            let seen = mine.others.entry(*p).or_default();
                            seen.extend(values.iter().cloned());
                            while seen.len() > o.config.distinct {
                                seen.pop_last();
                            }
                        }
                        mine.last_used = mine.last_used.max(c.last_used);
                        // Named apart (made from templates, not given): the first name in order.
                        if c.name < mine.name {
                            mine.name.clone_from(&c.name);
                        }
                    }
                    None => {
                        o.clusters.insert(*id, c.clone());
                    }
                }
            }
            let mut leaves: Vec<(&(usize, String), &Vec<u32>)> = m.leaves.iter().collect();
            leaves.sort_unstable();
            for (key, ids) in leaves {
                let leaf = o.leaves.entry(key.clone()).or_default();
                leaf.extend(ids);
                leaf.sort_unstable();
                leaf.dedup();
            }
            o.next_id = o.next_id.max(m.next_id);
            o.tick = o.tick.max(m.tick);
            o.evicted += m.evicted;
        }
        let mut out = out.unwrap_or_default();
        // A cluster in two leaves was given different tree keys: mined apart.
        let mut seen: HashMap<u32, &(usize, String)> = HashMap::new();
        let mut keys: Vec<&(usize, String)> = out.leaves.keys().collect();
        keys.sort_unstable();
        for key in keys {
            for id in &out.leaves[key] {
                if let Some(other) = seen.insert(*id, key) {
                    return Err(format!("template {id} starts with {:?} in one shard and {:?} in another", other.1, key.1));
                }
            }
        }
        out.names = BTreeMap::new();
        let mut ids: Vec<&u32> = out.clusters.keys().collect();
        ids.sort_unstable();
        for id in ids {
            out.names.entry(out.clusters[id].name.clone()).or_insert(*id);
        }
        out.clusters.shrink_to_fit();
        Ok(out)
    }

    /// The template a message would join, without learning from it.
    pub fn peek(&self, message: &str) -> Option<TemplateRef<'_>> {
        let tokens = Self::tokens(message, self.config.max_tokens);
        let key = Self::key(&tokens);
        let id = self.best_match(&key, &tokens).0?;
        let c = &self.clusters[&id];
        Some(TemplateRef { id, template: &c.template, name: &c.name })
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
mod tests {
    use super::*;

    #[test]
    fn groups_and_generalises() {
        let mut m = Miner::default();
        let a = m.add("Failed password for root from 5.36.59.76 port 42393 ssh2").id;
        let b = m.add("Failed password for admin from 1.2.3.4 port 22 ssh2");
        assert_eq!(b.id, a);
        assert_eq!(b.template, "Failed password for <*> from <*> port <*> ssh2");
        assert_eq!(mask("10.250.19.102:50010"), None);
        assert_eq!(mask("user").as_deref(), Some("user"));
        let c = m.add("Connection closed by 1.2.3.4 [preauth]").id;
        assert_ne!(c, a);
        assert_eq!(m.templates().len(), 2);
    }

    #[test]
    fn parameters_are_segments_of_tokens_and_may_span_several() {
        let mut m = Miner::default();
        // `key=value`: the key stays, the value is the parameter.
        let a = m.add("session opened for user root by (uid=0)");
        assert_eq!(a.template, "session opened for user root by (uid=<*>)");
        let a = a.id;
        assert_ne!(m.add("session opened for user root by LOGIN(uid=0)").id, a);
        // A number's unit and an aside of numbers and units are one parameter with it; an
        // address with its port is one.
        let b = m.add("proxy.example.org:5070 close, 1190 bytes (1.16 KB) sent, 0 bytes received, lifetime 00:02").id;
        let c = m.add("proxy.example.org:5070 close, 303 bytes sent, 2818 bytes (2.75 KB) received, lifetime <1 sec");
        assert_eq!(c.id, b);
        assert_eq!(c.template, "<*> close, <*> sent, <*> received, lifetime <*>");
        // A date written in the message is one too.
        let d = m.add("connection from 10.0.0.1 () at Sun Jul 10 03:55:21 2005").id;
        assert_eq!(m.add("connection from 10.0.0.9 () at Fri Jun 17 19:05:02 2005").id, d);
        // A name that ends in a digit is a word.
        assert_eq!(mask("SOCKS5").as_deref(), Some("SOCKS5"));
        assert_eq!(mask("ssh2").as_deref(), Some("ssh2"));
        assert_eq!(mask("J12"), None);
    }

    #[test]
    fn a_constant_word_is_a_parameter_only_once_it_met_many_values() {
        let mut m = Miner::default();
        // Two values of a word where no parameter stands are two events.
        let paused = m.add("[instance: 1a2b] VM Paused (Lifecycle Event)").id;
        let resumed = m.add("[instance: 1a2b] VM Resumed (Lifecycle Event)").id;
        assert_ne!(paused, resumed);
        assert_eq!(m.add("[instance: 9f] VM Paused (Lifecycle Event)").id, paused);
        let https = m.add("host.example:5070 open through proxy proxy.example:5070 HTTPS").id;
        assert_ne!(m.add("host.example:5070 open through proxy proxy.example:5070 SOCKS5").id, https);
        // Where parameters stand (after `for`, the value of `key=value`) any value joins.
        let root = m.add("Failed password for root from 10.0.0.1 port 22 ssh2").id;
        assert_eq!(m.add("Failed password for uucp from 10.0.0.2 port 22 ssh2").id, root);
        assert_ne!(m.add("Failed none for uucp from 10.0.0.2 port 22 ssh2").id, root);
        let kv = m.add("authentication failure; logname= uid=0 tty=ssh rhost=10.0.0.1 user=root").id;
        assert_eq!(m.add("authentication failure; logname= uid=0 tty=ssh rhost=10.0.0.1 user=git").id, kv);
        // Other shapes are not values of the same key: `rhost=` (empty) is another event.
        assert_ne!(m.add("authentication failure; logname= uid=0 tty=ssh rhost= user=git").id, kv);
        // A word that met four other values is a parameter from the fifth on.
        let job = |w: &str| format!("job {w} finished with status ok");
        let first = m.add(&job("alpha")).id;
        let others: Vec<u32> = ["beta", "gamma", "delta"].iter().map(|w| m.add(&job(w)).id).collect();
        assert!(others.iter().all(|&id| id != first), "{others:?}");
        let fifth = m.add(&job("epsilon"));
        assert_eq!((fifth.id, fifth.template), (first, "job <*> finished with status ok"));
        assert_eq!(m.add(&job("alpha")).id, first);
    }

    #[test]
    fn templates_have_readable_names_that_stay() {
        let mut m = Miner::default();
        let t = m.add("Unexpected error trying to delete block blk_-1. BlockInfo not found in volumeMap.");
        assert_eq!(t.name, "unexpected-error-trying-to-delete-block");
        // Values the message gives are not part of the name.
        assert_eq!(m.add("Failed password for alice from 10.0.0.1 port 22 ssh2").name, "failed-password-for-from-port-ssh");
        assert_eq!(m.add("session opened for user root by (uid=0)").name, "session-opened-for-user");
        assert_eq!(m.add("job started (spawning), status=ok").name, "job-started-status");
        assert_eq!(m.add("12 34").name, "message");
        assert_eq!(
            m.add("BLOCK* NameSystem.addStoredBlock: addStoredBlock request received for blk_1").name,
            "block-namesystem-addstoredblock-request-received"
        );
        assert_eq!(m.add("Served block blk_1 to /10.0.0.1").name, "served-block");
        // The same words in another template: the name is told apart.
        let other = m.add("Unexpected error trying to delete block blk_-1 twice");
        assert_eq!(other.name, "unexpected-error-trying-to-delete-block-2");
        let other = other.id;
        // The name stays as the template generalises, and finds its template.
        let first = m.add("job alpha finished with status ok").name.to_owned();
        for w in ["beta", "gamma", "delta", "epsilon"] {
            m.add(&format!("job {w} finished with status ok"));
        }
        let t = m.add("job zeta finished with status ok");
        assert_eq!((t.template, t.name), ("job <*> finished with status ok", first.as_str()));
        assert_eq!(first, "job-alpha-finished-with-status-ok");
        assert_eq!(m.named("unexpected-error-trying-to-delete-block-2").map(|t| t.id), Some(other));
        assert_eq!(m.named("no-such-name"), None);
        assert!(is_slug(&first) && !is_slug("4xx") && !is_slug("GET") && !is_slug("a--b"));
    }

    #[test]
    fn variable_first_token_and_masks_match_again() {
        let mut m = Miner::default();
        let a = m.add("1234 requests served").id;
        assert_eq!(m.add("98 requests served").id, a, "a numeric first token does not split the tree");
        let b = m.add("blk_-1608999687919862906 replicated to 10.250.19.102:50010").id;
        assert_eq!(m.add("blk_7503483334202473044 replicated to 10.250.10.6:50010").id, b);
        assert_eq!(m.peek("blk_1 replicated to 10.0.0.1:1").map(|t| t.id), Some(b));
    }

    #[test]
    fn partitions_of_one_mining_rebuild_its_templates_and_apart_ones_are_refused() {
        let lines: Vec<String> = (0..60)
            .map(|i| match i % 4 {
                0 => format!("Failed password for user{} from 10.0.0.{i} port {}", i % 3, 1000 + i),
                1 => format!("session opened for user{} by (uid={i})", i % 5),
                2 => format!("Connection closed by 10.1.{i}.2 [preauth]"),
                _ => format!("Received disconnect from 10.2.0.{i}: 11: Bye Bye"),
            })
            .collect();
        let mut whole = Miner::default();
        let events: Vec<(u32, String, String, &String)> = lines
            .iter()
            .map(|l| {
                let t = whole.add(l);
                (t.id, t.template.to_owned(), t.name.to_owned(), l)
            })
            .collect();
        // Three partitions, each replayed backwards, merged in two orders.
        let parts: Vec<Miner> = (0..3)
            .map(|p| {
                let mut m = Miner::default();
                for (id, template, name, line) in events.iter().rev().skip(p).step_by(3) {
                    m.restore(*id, template, line, Some(name)).unwrap();
                }
                m
            })
            .collect();
        let a = Miner::merge([&parts[0], &parts[1], &parts[2]]).unwrap();
        let b = Miner::merge([&parts[2], &parts[0], &parts[1]]).unwrap();
        assert_eq!(a.templates(), whole.templates());
        assert_eq!(b.templates(), whole.templates());
        let names = |m: &Miner| m.clusters.values().map(|c| (c.id, c.name.clone())).collect::<BTreeMap<_, _>>();
        assert_eq!((names(&a), &a.names), (names(&whole), &whole.names));
        assert_eq!(names(&b), names(&whole));
        assert_eq!(
            a.peek("Failed password for root from 1.2.3.4 port 22").map(|t| t.id),
            whole.peek("Failed password for root from 1.2.3.4 port 22").map(|t| t.id)
        );
        // A second mining of other messages gives id 0 to another template.
        let mut other = Miner::default();
        other.add("kernel panic now");
        let e = Miner::merge([&whole, &other]).unwrap_err();
        assert!(e.contains("template 0"), "{e}");
        let mut m = whole.clone();
        assert!(m.restore(0, "kernel panic now", "kernel panic now", None).is_err());
        // A loaded miner whose tree names a missing template is refused, not used.
        assert_eq!(whole.problem(), None);
        let mut broken = whole.clone();
        broken.leaves.entry((3, "kernel".into())).or_default().push(99);
        assert!(broken.problem().is_some_and(|p| p.contains("template 99")));
        broken.clusters.remove(&99);
        broken.leaves.remove(&(3, "kernel".into()));
        broken.clusters.remove(&0);
        assert!(broken.problem().is_some());
    }

    #[test]
    fn ids_are_deterministic_and_eviction_is_counted() {
        let lines: Vec<String> = (0..50).map(|i| format!("event{} kind{} happened", i % 7, i % 3)).collect();
        let run = |cfg| {
            let mut m = Miner::new(cfg);
            lines.iter().map(|l| m.add(l).id).collect::<Vec<_>>()
        };
        assert_eq!(run(MinerConfig::default()), run(MinerConfig::default()));
        let mut m = Miner::new(MinerConfig { max_clusters: 3, ..Default::default() });
        for w in ["alpha", "beta", "gamma", "delta", "epsilon"] {
            m.add(&format!("{w} only {w}"));
        }
        assert!(m.len() <= 3 && m.evicted() >= 2, "{} held, {} evicted", m.len(), m.evicted());
    }
}
