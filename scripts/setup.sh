#!/usr/bin/env bash
# Create .venv at the repository root and install imusim-jax (editable) with the MediaPipe backend, the ONNX
# writer and the test tools. Idempotent: a second run only checks. Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.imusim-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[mediapipe,test]"
  # allantools is LGPL and declares Sphinx as a dependency: install it bare (test-only, numpy/scipy suffice).
  .venv/bin/python -m pip install -q --no-deps "allantools==2024.6" || true
  touch "$stamp"
fi
# MediaPipe pulls opencv-contrib-python, which shares the cv2 folder with opencv-python-headless; the contrib
# build must win (it carries HOGDescriptor in OpenCV 5). Repair the folder if the headless wheel overwrote it.
if ! .venv/bin/python -c "import cv2; cv2.HOGDescriptor_getDefaultPeopleDetector()" 2>/dev/null; then
  ver=$(.venv/bin/python -m pip show opencv-contrib-python 2>/dev/null | awk '/^Version:/{print $2}')
  if [ -n "$ver" ]; then
    .venv/bin/python -m pip install -q --force-reinstall --no-deps "opencv-contrib-python==$ver"
  fi
fi
.venv/bin/python -c "import imusim_jax, cv2, mediapipe" >/dev/null
# Headless Chromium renders the video2imu report in tests/test_video_report.py (skipped without it). As root with
# apt-get, install Debian's package (about 40 s); a failed install never fails the setup.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1; then
    echo "setup: could not install chromium (apt-get failed); the report's screenshot test will be skipped"
  fi
fi
