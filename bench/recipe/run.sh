#!/usr/bin/env bash
# One run of the CPU-scale recipe sweep (docs/training-recipe.md): pre-train on the drawn faces of `pros corpus`
# (or `pros synth --count 2000 --seed 0 --test-fraction 0`), then linear probes on the held-out synthetic set for the
# run and for the same ViT at random init. Usage: bench/recipe/run.sh NAME CONFIG STEPS [WORKSPACE] [PRE] [EVAL]
# The held-out set is 5,000 drawn faces (4,000 train / 1,000 test): 200 test faces, the first sweep's set, carry a
# standard error of ~3.5 points, as large as the gains measured; 1,000 bring it to ~1.4 (docs/training-recipe.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
name=$1 cfg=$2 steps=$3
W=${4:-.bench/recipe/ws} PRE=${5:-.bench/recipe/synth-pre} EVAL=${6:-.bench/recipe/synth-eval5k} R=.bench/recipe/results
mkdir -p "$R"
[ -e "$PRE/manifest.jsonl" ] || node bin/pros.js synth --out "$PRE" --count 2000 --seed 0 --test-fraction 0 -q
[ -e "$EVAL/manifest.jsonl" ] || node bin/pros.js synth --out "$EVAL" --count 5000 --seed 2 --test-fraction 0.2 -q
[ -s "$R/$name.train.json" ] || node bin/pros.js train --data "$PRE" --run "$name" -c "$cfg" --steps "$steps" -w "$W" --json -q > "$R/$name.train.json"
for bb in run random; do
  for feat in cls tokens; do
    out=$R/$name.$bb.expr-$feat.json
    [ -s "$out" ] || node bin/pros.js eval expression --data "$EVAL" --run "$name" --backbone $bb --features $feat --seeds 1 -w "$W" --json -q > "$out"
  done
  [ -s "$R/$name.$bb.attr.json" ] || node bin/pros.js eval attributes --data "$EVAL" --run "$name" --backbone $bb --seeds 1 -w "$W" --json -q > "$R/$name.$bb.attr.json"
  [ -s "$R/$name.$bb.lmk.json" ] || node bin/pros.js eval landmarks --data "$EVAL" --run "$name" --backbone $bb -w "$W" --json -q > "$R/$name.$bb.lmk.json"
done
node bin/pros.js report -w "$W"
