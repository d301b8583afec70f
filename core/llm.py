"""Optional answers written by a language model behind an OpenAI-compatible chat endpoint.

The passages go into the prompt numbered [1]..[n], within `llm_context_tokens` (cl100k_base).
The reply is checked: every kept sentence must carry a marker that points at a real passage;
sentences without one are dropped, markers are renumbered in order of first use. Any failure
raises `LlmError`, and the engine falls back to the extractive answer.

Calls go through one `ModelGate` per endpoint (`core.guard`): at most `llm_max_concurrent` at once
on threads of their own, none waited for past `llm_timeout_s`, and none at all for
`llm_breaker_cooldown_s` after `llm_breaker_failures` endpoint failures in a row. Each failure is
logged (logger `councilqa.llm`) with its reason.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

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


def call_chat(settings: Settings, messages: list[dict]) -> str:
    """The model's reply to the messages, stripped; raises `LlmError` on a timeout, HTTP error or unusable reply."""
    headers = {"Authorization": f"Bearer {settings.llm_api_key}"} if settings.llm_api_key else {}
    body = {"model": settings.llm_model, "messages": messages, "temperature": 0}
    try:
        r = httpx.post(chat_url(settings.llm_base_url or ""), json=body, headers=headers,
                       timeout=settings.llm_timeout_s)
    except httpx.TimeoutException as exc:
        raise LlmError(f"timeout: timed out, no reply within {settings.llm_timeout_s:g}s", True) from exc
    except httpx.ConnectError as exc:
        raise LlmError(f"request failed: endpoint unreachable ({type(exc).__name__})", True) from exc
    except httpx.HTTPError as exc:
        raise LlmError(f"request failed: {type(exc).__name__}", True) from exc
    if r.status_code != 200:
        raise LlmError(f"HTTP {r.status_code} from the language model", True)
    try:
        content = r.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise LlmError("unreadable reply (not an OpenAI chat completion)", True) from exc
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
    """The model's cited answer to the question from the passages that fit the context budget.

    Raises `LlmError` when no passage fits, the call fails, or no sentence of the reply cites a given passage.
    """
    messages, used = build_prompt(question, passages, settings.llm_context_tokens)
    if used == 0:
        raise LlmError("no passage fits the context budget")
    return check_answer(guarded_chat(settings, messages), used)


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


def guarded_chat(settings: Settings, messages: list[dict]) -> str:
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
        content = gate.bulkhead.run(lambda: call_chat(settings, messages), settings.llm_timeout_s)
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
