#!/usr/bin/env bash
# All tests: fast unit tests, real-model tests, the headless-browser UI test, benchmark smoke runs,
# and the gold-set evaluation guarded by a minimum hybrid Recall@5.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Debian chromium and chromium-driver for the browser test..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "chromium/chromedriver missing and cannot apt-get them: the browser test will be skipped" >&2
  fi
fi
export COUNCILQA_ARTIFACTS="${COUNCILQA_ARTIFACTS:-$PWD/artifacts}"
.venv/bin/python -m pytest -m "(slow or browser or not slow) and not llm_server" "$@"
# The service, answer and evaluation tests again on the Milvus store (milvus-lite): the shared test indexes are
# published to Milvus and their folders moved away, so these tests read Milvus and nothing else.
.venv/bin/python -m pytest -m "(slow or not slow) and not llm_server" --store milvus "$@" \
  tests/test_service_api.py tests/test_service_query.py tests/test_service_corpus.py tests/test_service_rebuild.py \
  tests/test_access.py tests/test_meetings.py tests/test_evaluation.py tests/test_evaluation_answers.py
.venv/bin/python -m councilqa.cli index corpus --index-dir artifacts/eval-index --quiet
.venv/bin/python -m councilqa.cli eval --index-dir artifacts/eval-index --out artifacts/eval --min-recall5 "${COUNCILQA_MIN_RECALL5:-0.78}" \
  --min-key-facts "${COUNCILQA_MIN_KEY_FACTS:-0.66}"
# The same gold set on the Milvus store: the build published (artifacts/milvus.db), its figures within 0.01.
.venv/bin/python -m councilqa.cli index corpus --index-dir artifacts/eval-index --store milvus --quiet
COUNCILQA_STORE=milvus .venv/bin/python -m councilqa.cli eval --index-dir artifacts/eval-index --out artifacts/eval-milvus
.venv/bin/python -m evaluation.compare artifacts/eval/report.json artifacts/eval-milvus/report.json \
  --names local milvus --max-diff 0.01
# The development set over other bodies' real papers (eval/gold_shared.jsonl) needs ../shared; a fresh
# machine has none, so it is skipped there, saying so. Its embeddings are cached across runs in the user's
# cache (the first run embeds about 24,000 passages: some 20 minutes on 2 cores).
SHARED="$(cd .. && pwd)/shared"
if [ -d "$SHARED/corpora" ] && [ -d "$SHARED/transcripts" ]; then
  export COUNCILQA_CACHE_DIR="${COUNCILQA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/councilqa/embeddings}"
  # Retrieval is what this set measures: no stored sentence vectors (answers encode their sentences on
  # demand), which would double the first run's embedding.
  COUNCILQA_SENTENCE_VECTORS_MAX=0 .venv/bin/python -m councilqa.cli index "$SHARED/corpora" \
    "$SHARED/transcripts" corpus --index-dir artifacts/shared-index --quiet
  .venv/bin/python -m councilqa.cli eval --gold eval/gold_shared.jsonl --index-dir artifacts/shared-index \
    --out artifacts/eval-shared --min-recall5 "${COUNCILQA_MIN_SHARED_RECALL5:-0.70}" \
    --min-key-facts "${COUNCILQA_MIN_SHARED_KEY_FACTS:-0.72}"
else
  echo "Skipping the development-set evaluation (eval/gold_shared.jsonl): $SHARED/corpora and" \
    "$SHARED/transcripts are not here; it runs where ../shared holds the real papers."
fi
