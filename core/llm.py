"""Optional answers written by a language model behind an OpenAI-compatible chat endpoint.

The passages go into the prompt numbered [1]..[n], within `llm_context_tokens` (cl100k_base).
The reply is checked: every kept sentence must carry a marker that points at a real passage;
sentences without one are dropped, markers are renumbered in order of first use. Any failure
raises `LlmError`, and the engine falls back to the extractive answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from common.settings import Settings
from indexer.models import Passage
from indexer.tokens import cl100k

SYSTEM_PROMPT = (
    "You answer questions about UK local council papers (minutes, reports, meeting transcripts) using ONLY "
    "the numbered passages given. Write a short answer of one to four sentences. End every sentence with the "
    "marker(s) of the passage(s) that support it, like [1] or [2][3]. Never cite a number that is not given. "
    "If the passages do not answer the question, reply exactly: NOT FOUND"
)
_MARKER = re.compile(r"\[(\d{1,3})\]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=\])\s+(?=[A-Z])")


class LlmError(RuntimeError):
    """The model's answer cannot be used; the message says why (shown as `llm_error`)."""


@dataclass
class LlmAnswer:
    answer: str
    cited: list[tuple[int, str]]  # (index into the passages given, the answer text citing it), in new order


def _header(n: int, p: Passage) -> str:
    bits = [b for b in (p.council, p.committee, p.date, p.doc_type, p.agenda_item and f"item: {p.agenda_item}",
                        p.speaker and f"speaker: {p.speaker}") if b]
    return f"[{n}] ({'; '.join(bits)})"


def build_prompt(question: str, passages: Sequence[Passage], budget_tokens: int) -> tuple[list[dict], int]:
    """Chat messages and how many passages fitted in the token budget (at least one, truncated)."""
    enc = cl100k()
    fixed = len(enc.encode(SYSTEM_PROMPT + question, disallowed_special=())) + 40
    left = budget_tokens - fixed
    blocks: list[str] = []
    for i, p in enumerate(passages, start=1):
        block = f"{_header(i, p)}\n{p.text.strip()}"
        cost = len(enc.encode(block, disallowed_special=())) + 2
        if cost > left:
            if not blocks and left > 32:  # the first passage alone is too long: cut it
                blocks.append(enc.decode(enc.encode(block, disallowed_special=())[:left]))
            break
        blocks.append(block)
        left -= cost
    user = "Passages:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}\nAnswer:"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}], len(blocks)


def chat_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    return f"{base}/chat/completions" if base.endswith("/v1") else f"{base}/v1/chat/completions"


def call_chat(settings: Settings, messages: list[dict]) -> str:
    headers = {"Authorization": f"Bearer {settings.llm_api_key}"} if settings.llm_api_key else {}
    body = {"model": settings.llm_model, "messages": messages, "temperature": 0}
    try:
        r = httpx.post(chat_url(settings.llm_base_url or ""), json=body, headers=headers,
                       timeout=settings.llm_timeout_s)
    except httpx.TimeoutException as exc:
        raise LlmError(f"timeout after {settings.llm_timeout_s:g}s") from exc
    except httpx.HTTPError as exc:
        raise LlmError(f"request failed: {type(exc).__name__}") from exc
    if r.status_code != 200:
        raise LlmError(f"HTTP {r.status_code} from the language model")
    try:
        content = r.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise LlmError("unreadable reply (not an OpenAI chat completion)") from exc
    if not isinstance(content, str) or not content.strip():
        raise LlmError("empty answer")
    return content.strip()


def check_answer(content: str, n_passages: int) -> LlmAnswer:
    """Keep cited sentences only, drop invalid markers, renumber markers 1..m in order of use."""
    if content.strip().upper().startswith("NOT FOUND"):
        raise LlmError("the model found no answer in the passages")
    new_number: dict[int, int] = {}
    cited_text: dict[int, list[str]] = {}
    kept: list[str] = []
    for sentence in (s.strip() for s in _SENTENCE.split(content) if s.strip()):
        valid = [int(m) for m in _MARKER.findall(sentence) if 1 <= int(m) <= n_passages]
        if not valid:
            continue
        for old in valid:
            new_number.setdefault(old, len(new_number) + 1)
            cited_text.setdefault(old, []).append(_MARKER.sub("", sentence))

        def renumber(m: re.Match[str]) -> str:
            old = int(m.group(1))
            return f"[{new_number[old]}]" if old in new_number and 1 <= old <= n_passages else ""

        kept.append(re.sub(r"\s+([.!?,;:])", r"\1", _MARKER.sub(renumber, sentence)).strip())
    if not kept:
        raise LlmError("no sentence cites a given passage")
    order = sorted(new_number, key=new_number.get)  # type: ignore[arg-type]
    return LlmAnswer(" ".join(kept), [(old - 1, " ".join(cited_text[old])) for old in order])


def llm_answer(settings: Settings, question: str, passages: Sequence[Passage]) -> LlmAnswer:
    messages, used = build_prompt(question, passages, settings.llm_context_tokens)
    if used == 0:
        raise LlmError("no passage fits the context budget")
    return check_answer(call_chat(settings, messages), used)
