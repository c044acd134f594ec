//! `logsieve eval`: a run's verdicts against labels.

use std::path::Path;

use super::Outcome;
use crate::cli::EvalArgs;
use crate::error::{Error, Result};
use crate::eval;

/// `logsieve eval`.
pub fn evaluate(args: &EvalArgs) -> Result<Outcome> {
    let scores = eval::read_scores(&args.scores)?;
    let labels = eval::read_labels(&args.labels)?;
    let report = eval::evaluate(&scores, &labels);
    if args.json {
        outln!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        let r = &report;
        outln!(
            "sessions {} (scored {}, missing {}; {} scored sessions unlabelled)",
            r.sessions,
            r.sessions - r.missing,
            r.missing,
            r.unlabelled
        );
        outln!("tp {}  fp {}  fn {}  tn {}", r.tp, r.fp, r.fn_, r.tn);
        outln!("precision {:.4}  recall {:.4}  f1 {:.4}  fpr {:.5}", r.precision, r.recall, r.f1, r.fpr);
        outln!("average precision (PR curve over the score) {:.4}", r.average_precision);
    }
    let plot = args.plot.clone().unwrap_or_else(|| args.scores.parent().unwrap_or(Path::new(".")).join("pr_curve.svg"));
    let svg =
        eval::pr_curve_svg(&report).map_err(|e| Error::Write { path: plot.display().to_string(), source: std::io::Error::other(e) })?;
    std::fs::write(&plot, svg).map_err(|source| Error::Write { path: plot.display().to_string(), source })?;
    if !args.json {
        outln!("precision-recall curve: {}", plot.display());
    }
    Ok(Outcome::Ok)
}
