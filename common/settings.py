"""One typed settings object for every entry point (CLI, API, UI, evaluation).

Values come from environment variables prefixed `COUNCILQA_` (or a `.env` file) and from
command-line flags, which override them. Bad values are refused at start-up with the fix.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"


class Settings(BaseSettings):
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
    embed_batch_size: int = Field(64, ge=1, le=4096)
    query_prefix: str = Field("", description="Prefix added to queries (e.g. 'query: ' for e5 models).")
    passage_prefix: str = Field("", description="Prefix added to passages (e.g. 'passage: ').")

    # Chunking
    chunk_tokens: int = Field(200, ge=32, le=2048, description="Target chunk size in cl100k_base tokens.")
    chunk_overlap: int = Field(30, ge=0, le=512, description="Overlap between consecutive chunks, in tokens.")

    # Vector search
    vector_backend: Literal["faiss", "milvus"] = "faiss"
    faiss_index: Literal["auto", "flat", "hnsw", "ivf"] = "auto"
    exact_search_max: int = Field(200_000, ge=0, description="Above this many passages 'auto' uses IVF.")

    # Service
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    max_query_chars: int = Field(1000, ge=1)
    max_k: int = Field(100, ge=1)
    answer_min_evidence: float = Field(
        0.85, description="Abstain below this evidence score (best sentence cosine + 0.5 x keyword coverage); "
        "calibrated for all-MiniLM-L6-v2 with `python -m evaluation.calibrate`, recalibrate for other models.",
    )

    # UI
    api_url: str = "http://127.0.0.1:8000"
    ui_port: int = Field(8501, ge=1, le=65535)
    api_timeout_s: float = Field(30.0, gt=0)

    # Optional language model (OpenAI-compatible chat endpoint); extractive answers when unset.
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout_s: float = Field(30.0, gt=0)
    llm_context_tokens: int = Field(3000, ge=256)

    @field_validator("api_url", "llm_base_url")
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
        return self

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir or self.index_dir.resolve().parent / ".councilqa-cache"

    @property
    def resolved_model_cache_dir(self) -> Path:
        if self.model_cache_dir:
            return self.model_cache_dir
        xdg = os.environ.get("XDG_CACHE_HOME")
        return (Path(xdg) if xdg else Path.home() / ".cache") / "councilqa"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
