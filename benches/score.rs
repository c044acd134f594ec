//! Scoring throughput: a model trained on the bundled HDFS normal sessions (outside the timed
//! loop) scores the held-out normal and anomalous sessions; throughput is in events (states).
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use logsieve::model::components::Featured;
use logsieve::model::{Model, Scorer, TrainOptions};
use logsieve::session::States;

fn read(name: &str, states: &mut States) -> Vec<Featured> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/hdfs/sequences").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter_map(|l| l.split_once(','))
        .map(|(key, events)| Featured {
            key: key.to_owned(),
            states: events.split(' ').map(|e| states.intern(e)).collect(),
            params: Vec::new(),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut states = States::default();
    let train = logsieve::model::shard::each_once(read("hdfs_normal_train.csv", &mut states));
    let model = Model::train(&train, &states, TrainOptions::default().check().expect("default options")).expect("trains");
    let mut test = read("hdfs_normal_test.csv", &mut states);
    test.extend(read("hdfs_abnormal_head1500.csv", &mut states));
    let events: u64 = test.iter().map(|s| s.states.len() as u64).sum();
    let matrix = model.vectors.neighbour_matrix();
    let mut group = c.benchmark_group("hdfs-sequences");
    group.throughput(Throughput::Elements(events));
    group.bench_function("score", |b| {
        b.iter(|| {
            // A fresh scorer each pass: its nearest-neighbour memo starts empty, as in one run.
            let scorer = Scorer::new(&model, &matrix);
            let mut flagged = 0usize;
            for s in &test {
                flagged += usize::from(scorer.score(&s.states, &s.params, &states).anomalous);
            }
            black_box(flagged)
        })
    });
    group.sample_size(10);
    group.bench_function("train", |b| {
        b.iter(|| black_box(Model::train(&train, &states, TrainOptions::default().check().expect("default options")).is_ok()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
