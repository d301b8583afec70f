#!/usr/bin/env bash
# The main job: set up, index the shipped corpus, start the API and the UI, print where to open them.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
exec .venv/bin/councilqa up corpus --index-dir "${COUNCILQA_INDEX_DIR:-index}" "$@"
