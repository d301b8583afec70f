"""Optional answers written by a language model behind an OpenAI-compatible chat endpoint.

The passages go into the prompt numbered [1]..[n], within `llm_context_tokens` (cl100k_base).
The reply is checked: every kept sentence must carry a marker that points at a real passage, and
the passages it cites must support it (`supported`: its numbers and most of its content words occur
there); other sentences are dropped, markers are renumbered in order of first use. Any failure
raises `LlmError`, and the engine falls back to the extractive answer. `stream_llm_answer` yields
the model's text as it is written, for `/ask/stream`.

Calls go through one `ModelGate` per endpoint (`core.guard`): at most `llm_max_concurrent` at once
on threads of their own, none waited for past `llm_timeout_s`, and none at all for
`llm_breaker_cooldown_s` after `llm_breaker_failures` endpoint failures in a row. Each failure is
logged (logger `councilqa.llm`) with its reason.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from common.language import STOPWORDS
from common.settings import Settings
from core.guard import Bulkhead, Busy, CircuitBreaker, CircuitOpen, DeadlineExceeded
from indexer.models import Passage
from indexer.tokens import cl100k

SYSTEM_PROMPT = (
    "You answer questions about UK local council papers (minutes, reports, meeting transcripts) using ONLY "
    "the numbered passages given. Write a short answer of one to four sentences. End every sentence with the "
    "marker(s) of the passage(s) that support it, like [1] or [2][3]. Never cite a number that is not given. "
    "If the passages do not answer the question, reply exactly: NOT FOUND"
)
log = logging.getLogger("councilqa.llm")
_MARKER = re.compile(r"\[(\d{1,3})\]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=\])\s+(?=[A-Z])")
_WORD = re.compile(r"[a-z][a-z'’-]*|\d[\d,.]*\d|\d")
# A sentence is supported when at least this share of its content words occur in the passages it cites
# (compared on their first STEM letters, so "reduce"/"reduction" match), and every number it states does.
MIN_SUPPORT = 0.5
STEM = 5


class LlmError(RuntimeError):
    """The model's answer cannot be used; the message says why (shown as `llm_error`).

    `endpoint_failure` is True when the endpoint itself failed (unreachable, timed out, an HTTP error,
    a reply that is no chat completion): those count towards opening the circuit breaker.
    """

    def __init__(self, message: str, endpoint_failure: bool = False) -> None:
        super().__init__(message)
        self.endpoint_failure = endpoint_failure


@dataclass
class LlmAnswer:
    """A checked model answer: its text with markers renumbered, and the passages it cites with the text citing each."""

    answer: str
    cited: list[tuple[int, str]]  # (index into the passages given, the answer text citing it), in new order
    dropped: tuple[str, ...] = ()  # sentences left out: no valid marker, or not supported by what they cite


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
    """The chat completions URL for a base URL, with or without its trailing `/v1`."""
    base = base_url.rstrip("/")
    return f"{base}/chat/completions" if base.endswith("/v1") else f"{base}/v1/chat/completions"


def call_chat(settings: Settings, messages: list[dict], on_delta: Callable[[str], None] | None = None) -> str:
    """The model's reply to the messages, stripped; raises `LlmError` on a timeout, HTTP error or unusable reply.

    With `on_delta`, the reply is asked for as a stream (server-sent events) and each piece of text is
    passed to it as it arrives.
    """
    headers = {"Authorization": f"Bearer {settings.llm_api_key}"} if settings.llm_api_key else {}
    body = {"model": settings.llm_model, "messages": messages, "temperature": 0,
            "max_tokens": settings.llm_max_tokens, "stream": on_delta is not None}
    try:
        if on_delta is None:
            r = httpx.post(chat_url(settings.llm_base_url or ""), json=body, headers=headers,
                           timeout=settings.llm_timeout_s)
            content = _completion(r)
        else:
            with httpx.stream("POST", chat_url(settings.llm_base_url or ""), json=body, headers=headers,
                              timeout=settings.llm_timeout_s) as r:
                content = _streamed(r, on_delta)
    except httpx.TimeoutException as exc:
        raise LlmError(f"timeout: timed out, no reply within {settings.llm_timeout_s:g}s", True) from exc
    except httpx.ConnectError as exc:
        raise LlmError(f"request failed: endpoint unreachable ({type(exc).__name__})", True) from exc
    except httpx.HTTPError as exc:
        raise LlmError(f"request failed: {type(exc).__name__}", True) from exc
    if not content.strip():
        raise LlmError("empty answer")
    return content.strip()


def _completion(r: httpx.Response) -> str:
    if r.status_code != 200:
        raise LlmError(f"HTTP {r.status_code} from the language model", True)
    try:
        content = r.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise LlmError("unreadable reply (not an OpenAI chat completion)", True) from exc
    return content if isinstance(content, str) else ""


def _streamed(r: httpx.Response, on_delta: Callable[[str], None]) -> str:
    """The text of a streamed chat completion ("data: {json}" lines, then "data: [DONE]")."""
    if r.status_code != 200:
        raise LlmError(f"HTTP {r.status_code} from the language model", True)
    parts: list[str] = []
    for line in r.iter_lines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        try:
            delta = json.loads(data)["choices"][0].get("delta") or {}
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise LlmError("unreadable reply (not an OpenAI chat completion stream)", True) from exc
        text = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(text, str) and text:
            parts.append(text)
            on_delta(text)
    return "".join(parts)


def _terms(text: str) -> tuple[set[str], set[str]]:
    """The content words (cut to STEM letters) and the numbers (digits only) of a text."""
    words, numbers = set(), set()
    for token in _WORD.findall(_MARKER.sub(" ", text.lower())):
        if token[0].isdigit():
            numbers.add(re.sub(r"\D", "", token))
        elif token not in STOPWORDS and len(token) > 2:
            words.add(token[:STEM])
    return words, numbers


def supported(sentence: str, sources: Sequence[str]) -> bool:
    """Whether the passages a sentence cites back it: its numbers all occur in them, and at least
    MIN_SUPPORT of its content words do (a model that invents a figure or a topic is caught)."""
    words, numbers = _terms(sentence)
    have_words, have_numbers = _terms(" ".join(sources))
    if numbers - have_numbers:
        return False
    return not words or len(words & have_words) / len(words) >= MIN_SUPPORT


def check_answer(content: str, passages: Sequence[str]) -> LlmAnswer:
    """Keep the sentences that cite a given passage and that the passages they cite support; drop
    invalid markers; renumber markers 1..m in order of use. Raises `LlmError` when nothing is kept."""
    if content.strip().upper().startswith("NOT FOUND"):
        raise LlmError("the model found no answer in the passages")
    n_passages = len(passages)
    new_number: dict[int, int] = {}
    cited_text: dict[int, list[str]] = {}
    kept: list[str] = []
    dropped: list[str] = []
    uncited = unsupported = 0
    for sentence in (s.strip() for s in _SENTENCE.split(content) if s.strip()):
        valid = list(dict.fromkeys(int(m) for m in _MARKER.findall(sentence) if 1 <= int(m) <= n_passages))
        if not valid:
            uncited += 1
            dropped.append(sentence)
            continue
        if not supported(sentence, [passages[old - 1] for old in valid]):
            unsupported += 1
            dropped.append(sentence)
            continue
        for old in valid:
            new_number.setdefault(old, len(new_number) + 1)
            cited_text.setdefault(old, []).append(_MARKER.sub("", sentence))

        def renumber(m: re.Match[str]) -> str:
            old = int(m.group(1))
            return f"[{new_number[old]}]" if old in new_number and 1 <= old <= n_passages else ""

        kept.append(re.sub(r"\s+([.!?,;:])", r"\1", _MARKER.sub(renumber, sentence)).strip())
    if not kept:
        if unsupported:
            raise LlmError(f"every sentence unsupported: none of the {uncited + unsupported} sentences is backed "
                           "by the passage it cites")
        raise LlmError("no valid citation: no sentence cites a given passage")
    order = sorted(new_number, key=new_number.get)  # type: ignore[arg-type]
    return LlmAnswer(" ".join(kept), [(old - 1, " ".join(cited_text[old])) for old in order], tuple(dropped))


def llm_answer(settings: Settings, question: str, passages: Sequence[Passage]) -> LlmAnswer:
    """The model's cited answer to the question from the passages that fit the context budget.

    Raises `LlmError` when no passage fits, the call fails, or no sentence of the reply cites a given passage.
    """
    messages, given = _prompt(settings, question, passages)
    return check_answer(guarded_chat(settings, messages), given)


def _prompt(settings: Settings, question: str, passages: Sequence[Passage]) -> tuple[list[dict], list[str]]:
    """The chat messages and the texts of the passages that fit in them; `LlmError` when none fits."""
    messages, used = build_prompt(question, passages, settings.llm_context_tokens)
    if used == 0:
        raise LlmError("no passage fits the context budget")
    return messages, [p.text for p in passages[:used]]


_DONE = object()


def stream_llm_answer(settings: Settings, question: str, passages: Sequence[Passage]) -> Iterator[str | LlmAnswer]:
    """As `llm_answer`, but yields the model's text as it is written (str pieces), then the checked
    `LlmAnswer` last. Raises `LlmError` (after any pieces) when the answer cannot be used."""
    messages, given = _prompt(settings, question, passages)
    pieces: queue.Queue[object] = queue.Queue()
    outcome: dict[str, object] = {}
    finished = threading.Event()

    def on_delta(text: str) -> None:
        if not finished.is_set():  # a call given up on may go on writing in its pool thread
            pieces.put(text)

    def work() -> None:
        try:
            outcome["content"] = guarded_chat(settings, messages, on_delta)
        except Exception as exc:  # noqa: BLE001 - raised again below, in the caller's thread
            outcome["error"] = exc
        finally:
            finished.set()
            pieces.put(_DONE)

    threading.Thread(target=work, name="llm-stream", daemon=True).start()
    while (piece := pieces.get()) is not _DONE:
        yield str(piece)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    yield check_answer(str(outcome["content"]), given)


@dataclass
class ModelGate:
    """What stands between the service and one model endpoint: a bulkhead of its own, and a breaker."""

    bulkhead: Bulkhead
    breaker: CircuitBreaker


_gates: dict[tuple[Any, ...], ModelGate] = {}
_gates_lock = threading.Lock()


def gate_for(settings: Settings) -> ModelGate:
    """The process-wide gate of the settings' endpoint (one per endpoint and limits, made on first use)."""
    key = (settings.llm_base_url, settings.llm_max_concurrent, settings.llm_breaker_failures,
           settings.llm_breaker_cooldown_s)
    with _gates_lock:
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = ModelGate(Bulkhead(settings.llm_max_concurrent, "llm"),
                                           CircuitBreaker(settings.llm_breaker_failures,
                                                          settings.llm_breaker_cooldown_s))
        return gate


