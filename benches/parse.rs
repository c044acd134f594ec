//! Parse and normalize throughput: bundled loghub samples read into memory outside the timed loop, then
//! parsed (and, separately, parsed and written as ECS JSON, parsed, normalized and written, and
//! classified by the rule and generic layers alone) line by line.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::sync::Arc;

use logsieve::normalize::rules::RuleSet;
use logsieve::normalize::{Normalizer, Origin};
use logsieve::output::ecs::write_ecs;
use logsieve::parse::{Format, LineParser, YearAnchor};

fn lines(name: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/loghub").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(|l| l.trim_end_matches('\r').to_owned()).collect()
}

fn bench(c: &mut Criterion) {
    for (system, format) in [("OpenSSH", "syslog"), ("Linux", "syslog"), ("OpenSSH", "auto"), ("HDFS", "auto"), ("BGL", "auto")] {
        let input = lines(&format!("{system}_2k.log"));
        let format: Format = format.parse().expect("known format");
        let mut group = c.benchmark_group(format!("{system}/{format}"));
        group.throughput(Throughput::Elements(input.len() as u64));
        group.bench_function("parse", |b| {
            b.iter(|| {
                let mut p = LineParser::new(&format, YearAnchor::Given(2024));
                for (i, l) in input.iter().enumerate() {
                    let _ = black_box(p.parse(l, i as u64 + 1));
                }
            })
        });
        group.bench_function("parse+ecs", |b| {
            let mut out = Vec::with_capacity(1 << 20);
            b.iter(|| {
                out.clear();
                let mut p = LineParser::new(&format, YearAnchor::Given(2024));
                for (i, l) in input.iter().enumerate() {
                    if let Ok(rec) = p.parse(l, i as u64 + 1) {
                        write_ecs(&mut out, &rec, None, &Origin { file: "bench.log", line: i as u64 + 1, original: l });
                        out.push(b'\n');
                    }
                }
                black_box(out.len())
            })
        });
        group.bench_function("parse+normalize+ecs", |b| {
            let rules = Arc::new(RuleSet::builtin());
            let mut out = Vec::with_capacity(1 << 20);
            b.iter(|| {
                out.clear();
                let mut p = LineParser::new(&format, YearAnchor::Given(2024));
                let mut n = Normalizer::new(Arc::clone(&rules));
                for (i, l) in input.iter().enumerate() {
                    if let Ok(rec) = p.parse(l, i as u64 + 1) {
                        let ev = n.normalize(&rec);
                        write_ecs(&mut out, &rec, Some(&ev), &Origin { file: "bench.log", line: i as u64 + 1, original: l });
                        out.push(b'\n');
                    }
                }
                black_box(out.len())
            })
        });
        // The rule and generic layers alone (the `classify` thread of the pipeline), on records
        // parsed outside the timed loop.
        let records: Vec<_> = {
            let mut p = LineParser::new(&format, YearAnchor::Given(2024));
            input.iter().enumerate().filter_map(|(i, l)| p.parse(l, i as u64 + 1).ok()).collect()
        };
        group.bench_function("classify", |b| {
            let mut n = Normalizer::new(Arc::new(RuleSet::builtin()));
            b.iter(|| {
                for rec in &records {
                    black_box(n.classify(rec));
                }
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
