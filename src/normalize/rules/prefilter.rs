//! Matching a record against the rules: the rules that may match its program, and one
//! `RegexSet` over their patterns so that a message is scanned once to learn which rules match
//! (the prefilter), then the first matching rule's captures.

use crate::fasthash::HashMap;
use std::sync::Arc;

use super::memo::{Decision, Memo};
use super::{clean, is_ip, Extracted, Rule, RuleSet};
use crate::record::Record;

impl RuleSet {
    /// The rules that may match a program (`None`: a record without one may match any rule).
    /// A record without a program tries the rules for any program before the product rules.
    pub fn candidates(&self, app: Option<&str>) -> Vec<u32> {
        let all = 0..self.rules.len() as u32;
        match app {
            Some(app) => all.filter(|&i| self.rules[i as usize].process.as_ref().is_none_or(|p| p.get().is_match(app))).collect(),
            None => {
                let (any, specific): (Vec<u32>, Vec<u32>) = all.partition(|&i| self.rules[i as usize].process.is_none());
                any.into_iter().chain(specific).collect()
            }
        }
    }

    /// The candidates for a program with one `RegexSet` over their patterns, so a message is
    /// scanned once to learn which rules match.
    pub fn candidate_set(&self, app: Option<&str>) -> Candidates {
        self.candidate_set_of(self.candidates(app))
    }

    /// The candidate set for a subset of rules, built once and shared.
    fn shared_set(&self, ids: Vec<u32>) -> Arc<Candidates> {
        // A poisoned lock only means another thread panicked while inserting: the map is intact.
        let mut sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(sets.entry(ids.clone()).or_insert_with(|| Arc::new(self.candidate_set_of(ids))))
    }

    fn candidate_set_of(&self, ids: Vec<u32>) -> Candidates {
        self.candidate_set_within(ids, SET_SIZE_LIMIT)
    }

    /// The candidates in two parts, each with its set: the rules for any program (the same for
    /// every program, so their set is compiled once and shared) and the program's own rules.
    /// Compiling one set per program over both made every program's set hold the rules for any
    /// program again: memory grew with each rule and each kind of program in a log.
    fn candidate_set_within(&self, ids: Vec<u32>, size_limit: usize) -> Candidates {
        let mut parts = [Part::default(), Part::default()];
        for (at, &i) in ids.iter().enumerate() {
            parts[usize::from(self.rules[i as usize].process.is_some())].at.push(at as u32);
        }
        for part in &mut parts {
            let part_ids: Vec<u32> = part.at.iter().map(|&at| ids[at as usize]).collect();
            part.set = self.part_set(&part_ids, size_limit);
        }
        let sensitive = (0..ids.len() as u32).filter(|&at| self.rules[ids[at as usize] as usize].tells_digits_apart()).collect();
        // Unique among the sets of the process, so the memo tells sets apart.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Candidates { ids, parts, sensitive, id }
    }

