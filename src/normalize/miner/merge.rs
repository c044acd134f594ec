//! Scale-out: a miner rebuilt from the stored events of one normalization, partition by
//! partition, and the union of such miners, so shards and one process name templates alike.

use std::collections::{BTreeMap, HashMap};

use super::tokens::{is_slug, slug};
use super::{narrow, Cluster, Miner};

impl Miner {
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
}
