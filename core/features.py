"""What makes a sentence of a retrieved passage the one that holds the answer: its features and weights.

Each quotable unit of the passages an answer is built from gets a handful of features; its score is
their weighted sum (`WEIGHTS`). The weights are the coefficients of a logistic regression that
predicts "this unit holds a key fact" on the development set of other bodies' papers
(`eval/gold_shared.jsonl`, k = 10 passages, all-MiniLM-L6-v2), divided by the cosine's coefficient;
`python -m evaluation.answers --fit --index-dir IDX --gold eval/gold_shared.jsonl` refits them. The
demo gold set (`eval/gold.jsonl`) was not used to choose them, so the figures reported on it are
held out.

What the features say, in the order of `FEATURES`:
- `cosine`: the unit's embedding against the question's;
- `keywords`: the share of the question's keywords the unit holds, each weighted by how rare it is
  among the units seen (a rare word of the question is worth more than a common one);
- `passage`: the retrieval score of the unit's passage, scaled to 0..1 over the passages given;
- `question`: the unit is itself a question (ends in "?"): minutes and transcripts restate what was
  asked, and the answer is usually what follows;
- `after_match`: the cosine and the keywords of the unit before it in the passage: the sentence after
  the one that echoes the question ("Councillor X asked about Y.") often holds the reply;
- `number`: the question asks for a number, a date or a duration and the unit holds one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

FEATURES = ("cosine", "keywords", "passage", "question", "after_cosine", "after_keywords", "number")
# What `--fit` prints on eval/gold_shared.jsonl (see the module docstring): the cosine weighs 1.
WEIGHTS: dict[str, float] = {"cosine": 1.0, "keywords": 0.52, "passage": 0.16, "question": -0.2,
                             "after_cosine": 0.18, "after_keywords": 0.21, "number": 0.08}

_QUESTION_END = re.compile(r"\?[\"'”’)\s]*$")


def rare_keyword_share(question_terms: set[str], unit_terms: Sequence[set[str]]) -> np.ndarray:
    """Per unit, the share of the question's keywords it holds, weighted by log(1 + n / (1 + df))."""
    n = len(unit_terms)
    if not question_terms or not n:
        return np.zeros(n, dtype=np.float32)
    df = {t: sum(t in u for u in unit_terms) for t in question_terms}
    weight = {t: math.log(1 + n / (1 + df[t])) for t in question_terms}
    total = sum(weight.values())
    return np.array([sum(weight[t] for t in question_terms if t in u) / total for u in unit_terms],
                    dtype=np.float32)


def unit_features(cos: np.ndarray, unit_terms: Sequence[set[str]], question_terms: set[str],
                  texts: Sequence[str], passage_of: Sequence[int], passage_scores: Sequence[float] | None,
                  number: np.ndarray) -> np.ndarray:
    """units x FEATURES. `passage_of[i]` is unit i's passage (units in passage order, then text order)."""
    n = len(texts)
    keywords = rare_keyword_share(question_terms, unit_terms)
    if passage_scores is not None and len(passage_scores):
        ps = np.asarray(passage_scores, dtype=np.float32)
        spread = float(ps.max() - ps.min())
        scaled = (ps - ps.min()) / spread if spread > 0 else np.ones_like(ps)
        passage = scaled[np.asarray(passage_of, dtype=int)]
    else:
        passage = np.zeros(n, dtype=np.float32)
    question = np.array([bool(_QUESTION_END.search(t)) for t in texts], dtype=np.float32)
    after_cos = np.zeros(n, dtype=np.float32)
    after_kw = np.zeros(n, dtype=np.float32)
    for i in range(1, n):
        if passage_of[i - 1] == passage_of[i]:
            after_cos[i], after_kw[i] = cos[i - 1], keywords[i - 1]
    return np.stack([cos, keywords, passage, question, after_cos, after_kw, number], axis=1).astype(np.float32)


def weight_vector(weights: dict[str, float]) -> np.ndarray:
    """The weights in the order of `FEATURES` (a missing one weighs 0)."""
    return np.array([weights.get(f, 0.0) for f in FEATURES], dtype=np.float32)
