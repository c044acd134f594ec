//! Declarative rule packs: TOML files that map product messages to standard event names and
//! standard fields. The built-in packs are embedded in the binary; `--rules DIR` adds the `*.toml`
//! packs of a directory, where a rule with the id of a built-in one replaces it and new rules are
//! tried before the built-ins.
//!
//! ```toml
//! [pack]
//! name = "openssh"
//! description = "OpenSSH sshd, all versions"
//! entities = ["source_ip"]               # optional: fields whose values `train` follows as
//!                                        # entities (rates, breadth), besides source_ip and user
//!
//! [[rule]]
//! id = "openssh.password.failure"
//! process = '^sshd(-session)?$'          # regex on the program; omit to match any program
//! match = 'Failed (?P<method>\S+) for (?P<user>\S+) from (?P<source>\S+)'   # regex on the message
//! action = "authentication.login.failure" # a standard name (see vocabulary.rs); a rule may omit it
//!                                        # and name only entity and role (HDFS blocks, instances)
//! outcome = "failure"                    # optional: overrides the action's outcome
//! entity = "pid"                         # session key: "pid" or a field name such as "queue_id"
//! role = "step"                          # lifecycle: start, step or end
//! set = { method = "password" }          # optional constant fields
//! [[rule.example]]                       # at least one real line, checked by `logsieve rules test`
//! line = "Dec 10 07:13:43 LabSZ sshd[24227]: Failed password for root from 5.36.59.76 port 42393 ssh2"
//! fields = { user = "root", source_ip = "5.36.59.76" }
//! ```
//!
//! Capture names are standard field names (`user`, `target_user`, `source_ip`, `source_port`,
//! `source_domain`, `recipient`, `sender`, `original_recipient`, `queue_id`, `message_id`,
//! `command`, `logon_type`, ...); `source` becomes `source_ip` when it is an IP address and
//! `source_domain` otherwise; any other name is kept under `logsieve.fields`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

mod memo;
mod prefilter;

pub use memo::Memo;
pub use prefilter::{CandidateCache, Candidates};

use regex::Regex;
use serde::Deserialize;

use super::vocabulary::{self, Action};

/// The built-in packs: (file name, TOML text).
const BUILTIN: &[(&str, &str)] = &[
    ("openssh.toml", include_str!("packs/openssh.toml")),
    ("pam.toml", include_str!("packs/pam.toml")),
    ("privilege.toml", include_str!("packs/privilege.toml")),
    ("ftp.toml", include_str!("packs/ftp.toml")),
    ("imap.toml", include_str!("packs/imap.toml")),
    ("postfix.toml", include_str!("packs/postfix.toml")),
    ("sendmail.toml", include_str!("packs/sendmail.toml")),
    ("exim.toml", include_str!("packs/exim.toml")),
    ("mail-other.toml", include_str!("packs/mail-other.toml")),
    ("exchange.toml", include_str!("packs/exchange.toml")),
    ("windows.toml", include_str!("packs/windows.toml")),
    ("web.toml", include_str!("packs/web.toml")),
    ("systems.toml", include_str!("packs/systems.toml")),
];

/// Where a session's lifecycle stands at an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The event creates the entity (a connection opens, a block is allocated).
    Start,
    /// The entity changes.
    Step,
    /// The entity ends.
    End,
}

impl Role {
    /// `start`, `step` or `end`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Start => "start",
            Role::Step => "step",
            Role::End => "end",
        }
    }

    /// The role named by [`Role::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        [Role::Start, Role::Step, Role::End].into_iter().find(|r| r.as_str() == name)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    pack: PackMeta,
    #[serde(default, rename = "rule")]
    rules: Vec<RuleSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackMeta {
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    /// Fields whose values are entities to follow (short names, as `--entity` takes them).
    #[serde(default)]
    entities: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    #[serde(default)]
    process: Option<String>,
    #[serde(rename = "match")]
    pattern: String,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    entity: Option<String>,
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    set: BTreeMap<String, String>,
    #[serde(default, rename = "example")]
    examples: Vec<Example>,
}

/// A real line a rule must turn into its event, with the fields it must extract.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    /// The raw line (with `\n` between the lines of a multi-line record).
    pub line: String,
    /// The expected action when it is not the rule's own (an example showing precedence).
    #[serde(default)]
    pub action: Option<String>,
    /// Expected standard fields (short names).
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

