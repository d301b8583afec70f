"""What an answer shows of a quote: on one line, captions' time markers out, spacing artefacts repaired.

The quote itself (`core.results.Quote.text`) keeps the document's exact characters and offsets; this is
only what a reader sees of it, in the answer's text, the API's `shown` and the exports.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from indexer.structure import TIME_MARK

_SPACES = re.compile(r"\s+")


def one_line(text: str) -> str:
    """The text with every run of whitespace (newlines included) made one space, stripped."""
    return _SPACES.sub(" ", text).strip()

_REPAIRS = (
    (TIME_MARK, ""),  # a caption's "[0:07:40]": the quote's time is shown beside it
    (re.compile(r"(?<=\d) \.(?=\d)"), "."),  # "11 .2 million": a decimal point split off by captions
    (re.compile(r"(?<=\w) -(?=\w)"), "-"),  # "post -16", "25 -26": a hyphen split off
    (re.compile(r"(?<=[a-z]{2})(?=[A-Z][a-z])"), " "),  # "theSwiss", "knowthe Cllr": words run together
    (re.compile(r"(?<=\b[A-Za-z][a-z]{2})(?=\d)"), " "),  # "Wow24": a word run into a number
)


def readable(text: str) -> str:
    """The text on one line with spacing artefacts repaired and captions' time markers taken out; only
    spaces and those markers are removed or added."""
    out = one_line(text)
    for pattern, repl in _REPAIRS:
        out = pattern.sub(repl, out)
    return _LONG_LOWER.sub(lambda m: split_run_together(m.group(0)), out)


_LONG_LOWER = re.compile(r"\b[a-z]{6,}\b")
# A split is kept only when every part is a common word, and a short part a very common one, so an
# unknown name or a misheard word ("tradies", "unsend", "offstead") is left as it is.
MIN_PART_COUNT = 5e6  # occurrences in wordsegment's English unigram table (about 10^12 words of web text)
MIN_SHORT_PART_COUNT = 1e8  # for parts of one to three letters: "we", "in", "the", "our"


@functools.cache
def _words() -> tuple[dict[str, float], Callable[[str], list[str]]]:
    import wordsegment

    wordsegment.load()  # about 0.7 s, once per process
    return wordsegment.UNIGRAMS, wordsegment.segment


def warm() -> None:
    """Load the word table now (the service does at start-up), not in the first answer."""
    _words()


def split_run_together(word: str) -> str:
    """A lower-case word that captions ran together ("millioncapital", "weneed") as the words it is made
    of; any word English knows, and any split into uncommon parts, is returned unchanged."""
    counts, segment = _words()
    if word in counts:
        return word
    parts = segment(word)
    if len(parts) < 2 or "".join(parts) != word:
        return word
    if all(counts.get(w, 0.0) >= (MIN_SHORT_PART_COUNT if len(w) <= 3 else MIN_PART_COUNT) for w in parts):
        return " ".join(parts)
    return word