    /// The set over some rules' patterns, compiled once per subset. `None`: no rules, or a set too
    /// big to compile (many rules given with `--rules`), which is no error: its rules are then
    /// tried one by one, in order.
    fn part_set(&self, ids: &[u32], size_limit: usize) -> Option<Arc<regex::RegexSet>> {
        if ids.is_empty() {
            return None;
        }
        let build = || {
            let set = regex::RegexSetBuilder::new(ids.iter().map(|&i| without_word_boundaries(&self.rules[i as usize].pattern.src)))
                .size_limit(size_limit)
                .dfa_size_limit(SET_DFA_CACHE)
                .build()
                .ok()
                .map(Arc::new);
            if set.is_none() {
                self.oversized.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            set
        };
        if size_limit != SET_SIZE_LIMIT {
            return build();
        }
        // A poisoned lock only means another thread panicked while inserting: the map is intact.
        let mut sets = self.part_sets.lock().unwrap_or_else(|e| e.into_inner());
        sets.entry(ids.to_vec()).or_insert_with(build).clone()
    }

    /// How many rule subsets were too big to compile as one set (their rules are tried one by
    /// one, which is slower; the commands say so).
    pub fn oversized_sets(&self) -> usize {
        self.oversized.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The first of `candidates` whose pattern matches the record's message, with its fields.
    pub fn find(&self, candidates: &Candidates, rec: &Record) -> Option<(&Rule, Extracted)> {
        let (at, caps) = self.first_match(candidates, &rec.message)?;
        let rule = &self.rules[candidates.ids[at as usize] as usize];
        Some((rule, self.captured(rule, &caps)))
    }

    /// [`RuleSet::find`], with the decisions for message shapes remembered in `memo` (see
    /// [`Memo`]): a line whose shape was decided before runs only the candidates that
    /// tell digits apart, and takes its fields at the spans remembered. Same result as `find`.
    pub fn find_with(&self, candidates: &Candidates, rec: &Record, memo: &mut Memo) -> Option<(&Rule, Extracted)> {
        let message = rec.message.as_str();
        if !memo.take_shape(message) {
            return self.find(candidates, rec);
        }
        let set = candidates.id;
        let rule_at = |at: u32| &self.rules[candidates.ids[at as usize] as usize];
        if let Some(decision) = memo.get(set) {
            // The candidates that tell digits apart and may match the shape, before the rule.
            for &at in decision.sensitive.iter() {
                let rule = rule_at(at);
                let pattern = rule.pattern.get();
                // Most lines match none of them: a plain search first (no captures to allocate).
                if let Some(caps) = pattern.is_match(message).then(|| pattern.captures(message)).flatten() {
                    return Some((rule, self.captured(rule, &caps)));
                }
            }
            let (at, spans) = decision.blind.as_ref()?;
            let rule = rule_at(*at);
            let group = |i: usize| spans.get(i).copied().flatten().and_then(|(a, b)| message.get(a as usize..b as usize));
            return Some((rule, self.fields(rule, group)));
        }
        let found = self.first_match(candidates, message);
        // A rule that tells digits apart decided this line only: nothing to remember.
        if found.as_ref().is_none_or(|(at, _)| candidates.sensitive.binary_search(at).is_err()) {
            let blind_at = found.as_ref().map_or(u32::MAX, |(at, _)| *at);
            let shape = memo.shape();
            let sensitive = candidates
                .sensitive
                .iter()
                .copied()
                .take_while(|&at| at < blind_at)
                .filter(|&at| rule_at(at).digit_blind_cover().is_none_or(|cover| cover.is_match(shape)))
                .collect();
            let blind =
                found.as_ref().map(|(at, caps)| (*at, caps.iter().map(|m| m.map(|m| (m.start() as u32, m.end() as u32))).collect()));
            memo.put(set, Decision { blind, sensitive });
        }
        let (at, caps) = found?;
        let rule = rule_at(at);
        Some((rule, self.captured(rule, &caps)))
    }

    /// The position among `candidates` of the first rule whose pattern matches `message`, with its
    /// captures.
    fn first_match<'m>(&self, candidates: &Candidates, message: &'m str) -> Option<(u32, regex::Captures<'m>)> {
        // The set matches a superset (its patterns have no word boundaries): the first rule whose
        // own pattern matches too is the one.
        // The positions (in candidate order) of the rules either part's set says may match; a
        // part without a set offers all its rules.
        let mut maybe: Vec<u32> = Vec::new();
        for part in &candidates.parts {
            match &part.set {
                Some(set) => maybe.extend(set.matches(message).into_iter().map(|k| part.at[k])),
                None => maybe.extend_from_slice(&part.at),
            }
        }
        maybe.sort_unstable();
        maybe.into_iter().find_map(|at| {
            let rule = &self.rules[candidates.ids[at as usize] as usize];
            rule.pattern.get().captures(message).map(|caps| (at, caps))
        })
    }

    /// A matched rule's fields from its captures.
    fn captured(&self, rule: &Rule, caps: &regex::Captures<'_>) -> Extracted {
        self.fields(rule, |i| caps.get(i).map(|m| m.as_str()))
    }

    /// A matched rule's fields: its named groups' text (`group(i)`, by group index), cleaned,
    /// then its constant fields.
    fn fields<'m>(&self, rule: &Rule, group: impl Fn(usize) -> Option<&'m str>) -> Extracted {
        let mut fields: Extracted = Vec::new();
        for (i, name) in rule.pattern.get().capture_names().enumerate() {
            let (Some(name), Some(text)) = (name, group(i)) else { continue };
            let value = clean(text);
            if value.is_empty() {
                continue;
            }
            // `user2`, `source_ip2`: alternatives of one field in one regex.
            let name = match name.trim_end_matches(|c: char| c.is_ascii_digit()) {
                "source" if is_ip(value) => "source_ip",
                "source" => "source_domain",
                n => n,
            };
            if !fields.iter().any(|(k, _)| k == name) {
                fields.push((name.to_owned(), value.to_owned()));
            }
        }
        for (k, v) in &rule.set {
            if !fields.iter().any(|(f, _)| f == k) {
                fields.push((k.clone(), v.clone()));
            }
        }
        fields
    }
}

