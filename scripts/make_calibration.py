"""Write indexer/data/calibration.jsonl: the text int8 quantisation calibrates activation ranges on.

    python scripts/make_calibration.py

Windows of ~150 words (about one chunk) from the shipped `corpus/` papers, sampled with a fixed
seed so the file, and so the quantised model, is reproducible. Quantisation only needs text that
looks like what will be embedded; the fidelity to float32 is then measured on other councils'
papers (`python -m bench.bench_embed`), not on these.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WINDOWS, WORDS, SEED = 192, 150, 20261122


def windows(text: str, words: int) -> list[str]:
    tokens = text.split()
    stride = words * 2 // 3
    return [" ".join(tokens[i:i + words]) for i in range(0, max(1, len(tokens) - words // 2), stride)]


def main() -> None:
    pool: list[str] = []
    for path in sorted((ROOT / "corpus").glob("*.txt")):
        pool.extend(windows(path.read_text(errors="replace"), WORDS))
    rng = random.Random(SEED)
    # Mostly full windows, some short ones: queries and short chunks are embedded too.
    sample = rng.sample(pool, min(WINDOWS, len(pool)))
    sample = [" ".join(t.split()[: rng.choice([12, 40, WORDS, WORDS, WORDS])]) for t in sample]
    out = ROOT / "indexer" / "data" / "calibration.jsonl"
    out.write_text("".join(json.dumps(t) + "\n" for t in sample))
    print(f"{len(sample)} windows from {len(pool)} -> {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
