#!/usr/bin/env python3
"""Splits datasets/hdfs/logai_HDFS_AD_5k.log into the demo's clean training period and new logs.

Training: the lines of every other normal block (in the order of the block labels file), the
clean period an operator would pick. New logs: all the other lines (the remaining normal blocks and
all 10 anomalous ones), in file order. labels.csv holds the labels of the blocks in new.log.
Run from the repository root: python3 datasets/hdfs/demo/split.py
"""
import re

LOG = "datasets/hdfs/logai_HDFS_AD_5k.log"
LABELS = "datasets/hdfs/logai_HDFS_AD_5k.block_labels.csv"
OUT = "datasets/hdfs/demo/"

rows = [l.rstrip("\n").split(",")[:2] for l in open(LABELS)][1:]
normal = [k for k, v in rows if v == "Normal"]
train_keys = set(normal[::2])
block = re.compile(r"blk_-?\d+")
train, new = [], []
for line in open(LOG):
    keys = block.findall(line)
    (train if keys and all(k in train_keys for k in keys) else new).append(line)
open(OUT + "train.log", "w").writelines(train)
open(OUT + "new.log", "w").writelines(new)
with open(OUT + "labels.csv", "w") as f:
    f.write("session,label\n")
    for k, v in rows:
        if k not in train_keys:
            f.write(f"{k},{v}\n")
print(f"train.log {len(train)} lines ({len(train_keys)} blocks), new.log {len(new)} lines, labels {len(rows) - len(train_keys)} blocks")
