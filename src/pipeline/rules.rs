//! `logsieve rules test` and `logsieve rules list`.

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use super::Outcome;
use crate::error::{Error, Result};
use crate::normalize::example_problem;
use crate::normalize::rules::RuleSet;

/// `logsieve rules test [DIR]`: every rule's example lines must give the rule's event and fields.
pub fn rules_test(dir: Option<&Path>) -> Result<Outcome> {
    let set = Arc::new(RuleSet::load(dir)?);
    let mut failures = 0usize;
    let mut checked = 0usize;
    // Every example gets a parser of its own; they share the headers compiled for the first ones.
    let _headers = crate::parse::auto::builtins();
    for rule in set.rules() {
        for ex in &rule.examples {
            checked += 1;
            let problem = example_problem(rule, ex, &set);
            if let Some(p) = problem {
                failures += 1;
                outln!("FAIL {} ({}): {p}\n     line: {}", rule.id, rule.pack, ex.line.replace('\n', "\\n"));
            }
        }
    }
    outln!("{} rules, {checked} examples, {failures} failed", set.rules().len());
    Ok(if failures == 0 { Outcome::Ok } else { Outcome::InputError })
}

/// `logsieve rules list`: the rules in matching order.
pub fn rules_list(dir: Option<&Path>) -> Result<Outcome> {
    let set = RuleSet::load(dir)?;
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for rule in set.rules() {
        writeln!(out, "{}\t{}\t{}", rule.id, rule.pack, rule.action.map(|a| a.name).unwrap_or("(entity only)")).map_err(Error::Stdout)?;
    }
    out.flush().map_err(Error::Stdout)?;
    Ok(Outcome::Ok)
}
