#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the main job on the bundled sample: a forward fall (COCO-17 skeleton,
# 30 fps) -> a left-wrist smartwatch with a Bosch BMI160's noise at 50 Hz -> out/fall_watch-left.csv + .png.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
.venv/bin/imusim-jax sample -o out/fall_sample.npz
.venv/bin/imusim-jax simulate out/fall_sample.npz --mount watch-left --rate 50 --noise bmi160 --seed 0 \
  -o out/fall_watch-left.csv --plot out/fall_watch-left.png