def _where(settings: Settings) -> str:
    """The endpoint's host and port, for logs (never its path, query or credentials)."""
    parts = urlsplit(settings.llm_base_url or "")
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def guarded_chat(settings: Settings, messages: list[dict], on_delta: Callable[[str], None] | None = None) -> str:
    """`call_chat` behind the endpoint's gate: refused at once while its breaker is open or every slot is
    taken, and never waited for past `llm_timeout_s`, so a hung model cannot hold the server's threads."""
    gate = gate_for(settings)
    where = _where(settings)
    try:
        gate.breaker.before_call()
    except CircuitOpen as exc:
        log.info("language model at %s skipped: circuit open (%s)", where, exc)
        raise LlmError(f"circuit open: the language model failed {exc.failures} times in a row; "
                       f"skipped for another {exc.retry_in_s:.0f}s") from exc
    try:
        content = gate.bulkhead.run(lambda: call_chat(settings, messages, on_delta), settings.llm_timeout_s)
    except Busy as exc:
        log.warning("language model at %s skipped: busy, %s", where, exc)
        raise LlmError(f"busy: {gate.bulkhead.slots} language model calls already in flight") from exc
    except (DeadlineExceeded, LlmError) as exc:
        if isinstance(exc, LlmError) and not exc.endpoint_failure:
            gate.breaker.record_success()  # the endpoint answered; the answer itself was unusable
            raise
        error = exc if isinstance(exc, LlmError) else \
            LlmError(f"timeout: timed out, no reply within {settings.llm_timeout_s:g}s", True)
        opened = gate.breaker.record_failure()
        log.warning("language model call to %s failed: %s", where, error)
        if opened:
            log.error("language model at %s failed %d times in a row: circuit open, skipped for %gs",
                      where, gate.breaker.failures, gate.breaker.cooldown_s)
        if error is exc:
            raise
        raise error from exc
    gate.breaker.record_success()
    return content