/// One compiled rule.
#[derive(Debug)]
pub struct Rule {
    /// Unique id, `<pack>.<what>`.
    pub id: String,
    /// The pack it came from (file name).
    pub pack: String,
    process: Option<Lazy>,
    pattern: Lazy,
    /// The standard event; `None` for a rule that only names the entity and lifecycle (the state
    /// then stays the message's template).
    pub action: Option<&'static Action>,
    /// The outcome, when the rule overrides the action's.
    pub outcome: Option<vocabulary::Outcome>,
    /// Session key source: `pid` or a field short name.
    pub entity: Option<String>,
    /// Lifecycle role.
    pub role: Role,
    set: Vec<(String, String)>,
    /// Real example lines.
    pub examples: Vec<Example>,
    /// For a pattern that tells digits apart, its digit-blind cover (see [`Memo`]); found on
    /// first use.
    digits: std::sync::OnceLock<Option<Regex>>,
}

impl Rule {
    /// Whether the rule's pattern tells ASCII digits apart, so that its decision on a line cannot
    /// be remembered for the line's shape (see [`Memo`]).
    pub fn tells_digits_apart(&self) -> bool {
        self.digit_blind_cover().is_some()
    }

    /// For a pattern that tells digits apart, a digit-blind pattern that matches wherever it
    /// does: a shape it misses rules the rule out for every line of that shape.
    fn digit_blind_cover(&self) -> Option<&Regex> {
        self.digits.get_or_init(|| memo::digit_blind_cover(&self.pattern.src)).as_ref()
    }
}

/// A regex compiled on first use. Compiling every built-in rule's regexes took ~60 ms, most of
/// the start-up of a run, while an input uses the rules of a few programs; user packs are still
/// compiled when loaded, so a bad regex is refused with its file.
#[derive(Debug)]
struct Lazy {
    src: String,
    regex: std::sync::OnceLock<Regex>,
}

impl Lazy {
    fn new(src: &str) -> Self {
        Lazy { src: src.to_owned(), regex: std::sync::OnceLock::new() }
    }

    /// Compiled now, so an error is reported at load.
    fn eager(src: &str) -> Result<Self, regex::Error> {
        let regex = Regex::new(src)?;
        Ok(Lazy { src: src.to_owned(), regex: std::sync::OnceLock::from(regex) })
    }

    fn get(&self) -> &Regex {
        // Only built-in patterns are compiled lazily, and the test suite compiles every one of them
        // (`builtin_packs_compile_with_unique_ids`); should one still fail, it matches nothing.
        self.regex.get_or_init(|| Regex::new(&self.src).unwrap_or_else(|_| Regex::new(r"[^\s\S]").unwrap_or_else(|_| unreachable!())))
    }
}

/// A rule pack that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct RuleError {
    /// The pack file.
    pub file: String,
    /// What is wrong (TOML errors carry their line and column).
    pub message: String,
}

/// Fields a rule extracted: standard short name → value.
pub type Extracted = Vec<(String, String)>;

/// The loaded rules, in matching order.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    /// Candidate sets by rule subset, shared by every normalizer using these rules.
    sets: Mutex<HashMap<Vec<u32>, Arc<Candidates>>>,
    /// The compiled sets of the candidates' parts, by rule subset (see `RuleSet::candidate_set`).
    part_sets: Mutex<HashMap<Vec<u32>, Option<Arc<regex::RegexSet>>>>,
    /// How many of those were too big to compile (see `RuleSet::oversized_sets`).
    oversized: std::sync::atomic::AtomicUsize,
    /// CRC-32 of the pack texts, in loading order (saved in models).
    digest: u32,
    /// The examples as the analogy layer uses them, built on first use.
    analogy: std::sync::OnceLock<super::analogy::Analogy>,
    /// The entity fields the packs declare (`[pack] entities = [...]`), in loading order.
    entities: Vec<String>,
}

/// The entity fields declared by packs (each text a pack that compiles; others declare none).
fn pack_entities<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for text in texts {
        for e in toml::from_str::<PackFile>(text).map(|p| p.pack.entities).unwrap_or_default() {
            if !out.contains(&e) {
                out.push(e);
            }
        }
    }
    out
}

