"""No regular expression of the indexer backtracks super-linearly (issue 12, D6).

Every compiled pattern of the text-handling modules (found by introspection, so a new one is covered
without editing this file) and the module-level functions that apply them are run on long
pathological lines at two sizes; ten times the input must take well under thirty times the time.
Super-linear cases found this way: `# a###…b` headings, `A-A-A-…` words against the council and
committee patterns, unterminated `<!--` comments, label lines followed by long space runs, runs of
blank lines against `^\\s*` patterns, and `TO THE TO THE …`.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable

import pytest

from indexer import chunk, clean, loaders, metadata, structure
from indexer.chunk import ChunkSettings, chunk_document
from indexer.models import Document, DocumentMeta

MODULES = (loaders, clean, structure, metadata, chunk)
SMALL, BIG = 1_500, 15_000  # characters; 10x apart
RATIO = 30  # linear work grows ~10x; 30x leaves room for noise on a busy 2-core machine
FLOOR_S = 0.05  # below this, the big run is fast whatever its ratio

# Every character Python's `str.isspace` (and so `\s`) takes for whitespace.
SPACES = [chr(c) for c in range(0x3001) if chr(c).isspace()]
SPEAKER_HEAD = "Jane Doe - 0:00:01\nBob Roe - 0:00:02\nAl Bo - 0:00:03\n"


def _fill(unit: str, n: int) -> str:
    return (unit * (n // len(unit) + 1))[:n]


def pathological(n: int) -> dict[str, str]:
    """Lines of about `n` characters that make a backtracking pattern work hard."""
    cases = {
        "hashes": "#" * n,
        "md heading": "# a" + "#" * n + "b",
        "six hashes": "###### " + "#" * n,
        "a": "a" * n,
        "A": "A" * n,
        "Aa words": _fill("Aa ", n),
        "A-": _fill("A-", n),
        "A'": _fill("A'", n),
        "Aa-Bb": _fill("Aa-Bb-", n),
        "digits": "1" * n,
        "1.": _fill("1.", n),
        "times": _fill("12:34:56 ", n),
        "colons": ":" * n,
        "open parens": "(" * n,
        "paren words": "(" + "a" * n,
        "dots": "." * n,
        "dashes": "-" * n,
        "dash lines": _fill("-\n", n),
        "commas": "," * n,
        "apostrophes": "'" * n + "’" * n,
        "ampersands": "&" * n,
        "entity starts": _fill("&#", n),
        "pipes": "|" * n,
        "stars": "*" * n,
        "quote marks": ">" * n,
        "tag starts": _fill("<p ", n),
        "comment starts": _fill("<!--", n),
        "brackets": _fill("[0:00:0", n),
        "newlines": "\n" * n,
        "blank lines": _fill(" \n", n),
        "hash lines": _fill("#\n", n),
        "label spaces": "Meeting: a" + " " * n + "b",
        "title spaces": "Title: a" + " " * n + "b",
        "to the": _fill("TO THE ", n),
        "council words": _fill("Aa Council ", n),
        "cllr": _fill("Cllr ", n),
        "mixed": _fill("a1.:(#- A'b,;!?\t", n),
        "speaker lines": SPEAKER_HEAD + _fill("Aa Bb - 0:00:0", n),
        "speaker glued": SPEAKER_HEAD + "x" + _fill("Aa-", n) + " Jane Doe - 0:00:04",
    }
    for space in SPACES:
        cases[f"space U+{ord(space):04X}"] = "a" + space * n + "b"
    return cases


def patterns() -> dict[str, re.Pattern[str]]:
    """Every compiled pattern held by the modules, by `module.NAME` (lists and tuples of them too)."""
    found: dict[str, re.Pattern[str]] = {}
    seen: set[int] = set()  # a pattern also bound to a second name is run once
    for module in MODULES:
        for name, value in vars(module).items():
            values = value if isinstance(value, list | tuple) else [value]
            for i, item in enumerate(values):
                if isinstance(item, re.Pattern) and isinstance(item.pattern, str) and id(item) not in seen:
                    seen.add(id(item))
                    key = f"{module.__name__}.{name}" + (f"[{i}]" if values is value else "")
                    found[key] = item
    return found


def _chunk(text: str) -> None:
    text, segments = structure.parse_structure(text)
    doc = Document(DocumentMeta("fuzz"), text, segments, "fuzz.txt", "")
    chunk_document(doc, ChunkSettings())


FUNCTIONS: dict[str, Callable[[str], object]] = {
    "clean.clean_text": clean.clean_text,
    "clean.strip_page_furniture": lambda t: clean.strip_page_furniture([t, t, t]),
    "structure.parse_structure": structure.parse_structure,
    "structure.parse_structure(clean_text)": lambda t: structure.parse_structure(clean.clean_text(t)),
    "metadata.infer_metadata": metadata.infer_metadata,
    "metadata.tidy_council_name": metadata.tidy_council_name,
    "metadata.normalise_doc_type": metadata.normalise_doc_type,
    "chunk.chunk_document": _chunk,
}


def _seconds(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best


def _scan(pattern: re.Pattern[str], text: str) -> Callable[[], object]:
    return lambda: (pattern.match(text), sum(1 for _ in pattern.finditer(text)))


def _superlinear(make: Callable[[str], Callable[[], object]]) -> list[str]:
    """The cases where 10x the input took more than RATIO x the time (and more than FLOOR_S)."""
    small, big = pathological(SMALL), pathological(BIG)
    slow = []
    for case in small:
        t_small = _seconds(make(small[case]), 3)
        run_big = make(big[case])
        t_big = _seconds(run_big, 1)
        if t_big > FLOOR_S and t_big > RATIO * t_small:
            t_big = _seconds(run_big, 2)  # a second look before blaming noise on the pattern
        if t_big > FLOOR_S and t_big > RATIO * t_small:
            slow.append(f"{case!r}: {t_small * 1000:.1f} ms -> {t_big * 1000:.1f} ms")
    return slow


def test_patterns_are_collected():
    found = patterns()
    assert "indexer.structure._MD_HEADING_RE" in found and "indexer.clean._MULTISPACE_RE" in found
    assert "indexer.metadata._COUNCIL_RES[0]" in found and "indexer.chunk._SENTENCE_END" in found
    assert len(found) >= 25


@pytest.mark.parametrize("name", sorted(patterns()))
def test_pattern_is_linear(name):
    pattern = patterns()[name]
    slow = _superlinear(lambda text: _scan(pattern, text))
    assert not slow, f"{name} ({pattern.pattern[:80]!r}) is super-linear on: " + "; ".join(slow)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_is_linear(name):
    function = FUNCTIONS[name]
    slow = _superlinear(lambda text: lambda: function(text))
    assert not slow, f"{name} is super-linear on: " + "; ".join(slow)


def test_unicode_space_runs_are_collapsed():
    for space in SPACES:
        if space == "\n":
            continue  # fix_spacing works on one line
        assert clean.fix_spacing(f"a{space * 5}b") == "a b", f"U+{ord(space):04X}"


if __name__ == "__main__":  # timings of every pattern and function, slowest first: python tests/test_regex_fuzz.py
    rows = []
    for name, pattern in patterns().items():
        for case, text in pathological(int(sys.argv[1]) if len(sys.argv) > 1 else BIG).items():
            rows.append((_seconds(_scan(pattern, text), 1), name, case))
    for name, function in FUNCTIONS.items():
        for case, text in pathological(int(sys.argv[1]) if len(sys.argv) > 1 else BIG).items():
            rows.append((_seconds(lambda f=function, t=text: f(t), 1), name, case))
    for seconds, name, case in sorted(rows, reverse=True)[:int(sys.argv[2]) if len(sys.argv) > 2 else 40]:
        print(f"{seconds * 1000:9.1f} ms  {name:45} {case}")
