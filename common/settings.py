"""One typed settings object for every entry point (CLI, API, UI, evaluation).

Values come from environment variables prefixed `COUNCILQA_` (or a `.env` file) and from
command-line flags, which override them. Bad values are refused at start-up with the fix.
"""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"


def is_loopback_url(url: str) -> bool:
    """True when the URL's host is this machine: `localhost`, 127.0.0.0/8 or ::1."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    """Every setting of the system, read from `COUNCILQA_*` environment variables or `.env`, checked on creation."""

    model_config = SettingsConfigDict(env_prefix="COUNCILQA_", env_file=".env", extra="ignore")

    # Index and corpus
    index_dir: Path = Field(Path("index"), description="Folder holding the built index.")
    cache_dir: Path | None = Field(
        None, description="Embedding cache folder; defaults to a `.councilqa-cache` folder beside the index."
    )

    model_cache_dir: Path | None = Field(
        None, description="Where exported and quantised models are kept (ONNX, OpenVINO); defaults to "
        "$XDG_CACHE_HOME/councilqa or ~/.cache/councilqa. Shared by every index built with the same model.",
    )

    # Embedding
    model: str = Field(
        BUNDLED_MODEL,
        description="sentence-transformers model: the bundled all-MiniLM-L6-v2, a hub name or a local path.",
    )
    embed_backend: Literal["auto", "torch-fp32", "torch-bf16", "onnx-int8", "openvino-int8"] = Field(
        "auto", description="auto picks the fastest this machine supports: openvino-int8 where OpenVINO and "
        "NNCF are installed and the CPU has int8 dot-product instructions, else torch-bf16 where it has native "
        "bfloat16, else torch-fp32.",
    )
    query_backend: Literal["auto", "same", "onnx-fp32"] = Field(
        "auto", description="What encodes queries in a running service: auto takes ONNX Runtime on the model's "
        "float32 export (the same vectors as float32 PyTorch, about four times faster for a query) where "
        "onnxruntime is installed and the passages are embedded with PyTorch; same uses the passage embedder.",
    )
    query_threads: int = Field(
        1, ge=0, le=256, description="Threads of the ONNX query encoder (0: one per CPU). One thread keeps an "
        "uncached query at the same speed when the other cores are busy (bench/bench_query_encoding.py: p95 "
        "15.6 ms with a core busy, against 16.8 ms for two threads), and leaves them to BM25 and other requests.",
    )
    embed_batch_size: int = Field(64, ge=1, le=4096)
    query_prefix: str = Field("", description="Prefix added to queries (e.g. 'query: ' for e5 models).")
    passage_prefix: str = Field("", description="Prefix added to passages (e.g. 'passage: ').")

    # Chunking
    chunk_tokens: int = Field(200, ge=32, le=2048, description="Target chunk size in cl100k_base tokens.")
    chunk_overlap: int = Field(30, ge=0, le=512, description="Overlap between consecutive chunks, in tokens.")

    # What each retriever reads of a passage
    context_bm25: bool = Field(
        True, description="Index each passage for keyword search with its context (document title, council, "
        "committee, agenda item, heading, speakers: the fields marked `context` in common/fields.py) beside its text.",
    )
    context_dense: bool = Field(
        True, description="Embed each passage with the same context line before its text.",
    )

    # Hybrid fusion. Chosen on the development set (eval/gold_shared.jsonl, other bodies' papers) and checked
    # on eval/gold.jsonl: see the ablation table in eval/README.md.
    fusion: Literal["rrf", "convex"] = Field(
        "convex", description="How hybrid search merges the BM25 and dense lists: rrf (weighted reciprocal rank "
        "fusion) or convex (a weighted sum of min-max normalised scores).",
    )
    fusion_dense_weight: float = Field(
        0.45, ge=0, le=1, description="The dense list's weight: its RRF votes count this much (BM25's count 1), "
        "or its share of a convex combination.",
    )
    rrf_k: int = Field(60, ge=1, le=1000, description="RRF's rank constant k: score = weight / (k + rank).")
    sentence_search: bool = Field(
        False, description="Dense search scores each passage by the better of its own vector and its best "
        "sentence's (the sentence vectors the build stores; nothing changes for an index without them).",
    )
    feedback_passages: int = Field(
        0, ge=0, le=20, description="Hybrid search: move the dense query towards the mean vector of this many "
        "of BM25's best passages before searching (pseudo-relevance feedback); 0 turns it off.",
    )
    feedback_weight: float = Field(0.5, ge=0, le=4, description="The feedback centroid's weight (the query's is 1).")
    year_filters: bool = Field(
        False, description="A year named alone in a question ('in 2008') filters by meeting date; false: it only "
        "boosts passages of that year (a month or a range always filters).",
    )

    # Vector search
    vector_backend: Literal["faiss", "milvus"] = "faiss"
    faiss_index: Literal["auto", "flat", "hnsw", "ivf"] = "auto"
    sentence_vectors_max: int = Field(
        50_000, ge=0, description="Up to this many passages the build also embeds every quotable sentence, so "
        "answers encode nothing but the question (float16, about 8 KB a passage); above it, answers encode the "
        "sentences they score on demand. 0: never.",
    )
    exact_search_max: int = Field(200_000, ge=0, description="Above this many passages 'auto' uses IVF.")

    # Where the service reads the index from (indexer/milvus_store.py)
    store: Literal["local", "milvus"] = Field(
        "local", description="local: the index folder (FAISS, bm25s, SQLite). milvus: everything the service reads "
        "(passages, citations, BM25, vectors, manifest) in Milvus; a build still writes its folder as the "
        "builder's working copy, then publishes it as a new collection and switches an alias to it.",
    )
    milvus_uri: str | None = Field(
        None, description="A milvus-lite file path, or http(s)://host:19530 for Milvus standalone or distributed; "
        "default: `milvus.db` beside the index folder (milvus-lite).",
    )
    milvus_fusion: Literal["project", "rrf", "weighted"] = Field(
        "project", description="Hybrid search on the Milvus store: the project's fusion of the BM25 and dense "
        "lists (COUNCILQA_FUSION; the same ranking as the local store), or Milvus's own hybrid_search with its "
        "RRF ranker (k = COUNCILQA_RRF_K) or its weighted ranker (COUNCILQA_FUSION_DENSE_WEIGHT).",
    )
    milvus_token: str | None = Field(None, repr=False, description="Milvus token ('user:password' or an API key).")
    milvus_db: str | None = Field(None, description="Milvus database; default: the server's default database.")
    milvus_prefix: str = Field(
        "councilqa", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,31}$",
        description="Names the alias the service reads (<prefix>) and each build's collections (<prefix>_b<id>...): "
        "one prefix per index, so several indexes can share one Milvus.",
    )

    # Service
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # Who may call: API keys, kept (hashed) in the service's state (core/keys.py)
    state_dir: Path | None = Field(
        None, description="The service's own state (API keys): one SQLite file in this folder; defaults to a "
        "`.councilqa-state` folder beside the index folder. Never inside the index folder, which builds replace.",
    )
    public: bool = Field(False, description="Serve on an address other than loopback with no API key created: "
                         "public papers to anyone who can reach the port. Refused unless set explicitly.")
    # Alerts of saved searches by email (service/delivery.py); feeds need no setting
    smtp_host: str | None = Field(None, description="SMTP server for alert digests; unset: no email is sent "
                                  "(digests wait until it is set).")
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_tls: Literal["starttls", "ssl", "none"] = Field("starttls", description="starttls (port 587), ssl (465), "
                                                         "or none (a relay on this machine only).")
    smtp_user: str | None = None
    smtp_password: str | None = Field(None, repr=False)
    smtp_from: str = Field("councilqa@localhost", description="The From address of alert digests.")
    auth_max_failures: int = Field(10, ge=1, description="Failed key attempts one client address may make in "
                                   "`auth_failure_window_s` before its requests are refused (429).")
    auth_failure_window_s: float = Field(60.0, gt=0, description="The window failed key attempts are counted in.")
    reload_check_s: float = Field(
        2.0, ge=0, description="How often (seconds, between requests) a running service looks for a new build "
        "of its index and swaps it in whole; 0 turns this off (SIGHUP still reloads).",
    )
    query_batch: int = Field(
        32, ge=1, le=512, description="Most queries of concurrent requests encoded in one call (1: one at a time).",
    )
    max_query_chars: int = Field(1000, ge=1)
    max_k: int = Field(100, ge=1)
    max_body_bytes: int = Field(65_536, ge=1024, description="Largest request body accepted; larger ones get a "
                                "413 before they are read.")
    body_read_timeout_s: float = Field(10.0, gt=0, description="A request body still arriving after this many "
                                       "seconds gets a 408 (slow clients must not hold connections).")
    keep_alive_timeout_s: int = Field(5, ge=1, description="uvicorn's timeout_keep_alive: idle keep-alive "
                                      "connections are closed after this many seconds.")
    max_connections: int | None = Field(None, ge=1, description="uvicorn's limit_concurrency: above this many "
                                        "connections at once new ones get a 503; unset, no limit.")
    expose_details: bool = Field(False, description="Show the index's absolute path in /health and library "
                                 "versions and corpus paths in /stats; off by default, as anyone who can reach the "
                                 "API sees them.")
    access_log: bool = Field(True, description="Log one line per request (uvicorn's access log); a busy "
                             "service that logs at a proxy can turn it off for about a tenth more requests a second.")
    log_queries: bool = Field(False, description="Let the access log show query strings (what people searched "
                              "for); off by default, so it shows the path only.")
    answer_min_evidence: float = Field(
        0.83, description="Abstain below this evidence score (best sentence cosine + 0.5 x keyword coverage); "
        "calibrated for all-MiniLM-L6-v2 on the development set eval/gold_shared.jsonl (other bodies' papers) "
        "with `python -m evaluation.calibrate`; recalibrate for other models.",
    )

    # UI
    api_url: str = "http://127.0.0.1:8000"
    ui_port: int = Field(8501, ge=1, le=65535)
    ui_url: str | None = Field(None, description="The UI's address as its users reach it, for links to the exact "
                               "place in a paper in tool results (MCP); default http://127.0.0.1:<ui_port>.")
    api_key: str | None = Field(None, repr=False, description="The API key the UI, `councilqa eval --url` and other "
                                "clients send to the service (`Authorization: Bearer …`), where the service has keys.")
    api_timeout_s: float = Field(30.0, gt=0)

    # Optional language model (OpenAI-compatible chat endpoint); extractive answers when unset.
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout_s: float = Field(30.0, gt=0)
    llm_context_tokens: int = Field(3000, ge=256)
    llm_max_tokens: int = Field(300, ge=16, le=4096, description="The most tokens the model may write: an answer "
                                "is one to four sentences, and a small model left unbounded can loop until "
                                "the timeout.")
    llm_max_concurrent: int = Field(4, ge=1, description="Model calls in flight at once; an answer that finds "
                                    "every slot taken falls back to the extractive one at once.")
    llm_breaker_failures: int = Field(5, ge=1, description="Failures or timeouts in a row after which the model "
                                      "is skipped for `llm_breaker_cooldown_s`.")
    llm_breaker_cooldown_s: float = Field(30.0, gt=0, description="How long the model is skipped once the "
                                          "breaker opens; then one trial call decides.")

    @field_validator("api_url", "llm_base_url", "ui_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} is not an http(s) URL; give e.g. http://127.0.0.1:8000")
        return v.rstrip("/") if v else v

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_tokens ({self.chunk_tokens})"
            )
        if self.llm_base_url and not self.llm_model:
            raise ValueError("COUNCILQA_LLM_BASE_URL is set but COUNCILQA_LLM_MODEL is not; set both or neither")
        if self.llm_base_url and self.llm_base_url.startswith("http://") and not is_loopback_url(self.llm_base_url):
            raise ValueError(
                f"COUNCILQA_LLM_BASE_URL {self.llm_base_url!r} is plain http to another machine: the API key and "
                "the passages would cross the network in clear. Use https://, or reach the model through "
                "127.0.0.1, ::1 or localhost (e.g. an SSH tunnel)."
            )
        state, index = self.resolved_state_dir.resolve(), self.index_dir.resolve()
        if state == index or index in state.parents:
            raise ValueError(
                f"COUNCILQA_STATE_DIR {str(self.state_dir)!r} is inside the index folder {str(self.index_dir)!r}, "
                "which every build replaces (and the keys with it). Put it beside the index, e.g. "
                f"{index.parent / '.councilqa-state'}"
            )
        return self

    @property
    def resolved_ui_url(self) -> str:
        """The UI's address for links: `ui_url`, else the local UI on `ui_port`."""
        return self.ui_url or f"http://127.0.0.1:{self.ui_port}"

    @property
    def resolved_milvus_uri(self) -> str:
        """The Milvus address: `milvus_uri`, else a milvus-lite file `milvus.db` beside the index folder."""
        return self.milvus_uri or str(self.index_dir.resolve().parent / "milvus.db")

    @property
    def resolved_state_dir(self) -> Path:
        """The service's state folder: `state_dir` if set, else `.councilqa-state` beside the index folder."""
        return self.state_dir or self.index_dir.resolve().parent / ".councilqa-state"

    @property
    def resolved_cache_dir(self) -> Path:
        """The embedding cache folder: `cache_dir` if set, else `.councilqa-cache` beside the index folder."""
        return self.cache_dir or self.index_dir.resolve().parent / ".councilqa-cache"

    @property
    def resolved_model_cache_dir(self) -> Path:
        """Where exported models are kept: `model_cache_dir`, else `councilqa` under $XDG_CACHE_HOME or ~/.cache."""
        if self.model_cache_dir:
            return self.model_cache_dir
        xdg = os.environ.get("XDG_CACHE_HOME")
        return (Path(xdg) if xdg else Path.home() / ".cache") / "councilqa"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings from the environment, read once per process and shared."""
    return Settings()