/// Reads a pack; `eager` compiles its regexes now (user packs), otherwise on first use.
fn compile_pack(file: &str, text: &str, eager: bool) -> Result<Vec<Rule>, RuleError> {
    let err = |message: String| RuleError { file: file.to_owned(), message };
    let pack: PackFile = toml::from_str(text).map_err(|e| err(e.to_string()))?;
    if let Some(bad) = pack.pack.entities.iter().find(|e| e.is_empty() || e.contains(char::is_whitespace)) {
        return Err(err(format!("entity field {bad:?} is not a field name")));
    }
    let mut out = Vec::with_capacity(pack.rules.len());
    for spec in pack.rules {
        let rule_err = |m: String| err(format!("rule {}: {m}", spec.id));
        if spec.id == crate::normalize::GENERIC {
            return Err(rule_err("takes the id the generic layer's events carry: choose another".into()));
        }
        let action = match spec.action.as_deref() {
            None if spec.entity.is_none() => return Err(rule_err("names neither an action nor an entity".into())),
            None => None,
            Some(name) => Some(
                vocabulary::action(name).ok_or_else(|| rule_err(format!("unknown action {name:?} (not in the standard nomenclature)")))?,
            ),
        };
        let outcome = match spec.outcome.as_deref() {
            None => None,
            Some(o) => Some(vocabulary::outcome(o).ok_or_else(|| rule_err(format!("outcome {o:?} must be success, failure or unknown")))?),
        };
        let compile = |src: &str| if eager { Lazy::eager(src) } else { Ok(Lazy::new(src)) };
        let process = spec.process.as_deref().map(compile).transpose().map_err(|e| rule_err(format!("process regex: {e}")))?;
        let pattern = compile(&spec.pattern).map_err(|e| rule_err(format!("match regex: {e}")))?;
        if spec.examples.is_empty() {
            return Err(rule_err("has no [[rule.example]]: every rule carries at least one real line".into()));
        }
        out.push(Rule {
            id: spec.id,
            pack: pack.pack.name.clone(),
            process,
            pattern,
            action,
            outcome,
            entity: spec.entity,
            role: spec.role.unwrap_or(Role::Step),
            set: spec.set.into_iter().collect(),
            examples: spec.examples,
            digits: std::sync::OnceLock::new(),
        });
    }
    Ok(out)
}

impl RuleSet {
    /// The built-in packs.
    pub fn builtin() -> Self {
        let mut rules = Vec::new();
        let mut digest = crc32fast::Hasher::new();
        for (file, text) in BUILTIN {
            digest.update(text.as_bytes());
            match compile_pack(file, text, false) {
                Ok(r) => rules.extend(r),
                // The built-in packs are checked by the test suite; a broken one is a build defect.
                Err(e) => panic!("built-in rule pack {e}"),
            }
        }
        RuleSet {
            rules,
            sets: Mutex::default(),
            part_sets: Mutex::default(),
            oversized: std::sync::atomic::AtomicUsize::new(0),
            digest: digest.finalize(),
            analogy: std::sync::OnceLock::new(),
            entities: pack_entities(BUILTIN.iter().map(|(_, t)| *t)),
        }
    }

    /// The built-in packs without the rules of one product (ids `<product>.*`): how the generic
    /// layer names the lines of a product no pack knows (the leave-one-product-out measurement).
    pub fn builtin_without(product: &str) -> Self {
        let mut set = Self::builtin();
        let prefix = format!("{product}.");
        set.rules.retain(|r| !r.id.starts_with(&prefix));
        set
    }

    /// CRC-32 of the rule packs' texts: equal digests, equal rules.
    pub fn digest(&self) -> u32 {
        self.digest
    }

    /// The built-in packs, with the `*.toml` packs of `dir` (if any) added: a user rule with a
    /// built-in id replaces it where it stands; other user rules are tried first.
    pub fn load(dir: Option<&Path>) -> Result<Self, RuleError> {
        let mut set = Self::builtin();
        let Some(dir) = dir else { return Ok(set) };
        let dir_err = |e: std::io::Error| RuleError { file: dir.display().to_string(), message: e.to_string() };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(dir_err)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        let mut fresh = Vec::new();
        for path in files {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| RuleError { file: name.clone(), message: e.to_string() })?;
            set.add_pack(&name, &text, &mut fresh)?;
        }
        set.put_first(fresh);
        Ok(set)
    }

    /// The built-in packs with one more pack given as text (as if it were `name` in `--rules`):
    /// how `--rules` reads each file, for callers that hold the text (and the fuzzer).
    pub fn with_pack(name: &str, text: &str) -> Result<Self, RuleError> {
        let mut set = Self::builtin();
        let mut fresh = Vec::new();
        set.add_pack(name, text, &mut fresh)?;
        set.put_first(fresh);
        Ok(set)
    }

    /// Reads a user pack: a rule with a known id replaces it where it stands, the others go to
    /// `fresh` (tried before the built-in rules, see [`RuleSet::put_first`]).
    fn add_pack(&mut self, name: &str, text: &str, fresh: &mut Vec<Rule>) -> Result<(), RuleError> {
        let mut h = crc32fast::Hasher::new_with_initial(self.digest);
        h.update(text.as_bytes());
        self.digest = h.finalize();
        for e in pack_entities([text]) {
            if !self.entities.contains(&e) {
                self.entities.push(e);
            }
        }
        for rule in compile_pack(name, text, true)? {
            match self.rules.iter_mut().find(|r| r.id == rule.id) {
                Some(slot) => *slot = rule,
                None => fresh.push(rule),
            }
        }
        Ok(())
    }

    fn put_first(&mut self, mut fresh: Vec<Rule>) {
        fresh.append(&mut self.rules);
        self.rules = fresh;
    }

    /// The entity fields the packs declare, beyond the source address and the user that every
    /// model follows.
    pub fn entities(&self) -> &[String] {
        &self.entities
    }

    /// The analogy layer of these rules' examples (built on first use).
    pub fn analogy(&self) -> &super::analogy::Analogy {
        self.analogy.get_or_init(|| super::analogy::Analogy::new(&self.rules))
    }

    /// All rules in matching order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}

