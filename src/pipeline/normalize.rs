//! `logsieve normalize`: records → events in the standard nomenclature, as ECS JSON lines on
//! stdout or in a directory (`events.jsonl`, `events.parquet`).

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use super::{finish, for_each_event, Outcome};
use crate::cli::{InputArgs, NormalizeArgs};
use crate::error::{Error, Result};
use crate::normalize::rules::RuleSet;
use crate::normalize::Normalizer;
use crate::output::ecs::EcsWriter;
use crate::output::events::EventWriter;
use crate::read::RunStats;

/// `logsieve normalize`: one ECS JSON object per record on stdout, or the events in a directory
/// (`--output FORMAT DIR`).
pub fn normalize(args: &NormalizeArgs) -> Result<Outcome> {
    let run = match args.output.as_deref() {
        None => {
            let stdout = io::stdout();
            normalize_into(&args.input, args.model.as_deref(), stdout.lock(), &Error::Stdout)?
        }
        Some([format, dir]) if format == "json" => {
            let dir = Path::new(dir);
            std::fs::create_dir_all(dir).map_err(|source| Error::Write { path: dir.display().to_string(), source })?;
            let path = dir.join("events.jsonl");
            let name = path.display().to_string();
            let file = std::fs::File::create(&path).map_err(|source| Error::Write { path: name.clone(), source })?;
            normalize_into(&args.input, args.model.as_deref(), file, &|source| Error::Write { path: name.clone(), source })?
        }
        Some([format, dir]) if format == "parquet" => normalize_parquet(&args.input, args.model.as_deref(), Path::new(dir))?,
        Some(other) => {
            return Err(Error::Usage(format!("--output takes `json DIR` or `parquet DIR`, not `{}`", other.join(" "))));
        }
    };
    finish(&args.input, &run)
}

/// Writes the inputs' events to `dir/events.parquet`.
fn normalize_parquet(args: &InputArgs, model: Option<&Path>, dir: &Path) -> Result<RunStats> {
    let normalizer = normalizer_for(args, model)?;
    let mut out = EventWriter::create(dir)?;
    let (run, _) = for_each_event(args, normalizer, |rec, event, origin| out.push(rec, Some(&event), origin))?;
    out.finish()?;
    Ok(run)
}

/// Writes the inputs' events as ECS JSON lines to `out`; `fail` names a write error.
pub(super) fn normalize_into(
    args: &InputArgs,
    model: Option<&Path>,
    out: impl Write,
    fail: &dyn Fn(io::Error) -> Error,
) -> Result<RunStats> {
    let normalizer = normalizer_for(args, model)?;
    let mut out = BufWriter::with_capacity(256 * 1024, out);
    let mut buf = Vec::with_capacity(4096);
    let mut ecs = EcsWriter::default();
    let (run, _) = for_each_event(args, normalizer, |rec, event, origin| {
        buf.clear();
        ecs.write(&mut buf, rec, Some(&event), origin);
        buf.push(b'\n');
        out.write_all(&buf).map_err(fail)
    })?;
    out.flush().map_err(fail)?;
    Ok(run)
}

/// The normalizer for `normalize`: with a model, its miner goes on from the model's.
fn normalizer_for(args: &InputArgs, model: Option<&Path>) -> Result<Normalizer> {
    let rules = Arc::new(RuleSet::load(args.rules.as_deref())?);
    Ok(match model {
        None => Normalizer::new(rules),
        Some(path) => Normalizer::with_miner(rules, crate::model::file::load(path)?.miner.unwrap_or_default()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::ecs::write_ecs;
    use crate::parse::Format;
    use crate::pipeline::for_each_record;

    fn inputs(files: &[&str]) -> InputArgs {
        let root = env!("CARGO_MANIFEST_DIR");
        let inputs = files.iter().map(|f| format!("{root}/datasets/loghub/{f}")).collect();
        InputArgs { inputs, format: Format::Auto, year: Some(2024), quiet: true, stats: None, rules: None }
    }

    /// What `normalize` wrote before records were classified on a thread of their own: one
    /// normalizer, record by record.
    fn normalized_on_one_thread(args: &InputArgs) -> Vec<u8> {
        let mut normalizer = Normalizer::new(Arc::new(RuleSet::load(None).unwrap()));
        let mut out = Vec::new();
        for_each_record(args, |rec, origin| {
            let event = normalizer.normalize(rec);
            write_ecs(&mut out, rec, Some(&event), origin);
            out.push(b'\n');
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn events_classified_on_threads_come_out_as_on_one_thread() {
        // Several batches per input, and two inputs, so the file names change mid-stream.
        let args = inputs(&["OpenSSH_2k.log", "HDFS_2k.log", "Linux_2k.log"]);
        let mut out = Vec::new();
        let run = normalize_into(&args, None, &mut out, &Error::Stdout).unwrap();
        assert_eq!(run.total.read, 6000);
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 6000);
        assert!(out == normalized_on_one_thread(&args), "the threaded output differs");
    }

    #[test]
    fn an_output_error_stops_the_threads_and_is_the_one_reported() {
        struct Failing(usize);
        impl Write for Failing {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0 += 1;
                if self.0 > 3 {
                    return Err(io::Error::other("disk full"));
                }
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let args = inputs(&["OpenSSH_2k.log", "Linux_2k.log", "HDFS_2k.log", "BGL_2k.log"]);
        let err = normalize_into(&args, None, Failing(0), &Error::Stdout).unwrap_err();
        assert!(matches!(err, Error::Stdout(ref e) if e.to_string() == "disk full"), "{err}");
    }
}
