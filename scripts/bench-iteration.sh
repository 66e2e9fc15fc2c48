#!/usr/bin/env bash
# One NExT iteration on the default local model, measured (not part of CI: hours on a
# CPU). Builds Mbpp-R by the offline mutation builder from the shipped MBPP, with
# TRAIN_TASKS training tasks from MBPP's train split and DEV_TASKS development tasks
# from its validation split (so no source problem is in both), runs one iteration of
# the loop (scripts/bench-iteration.toml), then evaluates the base model and the
# iteration's checkpoint on the development tasks with and without traces in the
# prompt: pass@1 and pass@8 with 95% bootstrap intervals, and the wall time of each
# step.
#
#   scripts/bench-iteration.sh [OUT_DIR]       (default runs/bench-iteration)
#   TRAIN_TASKS=500 DEV_TASKS=100 N=8 scripts/bench-iteration.sh
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-runs/bench-iteration}
train_tasks=${TRAIN_TASKS:-500}
dev_tasks=${DEV_TASKS:-100}
n=${N:-8}
config=scripts/bench-iteration.toml
mkdir -p "$out"

cargo build --release -p next-cli
next=target/release/next
python=$(command -v python3)

step() {
    local name=$1
    shift
    local start
    start=$(date +%s)
    "$@"
    echo "$name $(($(date +%s) - start))" >> "$out/times.txt"
}
: > "$out/times.txt"

"$next" model fetch
step import "$next" data import mbpp data/mbpp.jsonl -o "$out/mbpp.jsonl"
step mutate-train "$next" data mutate "$out/mbpp.jsonl" --splits train -o "$out/train-all.jsonl"
step mutate-dev "$next" data mutate "$out/mbpp.jsonl" --splits validation -o "$out/dev-all.jsonl"

# A spread over source problems: one mutant of each problem in turn, seeded.
"$python" - "$out" "$train_tasks" "$dev_tasks" <<'PY'
import json, random, sys
out, n_train, n_dev = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def pick(path, count, seed):
    by_source = {}
    for line in open(path):
        task = json.loads(line)
        by_source.setdefault(task["metadata"]["source_task"], []).append(task)
    rng = random.Random(seed)
    for tasks in by_source.values():
        rng.shuffle(tasks)
    chosen, round_ = [], 0
    while len(chosen) < count and any(len(t) > round_ for t in by_source.values()):
        for tasks in by_source.values():
            if len(tasks) > round_ and len(chosen) < count:
                chosen.append(tasks[round_])
        round_ += 1
    return chosen
for name, count, seed in (("train", n_train, 1), ("dev", n_dev, 2)):
    chosen = pick(f"{out}/{name}-all.jsonl", count, seed)
    with open(f"{out}/{name}.jsonl", "w") as f:
        for task in chosen:
            f.write(json.dumps(task) + "\n")
    print(f"{name}: {len(chosen)} tasks from {len({t['metadata']['source_task'] for t in chosen})} problems")
PY

step run "$next" run --config "$config" --train "$out/train.jsonl" --dev "$out/dev.jsonl" --out "$out/run"
step eval-base "$next" eval --tasks "$out/dev.jsonl" --model "$config" -n "$n" -k "1,$n" \
    --renderer inline,none --out "$out/eval-base.json"
step eval-iter1 "$next" eval --tasks "$out/dev.jsonl" --model "$config" -n "$n" -k "1,$n" \
    --renderer inline,none --run "$out/run" --iteration 1 --out "$out/eval-iter1.json"

"$python" - "$out" <<'PY'
import json, sys
out = sys.argv[1]
print(f"{'checkpoint':<10} {'prompt':<8} {'pass@k':<7} {'estimate':>8}  95% interval")
for name in ("base", "iter1"):
    results = json.load(open(f"{out}/eval-{name}.json"))
    for condition in results["conditions"]:
        for score in condition["report"]["all"]["pass_at"]:
            p = score["pass"]
            print(f"{name:<10} {condition['renderer']:<8} {'pass@' + str(score['k']):<7} "
                  f"{p['estimate']:>8.3f}  [{p['low']:.3f}, {p['high']:.3f}]")
print("wall time (s):", open(f"{out}/times.txt").read().replace("\n", "; "))
PY