/// Trims quotes, brackets and the `::ffff:` of IPv4-mapped addresses' surroundings.
fn clean(v: &str) -> &str {
    v.trim().trim_matches(|c| matches!(c, '<' | '>' | '[' | ']' | '\'' | '"' | ',' | ';'))
}

/// Whether a value is an IP address (IPv4, IPv6, IPv4-mapped IPv6).
pub fn is_ip(v: &str) -> bool {
    v.parse::<std::net::IpAddr>().is_ok()
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} → {})", self.id, self.pack, self.action.map(|a| a.name).unwrap_or("entity only"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_packs_compile_with_unique_ids() {
        let set = RuleSet::builtin();
        assert!(set.rules().len() > 50, "{}", set.rules().len());
        for (i, r) in set.rules().iter().enumerate() {
            assert!(set.rules()[..i].iter().all(|o| o.id != r.id), "duplicate rule id {}", r.id);
            // Built-in regexes compile on first use: here they all must.
            assert!(Regex::new(&r.pattern.src).is_ok(), "{}: match regex", r.id);
            assert!(r.process.as_ref().is_none_or(|p| Regex::new(&p.src).is_ok()), "{}: process regex", r.id);
            // A digit-sensitive pattern's cover is digit-blind, and matches each of its examples.
            if let Some(cover) = r.digit_blind_cover() {
                assert!(!memo::tells_digits_apart(cover.as_str()), "{}: cover {}", r.id, cover.as_str());
                for ex in &r.examples {
                    assert!(cover.is_match(&ex.line) || !r.pattern.get().is_match(&ex.line), "{}: {}", r.id, ex.line);
                }
            }
        }
    }

    #[test]
    fn bad_packs_are_refused_with_file_and_reason() {
        let cases = [
            ("[pack]\nname='x'\n[[rule]]\nid='a'\nmatch='('\naction='session.end'\n[[rule.example]]\nline='x'", "match regex"),
            ("[pack]\nname='x'\n[[rule]]\nid='a'\nmatch='x'\naction='made.up'\n[[rule.example]]\nline='x'", "unknown action"),
            ("[pack]\nname='x'\n[[rule]]\nid='a'\nmatch='x'\naction='session.end'", "has no [[rule.example]]"),
            ("[pack]\nname='x'\n[[rule]]\nid='a'\nmatch='x'\naction='session.end'\nbogus=1\n[[rule.example]]\nline='x'", "unknown field"),
            ("[pack\n", "line 1"),
            ("[pack]\nname='x'\n[[rule]]\nid='generic'\nmatch='x'\naction='session.end'\n[[rule.example]]\nline='x'", "generic layer"),
        ];
        for (text, why) in cases {
            let e = compile_pack("u.toml", text, true).unwrap_err();
            assert!(e.to_string().starts_with("u.toml: ") && e.to_string().contains(why), "{e}");
        }
    }

    #[test]
    fn user_rules_override_by_id_and_go_first() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("mine.toml"),
            "[pack]\nname='mine'\n[[rule]]\nid='openssh.accepted'\nmatch='^Accepted'\naction='session.start'\n[[rule.example]]\nline='x'\n[[rule]]\nid='mine.new'\nmatch='^hello'\naction='session.end'\n[[rule.example]]\nline='x'\n",
        )
        .unwrap();
        let set = RuleSet::load(Some(dir.path())).unwrap();
        assert_eq!(set.rules()[0].id, "mine.new");
        let replaced = set.rules().iter().find(|r| r.id == "openssh.accepted").unwrap();
        assert_eq!((replaced.pack.as_str(), replaced.action.map(|a| a.name)), ("mine", Some("session.start")));
        assert_eq!(set.rules().len(), RuleSet::builtin().rules().len() + 1);
        assert!(RuleSet::load(Some(&dir.path().join("missing"))).is_err());
    }
}
