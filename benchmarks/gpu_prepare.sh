#!/usr/bin/env bash
# Prepares this checkout for benchmarks/gpu_check.sh on a GPU machine that reaches no network (issue #18).
# Run it HERE (a machine with PyPI, ffmpeg and ../shared/data), in the checkout that the device tool sends:
#
#   benchmarks/gpu_prepare.sh          # -> .whl/ (wheels) and .gpu-data/ (videos, weights), both git-ignored
#
# then run, through the device tool:  command "bash benchmarks/gpu_check.sh", carry [".whl", ".gpu-data"],
# timeout_s 540. The GPU machine's image has python3 3.12 with torch, torchvision, numpy, scipy, OpenCV
# (headless), onnxruntime (CPU), matplotlib, PyYAML, tqdm, psutil, pytest, hypothesis and nvidia-ml-py; .whl/
# brings the rest, without their optional dependencies (polars, ultralytics-platform, IPython, onnxslim:
# unused by tracking). onnxruntime-gpu is not carried (a wheel of some 250 MB, over the 64 MiB a call may
# carry): YOLOX and OSNet stay on onnxruntime's CPU provider there, and the check measures the torch path.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
MOT_FRAMES=${MOT_FRAMES:-200}  # of MOT16-11's 900 (69 MB at CRF 17): about 15 MB, so everything fits in 64 MiB
LIMIT_MIB=64
SHARED=../shared/data
WHEELS=(  # the versions the project is tested with; one version of each
    ultralytics==8.4.190 ultralytics-thop==2.2.3 lap==0.5.13 filterpy==2.0.0 trackeval==1.3.0
    pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 typing-extensions==4.16.0
)

{ git check-ignore -q .whl/x && git check-ignore -q .gpu-data/x; } || { echo "error: .whl/ and .gpu-data/ must be git-ignored" >&2; exit 3; }
rm -rf .whl .gpu-data
mkdir -p .whl .gpu-data

echo "== wheels for CPython 3.12, manylinux x86-64"
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "${WHEELS[@]}"

echo "== data"
command -v ffmpeg >/dev/null || { echo "error: ffmpeg not found. apt-get install ffmpeg" >&2; exit 3; }
# the first MOT_FRAMES frames, the H.264 stream copied (decoding costs what the whole file's does)
ffmpeg -v error -y -i "$SHARED/MOT16/MOT16-11/MOT16-11.mp4" -frames:v "$MOT_FRAMES" -c copy -an .gpu-data/MOT16-11.mp4
cp "$SHARED/vtest.avi" .gpu-data/vtest.avi
"$PY" - <<'PYEOF'
import importlib.resources, shutil
shutil.copy(importlib.resources.files("fall_detection") / "models" / "best.pt", ".gpu-data/best.pt")
PYEOF

echo "== what travels (tracked and untracked files git does not ignore, .whl, .gpu-data)"
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
carried=$(du -cb .whl .gpu-data | tail -1 | cut -f1)
total=$(( (tree + carried) / 1048576 ))
echo "working tree $((tree / 1048576)) MiB + .whl and .gpu-data $((carried / 1048576)) MiB = $total MiB (limit $LIMIT_MIB)"
[ "$total" -lt "$LIMIT_MIB" ] || { echo "error: over $LIMIT_MIB MiB. Lower MOT_FRAMES" >&2; exit 4; }
ls -l .whl .gpu-data
