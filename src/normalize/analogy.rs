//! The analogy layer, for messages no rule knows: the standard event of the most similar example
//! line of the rule packs. Every rule carries real lines of its product; a product no pack knows
//! phrases the same events with much the same words (`session opened`, `authentication failure`,
//! `relay denied`, `connection closed`), so the example whose words, weighted by how rare they are
//! among all examples (TF-IDF), are closest to the message's (cosine) names its event. Only
//! the security, session and mail events are named this way: a storage or cloud message is
//! close to its own product's examples and to nothing else, and is left to the template miner.

use std::collections::HashMap;

use super::rules::Rule;
use super::vocabulary::{self, Action, Outcome};
use crate::parse::{LineParser, YearAnchor};

/// The families of standard events that are named by analogy.
const FAMILIES: &[&str] = &["authentication.", "session.", "iam.", "email.", "network.connection."];

/// The least cosine similarity for a message to take its nearest example's event: more than half
/// of the weight of the words of both must be shared.
pub const LEVEL: f32 = 0.5;

/// An example's event, and its rule's outcome when it overrides the event's.
type Labelled = (&'static Action, Option<Outcome>);

/// The examples and their words, with an inverted index.
#[derive(Debug, Default)]
pub struct Analogy {
    /// Per example: its event, the rule's outcome when it overrides the event's, the vector norm.
    examples: Vec<(&'static Action, Option<Outcome>, f32)>,
    /// Word → its weight and the examples that have it.
    index: HashMap<String, (f32, Vec<u32>)>,
    /// The weight of a word no example has (a user or host name, a product's own word): that of
    /// a word one example has, for it is at least as rare.
    unknown: f32,
}

/// What the analogy made of a message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Nearest {
    /// The example's standard event.
    pub action: &'static Action,
    /// The example rule's outcome when it overrides the event's.
    pub outcome: Option<Outcome>,
    /// Cosine similarity.
    pub similarity: f32,
}

/// The distinct words of a message: lower-case runs of letters, two or more long, with no digit
/// next to them (numbers, addresses, ids and hex are not words).
pub fn words(message: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for token in message.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        if token.len() < 2 || token.chars().any(|c| c.is_ascii_digit() || c == '_') {
            continue;
        }
        let w = token.to_lowercase();
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

impl Analogy {
    /// The analogy of a rule set's examples.
    pub fn new(rules: &[Rule]) -> Self {
        let mut docs: Vec<(Labelled, Vec<String>)> = Vec::new();
        // One parser per example, sharing headers of their own: freed when this is done, whatever
        // else parses meanwhile.
        let headers = crate::parse::auto::Builtins::private();
        for rule in rules {
            for ex in &rule.examples {
                let Some(action) = ex.action.as_deref().and_then(vocabulary::action).or(rule.action) else { continue };
                if !FAMILIES.iter().any(|f| action.name.starts_with(f)) {
                    continue;
                }
                let first = ex.line.lines().next().unwrap_or_default();
                let mut parser = LineParser::auto_with(headers.clone(), YearAnchor::Given(2000));
                let Ok(rec) = parser.parse(first, 1) else { continue };
                let outcome = if ex.action.is_some() { None } else { rule.outcome };
                docs.push(((action, outcome), words(&rec.message)));
            }
        }
        let n = docs.len() as f32;
        let mut df: HashMap<&str, u32> = HashMap::new();
        for (_, ws) in &docs {
            for w in ws {
                *df.entry(w).or_default() += 1;
            }
        }
        let idf: HashMap<String, f32> = df.iter().map(|(w, d)| ((*w).to_owned(), (1.0 + n / *d as f32).ln())).collect();
        let mut index: HashMap<String, (f32, Vec<u32>)> = HashMap::new();
        let mut examples = Vec::with_capacity(docs.len());
        for (i, ((action, outcome), ws)) in docs.iter().enumerate() {
            let mut norm = 0.0;
            for w in ws {
                let weight = idf[w];
                norm += weight * weight;
                index.entry(w.clone()).or_insert_with(|| (weight, Vec::new())).1.push(i as u32);
            }
            examples.push((*action, *outcome, norm.sqrt()));
        }
        Analogy { examples, index, unknown: (1.0 + n).ln() }
    }

    /// The nearest example's event, when it is at least [`LEVEL`] similar.
    pub fn nearest(&self, message: &str) -> Option<Nearest> {
        let ws = words(message);
        if ws.is_empty() || self.examples.is_empty() {
            return None;
        }
        let mut dot = vec![0.0f32; self.examples.len()];
        let mut norm = 0.0;
        for w in &ws {
            match self.index.get(w) {
                Some((weight, docs)) => {
                    norm += weight * weight;
                    for d in docs {
                        dot[*d as usize] += weight * weight;
                    }
                }
                None => norm += self.unknown * self.unknown,
            }
        }
        let norm = norm.sqrt();
        let mut best: Option<(f32, u32)> = None;
        for (d, v) in dot.into_iter().enumerate().filter(|(_, v)| *v > 0.0) {
            let sim = v / (norm * self.examples[d].2);
            // Ties go to the earlier example (the rules' order).
            if best.is_none_or(|(b, _)| sim > b) {
                best = Some((sim, d as u32));
            }
        }
        let (similarity, d) = best.filter(|(s, _)| *s >= LEVEL)?;
        let (action, outcome, _) = self.examples[d as usize];
        Some(Nearest { action, outcome, similarity })
    }
}

/// The failure twin of a success event (a message with failure wording nearest to a success).
pub fn failure_of(action: &'static Action) -> Option<&'static Action> {
    let twin = match action.name {
        "authentication.login.success" => "authentication.login.failure",
        "iam.privilege.escalate" => "iam.privilege.escalate.failure",
        "email.deliver" | "email.receive" | "email.forward" => "email.reject",
        _ => return None,
    };
    vocabulary::action(twin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::rules::RuleSet;

    #[test]
    fn words_are_letters_without_digits() {
        assert_eq!(words("Failed password for root from 10.0.0.1 port 22 ssh2"), ["failed", "password", "for", "root", "from", "port"]);
        assert_eq!(words("session opened for user bob by (uid=0)"), ["session", "opened", "for", "user", "bob", "by", "uid"]);
    }

    #[test]
    fn a_product_no_pack_knows_takes_the_event_of_the_nearest_example() {
        let set = RuleSet::builtin_without("proftpd");
        let a = Analogy::new(set.rules());
        let name = |m: &str| a.nearest(m).map(|n| n.action.name);
        assert_eq!(
            name("pam_unix(frobd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser= rhost=10.0.0.1 user=carol"),
            Some("authentication.login.failure")
        );
        assert_eq!(name("pam_unix(frobd:session): session opened for user carol by (uid=0)"), Some("session.start"));
        assert_eq!(name("Accepted password for carol from 10.0.0.1 port 2222 ssh2"), Some("authentication.login.success"));
        // Nothing like any example: left to the template miner (one shared word, `error`, is not
        // a likeness).
        assert_eq!(name("EDAC MC0: uncorrectable memory error on DIMM 2"), None);
        assert_eq!(name("PacketResponder 1 for block blk_38865049064139660 terminating"), None);
        assert_eq!(name("Receiving block blk_1 src: /10.0.0.1:50010 dest: /10.0.0.2:50010"), None);
    }
}
