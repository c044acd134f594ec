//! `logsieve templates`: the message templates the miner finds.

use std::io::{self, BufWriter, Write};

use super::{finish, for_each_record, Outcome};
use crate::cli::InputArgs;
use crate::error::{Error, Result};
use crate::normalize::miner::Miner;
use crate::record::RecordKind;

/// `logsieve templates`: the templates the miner finds, most frequent first, with an example and
/// the template's name (the state a message of it no rule names gets is `<process>:<name>`).
pub fn templates(args: &InputArgs) -> Result<Outcome> {
    let mut miner = Miner::default();
    let mut examples: std::collections::HashMap<u32, String> = std::collections::HashMap::new();
    let run = for_each_record(args, |rec, _| {
        if rec.kind != RecordKind::Sequence {
            let id = miner.add(&rec.message).id;
            examples.entry(id).or_insert_with(|| rec.message.chars().take(200).collect());
        }
        Ok(())
    })?;
    let mut rows = miner.templates();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.id.cmp(&b.0.id)));
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let write = |out: &mut BufWriter<_>, text: String| out.write_all(text.as_bytes()).map_err(Error::Stdout);
    write(&mut out, "id\tcount\ttemplate\texample\tname\n".into())?;
    for (t, count) in rows {
        let example = examples.get(&t.id).map(String::as_str).unwrap_or("").replace(['\t', '\n'], " ");
        write(&mut out, format!("{}\t{count}\t{}\t{example}\t{}\n", t.id, t.template, t.name))?;
    }
    out.flush().map_err(Error::Stdout)?;
    if !args.quiet {
        eprintln!("logsieve: {} templates ({} evicted)", miner.len(), miner.evicted());
    }
    finish(args, &run)
}
