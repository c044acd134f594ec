"""Checks that two scores.jsonl files hold the same verdicts: the same sessions, each with the same
score, verdict, states, reasons and lines. Row order may differ (Spark collects partition by
partition). Exit status 1 and the first differences when they do not agree.

    python3 compare.py single/scores.jsonl spark/out/scores.jsonl
    python3 compare.py --new-template-names-may-differ single/scores.jsonl spark/out/scores.jsonl

With `--new-template-names-may-differ`, the names of states and the texts of reasons are not
compared: everything else is (score, verdict, threshold, times, lines, components, each reason's
kind, component and p-value). That is what a run that normalizes the new logs in several tasks
guarantees: a template the model does not know gets an id in each task of its own.
"""

import json
import sys


def rows(path):
    with open(path) as f:
        out = [json.loads(line) for line in f if line.strip()]
    # A session key can recur (a reused pid); its first line tells the sessions apart.
    return sorted(out, key=lambda r: (r["session"], json.dumps(r.get("lines"), sort_keys=True), r["score"]))


def verdict(r):
    """A row without the names of states."""
    r = {k: v for k, v in r.items() if k != "events"}
    r["reasons"] = [{k: v for k, v in x.items() if k not in ("text", "states")} for x in r.get("reasons", [])]
    return r


def main():
    names_may_differ = "--new-template-names-may-differ" in sys.argv
    paths = [a for a in sys.argv[1:] if not a.startswith("--")]
    sys.argv[1:] = paths
    a, b = rows(paths[0]), rows(paths[1])
    renamed = 0
    if names_may_differ:
        renamed = sum(1 for x, y in zip(a, b) if x != y)
        a, b = [verdict(r) for r in a], [verdict(r) for r in b]
    flagged = sum(1 for r in a if r["anomalous"])
    if len(a) != len(b):
        sys.exit(f"{len(a)} sessions in {sys.argv[1]}, {len(b)} in {sys.argv[2]}")
    diffs = [(x, y) for x, y in zip(a, b) if x != y]
    for x, y in diffs[:3]:
        keys = sorted(k for k in set(x) | set(y) if x.get(k) != y.get(k))
        print(f"session {x['session']}: differs in {keys}", file=sys.stderr)
        for k in keys[:3]:
            print(f"  {k}: {str(x.get(k))[:200]}  vs  {str(y.get(k))[:200]}", file=sys.stderr)
    if diffs:
        sys.exit(f"{len(diffs)} of {len(a)} sessions differ")
    if names_may_differ:
        print(f"same verdicts: {len(a)} sessions, {flagged} anomalous; {renamed} name a template the model does not know otherwise")
    else:
        print(f"same verdicts: {len(a)} sessions, {flagged} anomalous, every field equal")


if __name__ == "__main__":
    main()
