#!/usr/bin/env bash
# Records tests/fixtures/demo-cell-timings.tsv, the timings orchestrator/src/cost.rs's
# ETA test replays: the demo sweep (configs/demo.yaml, its own executor settings)
# run from scratch with a release build; for every cell, in the order the cells
# started: its place in the plan, its stage, its task's kind, the input shape
# its log states (rows × columns, what the executor weighs it by) and the
# seconds the journal records.
# Usage: bash scripts/record_demo_timings.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-tests/fixtures/demo-cell-timings.tsv}
cargo build --release --locked -p genoprot -q
gp=$PWD/target/release/genoprot
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/configs"
sed -e "s|^dataset: .*|dataset: $work/data|" -e "s|^store: .*|store: $work/runs|" \
    -e "s|fixtures/|$PWD/fixtures/|g" configs/demo.yaml > "$work/demo.yaml"
$gp -q dataset synth --out "$work/data" --genes 1200 --seed 7
$gp -q run "$work/demo.yaml" > /dev/null
python3 - "$work/runs" "$out" <<'PY'
import csv, json, os, re, sys
runs, out = sys.argv[1:3]
plan = json.load(open(os.path.join(runs, "journal/plan.json")))
late = {c["id"] for c in plan.get("late", [])}
index = {c["id"]: i for i, c in enumerate(plan["cells"] + plan.get("late", []))}
kind = {r["cell_id"]: r["kind"] for r in csv.DictReader(open(os.path.join(runs, "results.csv")))}
shape = {}
logs = os.path.join(runs, "logs/cells")
for name in os.listdir(logs):
    text = open(os.path.join(logs, name)).read()
    cid = re.search(r"^cell (\S+)$", text, re.M).group(1)
    m = re.search(r"^input (\d+) rows × (\d+) columns$", text, re.M)
    shape[cid] = (m.group(1), m.group(2))
order, seconds = [], {}
for line in open(os.path.join(runs, "journal/events.jsonl")):
    e = json.loads(line)
    if e["unit"].startswith("embed:"):
        continue
    if e["event"] == "start":
        order.append(e["unit"])
    elif e["event"] == "done":
        seconds[e["unit"]] = e["seconds"]
with open(out, "w") as f:
    f.write("cell\tplan_index\tstage\tkind\trows\tcolumns\tseconds\n")
    for cid in order:
        rows, cols = shape[cid]
        stage = "fusion" if cid in late else "probe"
        f.write(f"{cid}\t{index[cid]}\t{stage}\t{kind[cid]}\t{rows}\t{cols}\t{seconds[cid]:.4f}\n")
print(f"{len(order)} cells -> {out}")
PY
