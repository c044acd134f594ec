"""logsieve on Apache Spark: train on clean logs and score new ones across a cluster.

The stages, each a Spark stage of tasks that run the logsieve binary:

1. normalize: every input file becomes events Parquet (`logsieve normalize --output parquet`).
2. partition: Spark reads the events and repartitions them by entity key (the rule packs'
   `logsieve.session_key`, or `--session-key`), keeping each entity's events in log order.
3. train: one shard per partition (`logsieve train --shard -f events`); the driver merges them
   (`logsieve merge`) into one model.
4. score: the new files are normalized with the merged model, partitioned the same way, and every
   partition's sessions are scored on its own (`logsieve score -f events --only sessions`); the
   sources and users, which span partitions, are followed over all the events in one task
   (`--only entities`).
5. collect: the partitions' scores.jsonl become one, with a run.json that accounts for every raw
   input line, and `logsieve report` draws the report.

The template miner names messages in the order it meets them, so the training files are
normalized in one task unless `--templates-from MODEL` gives a model whose miner already knows the
templates (last period's model): then every file is normalized in a task of its own. Scoring is
always one task per file, from the merged model's miner.

Usage (local mode; see README.md for a cluster):

    spark-submit --master 'local[2]' logsieve_job.py --logsieve /path/to/logsieve \\
        --train clean/*.log --score new/*.log --work /shared/run --partitions 8
"""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def run(cmd):
    """Runs one logsieve command; a failure stops the job with logsieve's own message."""
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr}")
    return done.stderr


def col(name):
    """A column whose name holds dots (`logsieve.file`), not a struct field."""
    return F.col(f"`{name}`")


def normalize(sc, exe, groups, out_dir, model, fmt):
    """Normalizes each group of files in a task of its own; returns (events.parquet, stats.json)."""
    jobs = [(i, files) for i, files in enumerate(groups)]

    def task(job):
        i, files = job
        d = os.path.join(out_dir, f"{i:05d}")
        cmd = [exe, "normalize", "-q", *fmt, *files, "--output", "parquet", d, "--stats", d + ".stats.json"]
        if model:
            cmd += ["--model", model]
        run(cmd)
        return os.path.join(d, "events.parquet"), d + ".stats.json"

    return sc.parallelize(jobs, len(jobs)).map(task).collect()


def partition(spark, events, order, session_key, partitions, out_dir):
    """Repartitions events by entity key, each partition in log order (file, then line); returns
    the partition files. Events without an entity key stay with their file: logsieve cuts them
    into windows per file. With `session_key`, an event goes by the first key the regex finds."""
    df = spark.read.parquet(*events)
    if session_key:
        group = 1 if re.compile(session_key).groups > 0 else 0
        key = F.regexp_extract(col("event.original"), session_key, group)
    else:
        # A pre-cut sequence (`-f sequences`) is a whole session: it goes by its id.
        key = F.coalesce(col("logsieve.session_key"), col("logsieve.session"), F.concat(F.lit("\u0000file:"), col("logsieve.file")))
    rank = F.create_map(*[F.lit(x) for name, i in order.items() for x in (name, i)])
    # Spark reads Parquet's unsigned integers as decimals or longs; longs read back everywhere.
    for name in ("logsieve.line", "logsieve.template_id", "process.pid"):
        if name in df.columns:
            df = df.withColumn(name, col(name).cast("long"))
    (
        df.withColumn("__rank", rank[col("logsieve.file")])
        .repartition(partitions, key)
        .sortWithinPartitions("__rank", col("logsieve.line"))
        .drop("__rank")
        .write.mode("overwrite")
        .parquet(out_dir)
    )
    return sorted(glob.glob(os.path.join(out_dir, "part-*.parquet")))


def each_partition(sc, parts, task):
    """Runs `task(i, path)` for every partition file, one Spark task each."""
    return sc.parallelize(list(enumerate(parts)), max(1, len(parts))).map(lambda p: task(*p)).collect()