/// A pattern with its word-boundary assertions (`\b`, `\B`, `\b{start}`, ...) left out, for the
/// candidate sets. Without an assertion a pattern matches at least what it matched before, so the
/// set still finds every rule that matches. With Unicode word boundaries in it, the set's lazy
/// DFA gives up on any non-ASCII byte and the set is run by the PikeVM: 100k sshd lines naming
/// the user `josé` took 7.8 s instead of 0.5 s.
fn without_word_boundaries(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut chars = src.chars().peekable();
    let mut class = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push(c);
                    break;
                };
                if class == 0 && (next == 'b' || next == 'B') {
                    if chars.peek() == Some(&'{') {
                        // `\b{start}`, `\b{end}`, `\b{start-half}`, `\b{end-half}`.
                        for d in chars.by_ref() {
                            if d == '}' {
                                break;
                            }
                        }
                    }
                    continue;
                }
                out.push(c);
                out.push(next);
            }
            '[' => {
                // `[[:alpha:]]` and nested classes: count depth; `[]...]` and `[^]...]` start
                // with a literal `]`.
                class += 1;
                out.push(c);
                if chars.peek() == Some(&'^') {
                    out.extend(chars.next());
                }
                if chars.peek() == Some(&']') {
                    out.extend(chars.next());
                }
            }
            ']' if class > 0 => {
                class -= 1;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Cache of the lazy DFA behind each candidate set. sshd's set (about 60 patterns, scanned for
/// every match at once) outgrew the default 2 MiB on real lines and spent a third of the
/// classifying thread rebuilding states it had just thrown away.
const SET_DFA_CACHE: usize = 32 << 20;

/// The compiled size allowed to a candidate set: the rules of a process that has no name are
/// candidates all at once, and Unicode classes (`\w{8,16}`) make them large (the default is
/// 10 MiB). Beyond it the patterns are tried one by one (see [`RuleSet::find`]).
const SET_SIZE_LIMIT: usize = 64 << 20;

/// The rules that may match one program, in matching order, in two parts with a set over each
/// part's patterns: the rules for any program and the program's own.
#[derive(Debug, Clone)]
pub struct Candidates {
    ids: Vec<u32>,
    parts: [Part; 2],
    /// The positions of the candidates whose patterns tell digits apart (see [`Memo`]),
    /// ascending.
    sensitive: Vec<u32>,
    /// Tells this set from every other one made in the process (the memo's key).
    id: u64,
}

/// Some of the candidates: their positions among the candidates, and the set over their
/// patterns (`None` when there are none or it was too big to compile).
#[derive(Debug, Clone, Default)]
struct Part {
    at: Vec<u32>,
    set: Option<Arc<regex::RegexSet>>,
}

/// Each normalizer's map from program to its candidate rules. The sets themselves are built once
/// per rule subset and shared through the [`RuleSet`]: most programs select the same rules.
#[derive(Debug, Default)]
pub struct CandidateCache {
    by_app: HashMap<String, Arc<Candidates>>,
    any: Option<Arc<Candidates>>,
}

impl CandidateCache {
    /// Cap on distinct program names remembered; past it the subset is looked up per record.
    const MAX: usize = 4096;

    /// The candidate rules for a record's program.
    pub fn get(&mut self, rules: &RuleSet, app: Option<&str>) -> Arc<Candidates> {
        let Some(app) = app else {
            return Arc::clone(self.any.get_or_insert_with(|| rules.shared_set(rules.candidates(None))));
        };
        if let Some(c) = self.by_app.get(app) {
            return Arc::clone(c);
        }
        let set = rules.shared_set(rules.candidates(Some(app)));
        if self.by_app.len() < Self::MAX {
            self.by_app.insert(app.to_owned(), Arc::clone(&set));
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    #[test]
    fn sets_leave_out_word_boundaries_only() {
        assert_eq!(without_word_boundaries(r"\bfailed\b for (?P<user>\S+)"), r"failed for (?P<user>\S+)");
        assert_eq!(without_word_boundaries(r"a\Bb\b{start}c\b{end-half}d"), "abcd");
        assert_eq!(without_word_boundaries(r"\\b[\b\]]x\\"), r"\\b[\b\]]x\\");
        assert_eq!(without_word_boundaries(r"[]\b]\b[^]a]\b[[:alpha:]\b]"), r"[]\b][^]a][[:alpha:]\b]");
        // Every built-in pattern still compiles without them, and matches at least as much.
        for r in RuleSet::builtin().rules() {
            let loose = without_word_boundaries(&r.pattern.src);
            assert!(Regex::new(&loose).is_ok(), "{}: {loose}", r.id);
            for ex in &r.examples {
                for line in ex.line.lines() {
                    if Regex::new(&r.pattern.src).unwrap().is_match(line) {
                        assert!(Regex::new(&loose).unwrap().is_match(line), "{}: {line}", r.id);
                    }
                }
            }
        }
    }

    #[test]
    fn a_set_too_big_to_compile_tries_each_rule_in_turn() {
        let rules = RuleSet::builtin();
        let ids = rules.candidates(None);
        let (whole, alone) = (rules.candidate_set_of(ids.clone()), rules.candidate_set_within(ids, 1 << 10));
        assert!(whole.parts.iter().all(|p| p.set.is_some()) && alone.parts.iter().all(|p| p.set.is_none()));
        assert_eq!(rules.oversized_sets(), 2, "both parts counted, so the commands can say so");
        let text = "Mar  1 10:00:00 h sshd[7]: Failed password for invalid user zed from 192.0.2.9 port 22 ssh2\n\
Mar  1 10:00:00 h sendmail[8]: 24A1B2C3D4: 24A1B2C3D5: DSN: User unknown\n\
Mar  1 10:00:00 h x[9]: nothing a rule knows";
        let mut parser = crate::parse::LineParser::new(&crate::parse::Format::Auto, crate::parse::YearAnchor::Given(2024));
        for (i, line) in text.lines().enumerate() {
            let mut rec = parser.parse(line, i as u64 + 1).unwrap();
            rec.app = None;
            let found = |c: &Candidates| rules.find(c, &rec).map(|(r, f)| (r.id.clone(), f));
            assert_eq!(found(&whole), found(&alone), "{line}");
            let want = ["openssh.failed.invalid-user-last-from", "sendmail.dsn"].get(i).copied();
            assert_eq!(found(&alone).map(|(id, _)| id), want.map(str::to_owned), "{line}");
        }
    }

    #[test]
    fn non_ascii_messages_are_classified_as_ascii_ones() {
        // The set has no word boundaries, so a non-ASCII user name no longer sends it to the
        // slow engine; the rule and fields are the same as for an ASCII name.
        let set = Arc::new(RuleSet::builtin());
        let classify = |user: &str| {
            let text = format!("Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for invalid user {user} from 10.1.2.3 port 22 ssh2");
            let events = crate::normalize::normalize_text(&text, &mut crate::normalize::Normalizer::new(Arc::clone(&set)));
            let ev = events[0].0.clone();
            (ev.rule, ev.action.map(|a| a.name), ev.fields)
        };
        let (rule, action, fields) = classify("jose");
        assert_eq!(action, Some("authentication.user.invalid"), "{rule:?} {fields:?}");
        assert!(fields.contains(&("source_ip".to_owned(), "10.1.2.3".to_owned())), "{fields:?}");
        for user in ["josé", "用户"] {
            let named = |f: &[(String, String)]| f.iter().map(|(k, v)| (k.clone(), v.replace("jose", user))).collect::<Vec<_>>();
            assert_eq!(classify(user), (rule.clone(), action, named(&fields)), "{user}");
        }
        // A rule whose pattern needs its word boundary is still refused where it does not hold.
        let pack = r#"
[pack]
name = "t"
description = "test"

[[rule]]
id = "t.word"
process = '^t$'
match = '\bfail\b'
action = "authentication.login.failure"
[[rule.example]]
line = "Jan  1 00:00:00 h t[1]: fail here"
"#;
        let set = Arc::new(RuleSet::with_pack("t.toml", pack).unwrap());
        let mut n = crate::normalize::Normalizer::new(Arc::clone(&set));
        let hit = crate::normalize::normalize_text("Jan  1 00:00:00 h t[1]: login fail here", &mut n);
        assert_eq!(hit[0].0.rule_id(), Some("t.word"));
        let miss = crate::normalize::normalize_text("Jan  1 00:00:00 h t[1]: éfailé here", &mut n);
        assert_ne!(miss[0].0.rule_id(), Some("t.word"));
    }
}