def add(a, b):
    """Adds the numbers of two run.json sections, recursively."""
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = out.get(k, 0) + v
        elif isinstance(v, dict):
            out[k] = add(out.get(k, {}), v)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--logsieve", required=True, help="the logsieve binary, at this path on every worker")
    ap.add_argument("--train", nargs="+", required=True, help="clean log files (shared storage)")
    ap.add_argument("--score", nargs="+", required=True, help="new log files to score")
    ap.add_argument("--work", required=True, help="a directory on storage every worker sees")
    ap.add_argument("--partitions", type=int, default=8, help="entity partitions (shards) [8]")
    ap.add_argument("--session-key", help="regex whose first group is the session key, as for logsieve")
    ap.add_argument("--format", default="auto", help="input format, as logsieve -f [auto]")
    ap.add_argument("--config", help="training options (TOML), as for logsieve train --config")
    ap.add_argument("--overwrite", action="store_true", help="empty --work first if it holds anything")
    ap.add_argument(
        "--train-arg",
        action="append",
        default=[],
        help="one more argument for every `logsieve train --shard` (repeat: --train-arg=--templates --train-arg=FILE)",
    )
    ap.add_argument("--templates-from", help="a model whose template miner the training files continue")
    ap.add_argument(
        "--score-in-one-normalizer",
        action="store_true",
        help="normalize the new files in one task, so templates the model does not know are named as one process names them",
    )
    args = ap.parse_args(argv)

    exe = os.path.abspath(args.logsieve)
    work = os.path.abspath(args.work)
    if os.path.exists(work) and os.listdir(work):
        if not args.overwrite:
            ap.error(f"--work {work} is not empty: give an empty or new directory, or --overwrite")
        shutil.rmtree(work)
    os.makedirs(work, exist_ok=True)
    train_files = [os.path.abspath(f) for f in args.train]
    score_files = [os.path.abspath(f) for f in args.score]
    key_flags = ["--session-key", args.session_key] if args.session_key else []
    fmt = ["-f", args.format]

    spark = SparkSession.builder.appName("logsieve").getOrCreate()
    sc = spark.sparkContext
    times = {}
    t0 = time.time()

    def timed(stage, step):
        t = time.time()
        out = step()
        times[stage] = time.time() - t
        return out

    def events_by_entity(kind, files, groups, model):
        """Normalizes `groups` of `files`, one task each, and partitions the events by entity;
        returns the normalize tasks' (events, stats) and the partition files."""
        normalized = timed(f"{kind}_normalize", lambda: normalize(sc, exe, groups, os.path.join(work, f"{kind}-events"), model, fmt))
        order = {f: i for i, f in enumerate(files)}
        parts = timed(
            f"{kind}_partition",
            lambda: partition(spark, [e for e, _ in normalized], order, args.session_key, args.partitions, os.path.join(work, f"{kind}-parts")),
        )
        return normalized, parts

    # 1-3: train.
    groups = [[f] for f in train_files] if args.templates_from else [train_files]
    _, parts = events_by_entity("train", train_files, groups, args.templates_from)
    shard_dir = os.path.join(work, "shards")
    os.makedirs(shard_dir)

    def train_shard(i, path):
        shard = os.path.join(shard_dir, f"{i:05d}.shard")
        config = ["--config", os.path.abspath(args.config)] if args.config else []
        run([exe, "train", "-q", "-f", "events", "--shard", path, "--model", shard, *key_flags, *config, *args.train_arg])
        return shard

    shards = timed("train_shards", lambda: each_partition(sc, parts, train_shard))
    model = os.path.join(work, "model")
    timed("merge", lambda: run([exe, "merge", "-q", *shards, "--model", model]))

    # 4: score.
    groups = [score_files] if args.score_in_one_normalizer else [[f] for f in score_files]
    normalized, parts = events_by_entity("score", score_files, groups, model)
    out_dir = os.path.join(work, "scores")

    with_file = ["--lines-with-file"] if len(score_files) > 1 else []

    def score_part(i, path):
        out = os.path.join(out_dir, f"{i:05d}")
        cmd = [exe, "score", "-q", "-f", "events", path, "--model", model, "--out", out, *key_flags, "--only", "sessions"]
        # Lines name their raw log when there are several, in every partition alike.
        run(cmd + with_file)
        return out

    def score_entities():
        # Sources and users span the partitions (which follow sessions): their counts are taken
        # over all the events, in the input's order, in one task.
        out = os.path.join(work, "entities")
        events = [e for e, _ in normalized]
        run([exe, "score", "-q", "-f", "events", *events, "--model", model, "--out", out, *key_flags, "--only", "entities", *with_file])
        return out

    entity_task = sc.parallelize([0], 1).map(lambda _: score_entities())
    outs = timed("score_partitions", lambda: each_partition(sc, parts, score_part))
    entities_out = timed("score_entities", lambda: entity_task.collect()[0])

    # 5: collect scores.jsonl and run.json, and draw the report.
    t = time.time()
    out = os.path.join(work, "out")
    os.makedirs(out)
    rows = 0
    with open(os.path.join(out, "scores.jsonl"), "w") as sink:
        for d in [*outs, entities_out]:
            with open(os.path.join(d, "scores.jsonl")) as f:
                for line in f:
                    sink.write(line)
                    rows += 1
    inputs, total = [], {}
    for _, stats in normalized:
        s = json.load(open(stats))
        inputs += s["inputs"]
        total = add(total, s["total"])
    sessions, coverage = {}, {}
    for d in outs:
        r = json.load(open(os.path.join(d, "run.json")))
        sessions = add(sessions, r["sessions"])
        coverage = add(coverage, r["coverage"])
    skipped = sum(total.get("skipped", {}).values())
    coverage["skipped"] = skipped
    first = json.load(open(os.path.join(outs[0], "run.json"))) if outs else {}
    run_json = {
        "logsieve": first.get("logsieve", ""),
        "model": model,
        "inputs": inputs,
        "total": {**total, "file": ""},
        "sessions": sessions,
        "coverage": coverage,
        "spark": {"partitions": len(parts), "shards": len(shards), "seconds": times},
    }
    with open(os.path.join(out, "run.json"), "w") as f:
        json.dump(run_json, f, indent=2)
    run([exe, "report", out, "--model", model])
    times["collect"] = time.time() - t
    times["total"] = time.time() - t0
    run_json["spark"]["seconds"] = times
    with open(os.path.join(out, "run.json"), "w") as f:
        json.dump(run_json, f, indent=2)
    anomalous = sum(1 for line in open(os.path.join(out, "scores.jsonl")) if json.loads(line)["anomalous"])
    print(f"logsieve on spark: {len(shards)} shards merged into {model}; {rows} sessions scored, {anomalous} anomalous")
    print(f"scores: {os.path.join(out, 'scores.jsonl')}")
    print(f"report: {os.path.join(out, 'report.html')}")
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in times.items()))
    spark.stop()


if __name__ == "__main__":
    main()
