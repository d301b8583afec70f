"""The whole index in Milvus (COUNCILQA_STORE=milvus): the collections a build publishes and a service reads.

Each build publishes three collections named after its build id, and one row set in a shared manifest
collection; the alias `<prefix>` names the live build's passages collection:

    <prefix>_b<build>         one row per passage: its text and every citation field as scalar fields,
                              `bm25` (its keyword terms, analysed) -> `sparse` by Milvus's BM25 function,
                              and the dense `vector`; primary key `row`, the passage's row in the build
    <prefix>_b<build>_docs    documents: metadata (JSON) and cleaned text, in pieces of `TEXT_PIECE` chars
    <prefix>_b<build>_units   sentence vectors for answers, when the build stored them
    <prefix>_manifests        each build's manifest (JSON, in pieces), facets included

A build is atomic the Milvus way: it writes the new collections, checks their counts, writes the
manifest, and only then points the alias at them. A killed build leaves the alias where it was; the
next build drops what the dead one left (`drop_orphans`). The build before the live one is kept, so
API nodes still answering from it finish their requests; older ones are dropped.

The keyword terms are the local index's own (bm25s's tokenizer and Snowball stemmer, indexer/sparse.py),
written space-separated for Milvus's standard analyser: Milvus's BM25 then scores exactly the terms the
local backend scores, so the two backends rank keyword hits alike.

pymilvus is optional: `pip install 'councilqa[milvus]'` (milvus-lite is the embedded server).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from common.fields import FIELDS, FILTER_FIELDS
from common.settings import Settings
from indexer.context import searchable_text
from indexer.models import Passage
from indexer.passages import PassageStore
from indexer.sparse import tokenize

MANIFESTS = "manifests"
TEXT_PIECE = 16_000  # characters per text piece: at most 64,000 bytes of UTF-8, under VARCHAR's 65,535
MAX_VARCHAR = 65_535
INSERT_BATCH = 2_000
PLACEHOLDER_DIM = 2  # Milvus needs a vector field in every collection; documents and manifests hold zeros
BM25_PARAMS = {"bm25_k1": 1.5, "bm25_b": 0.75}  # bm25s's Lucene defaults (indexer/sparse.py)
ANALYZER = {"tokenizer": "standard", "filter": ["lowercase"]}  # the terms arrive tokenized and stemmed


class MilvusStoreError(RuntimeError):
    """Milvus is unreachable, holds no published build, or a build cannot be published; says the fix."""


def milvus_module() -> Any:
    """pymilvus, or a MilvusStoreError with the install hint."""
    try:
        import pymilvus
    except ImportError as exc:
        raise MilvusStoreError(
            "COUNCILQA_STORE=milvus needs pymilvus (and milvus-lite for a local file): "
            "pip install 'councilqa[milvus]', or set COUNCILQA_STORE=local"
        ) from exc
    # Its query iterator warns on every call to milvus-lite (which keeps no server timestamps); errors still show.
    logging.getLogger("pymilvus").setLevel(logging.ERROR)
    return pymilvus


def connect(settings: Settings) -> Any:
    """A MilvusClient for the settings' URI, token and database; MilvusStoreError naming the URI if it fails."""
    pymilvus = milvus_module()
    uri = settings.resolved_milvus_uri
    kwargs: dict[str, Any] = {}
    if settings.milvus_token:
        kwargs["token"] = settings.milvus_token
    if settings.milvus_db:
        kwargs["db_name"] = settings.milvus_db
    lite = not uri.startswith(("http://", "https://", "tcp://", "unix:"))
    if lite:
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
        # milvus-lite's gRPC server keeps gRPC's default ping policy (at most one ping per 5 minutes, none
        # between calls); pymilvus pings every 10 s, even idle, and the server then closes the connection
        # ("Too many pings"), failing every later call of this process. So: no idle pings, rare ones otherwise.
        kwargs["grpc_options"] = {"grpc.keepalive_time_ms": 600_000, "grpc.keepalive_permit_without_calls": 0}
    try:
        client = pymilvus.MilvusClient(uri, **kwargs)
        client.councilqa_lite = lite  # how reads know to query whole (indexer/milvus_read.py)
        return client
    except Exception as exc:
        raise MilvusStoreError(f"Cannot connect to Milvus at {uri} ({exc}). Check COUNCILQA_MILVUS_URI (a "
                               "milvus-lite file path or http://host:19530) and COUNCILQA_MILVUS_TOKEN.") from exc


@dataclass(frozen=True)
class Names:
    """The collection names of one build under one prefix."""

    prefix: str
    build: str

    @property
    def passages(self) -> str:
        """The passages collection (the one the alias names when live)."""
        return f"{self.prefix}_b{self.build}"

    @property
    def docs(self) -> str:
        """The documents collection."""
        return f"{self.passages}_docs"

    @property
    def units(self) -> str:
        """The sentence vectors collection."""
        return f"{self.passages}_units"

    @property
    def all(self) -> tuple[str, str, str]:
        """Every collection of the build."""
        return self.passages, self.docs, self.units

    @classmethod
    def of_collection(cls, prefix: str, collection: str) -> Names | None:
        """The names of the build a collection belongs to, None for a collection of no build of `prefix`."""
        head = f"{prefix}_b"
        if not collection.startswith(head):
            return None
        build = collection[len(head):].split("_", 1)[0]
        return cls(prefix, build) if build.isalnum() else None


def manifests_collection(prefix: str) -> str:
    """The shared collection of every build's manifest under `prefix`."""
    return f"{prefix}_{MANIFESTS}"


def live_names(client: Any, prefix: str) -> Names | None:
    """The build the alias `prefix` points at, None when there is no such alias."""
    try:
        if prefix not in client.list_aliases().get("aliases", []):
            return None
        collection = client.describe_alias(prefix)["collection_name"]
    except Exception:  # an unreachable or empty server: no live build
        return None
    return Names.of_collection(prefix, collection)


def live_build_id(settings: Settings) -> str | None:
    """The id of the build the alias points at now (None when there is none): how a service sees a new build."""
    client = connect(settings)
    try:
        names = live_names(client, settings.milvus_prefix)
        return names.build if names else None
    finally:
        client.close()


# -- schemas ----------------------------------------------------------------------------------------
def _varchar(schema: Any, name: str, *, nullable: bool = False, analysed: bool = False) -> None:
    from pymilvus import DataType

    kwargs: dict[str, Any] = {"max_length": MAX_VARCHAR, "nullable": nullable}
    if analysed:
        kwargs.update(enable_analyzer=True, analyzer_params=ANALYZER)
    schema.add_field(name, DataType.VARCHAR, **kwargs)


def _passage_schema(client: Any, dimension: int) -> Any:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    for name in ("pid", "doc_id", "text", "turns"):
        _varchar(schema, name)
    for name in ("char_start", "char_end", "n_tokens"):
        schema.add_field(name, DataType.INT64)
    schema.add_field("speakers", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4096,
                     max_length=MAX_VARCHAR)
    for f in FIELDS:
        if f.type is int:
            schema.add_field(f.name, DataType.INT64, nullable=True)
        else:
            _varchar(schema, f.name, nullable=True)
    _varchar(schema, "bm25", analysed=True)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_function(Function(name="bm25_terms", function_type=FunctionType.BM25, input_field_names=["bm25"],
                                 output_field_names=["sparse"]))
    return schema


def _passage_indexes(client: Any, spec: tuple[str, dict[str, Any]]) -> Any:
    params = client.prepare_index_params()
    params.add_index(field_name="vector", index_type=spec[0], metric_type="IP", params=spec[1])
    params.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params=BM25_PARAMS)
    for f in FILTER_FIELDS:  # scalar indexes make the filters' expressions cheap on a server
        if f.filter in ("exact", "date", "since"):
            params.add_index(field_name=f.name, index_type="INVERTED")
    params.add_index(field_name="doc_id", index_type="INVERTED")
    return params


def _docs_schema(client: Any) -> Any:
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("key", DataType.INT64, is_primary=True)
    _varchar(schema, "doc_id")
    schema.add_field("piece", DataType.INT64)
    _varchar(schema, "text")
    for name in ("meta", "content_hash", "access"):
        _varchar(schema, name, nullable=True)  # set on piece 0 only
    for name in ("n_passages", "n_chars"):
        schema.add_field(name, DataType.INT64, nullable=True)
    schema.add_field("placeholder", DataType.FLOAT_VECTOR, dim=PLACEHOLDER_DIM)
    return schema


def _units_schema(client: Any, dimension: int) -> Any:
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    for name in ("key", "row", "start", "end"):
        schema.add_field(name, DataType.INT64, is_primary=name == "key")
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    return schema


def _manifest_schema(client: Any) -> Any:
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
    _varchar(schema, "build")
    schema.add_field("piece", DataType.INT64)
    _varchar(schema, "text")
    schema.add_field("placeholder", DataType.FLOAT_VECTOR, dim=PLACEHOLDER_DIM)
    return schema


def _create(client: Any, name: str, schema: Any, indexes: Any) -> None:
    """A new collection with its indexes, loaded. Strong consistency: a count or read right after a write sees
    it. The indexes are not waited for one by one (pymilvus polls each every half second); loading waits."""
    client.create_collection(name, schema=schema, consistency_level="Strong")
    client.create_index(name, indexes, sync=False)
    client.load_collection(name)


def _flat_index(client: Any, field: str) -> Any:
    params = client.prepare_index_params()
    params.add_index(field_name=field, index_type="FLAT", metric_type="IP")
    return params


def dense_spec(n: int, exact_max: int) -> tuple[str, dict[str, Any]]:
    """The vector index for `n` passages, as the local backend's "auto": exact (FLAT) up to `exact_max`, else
    IVF with 8-bit scalar quantisation and the local IVF's list count (Milvus standalone and milvus-lite both
    build it; `search_params` gives its nprobe)."""
    if n <= exact_max:
        return "FLAT", {}
    return "IVF_SQ8", {"nlist": max(1, min(65_536, int(4 * n ** 0.5), n // 39))}


def search_params(spec: str, build: dict[str, Any]) -> dict[str, Any]:
    """The search parameters of a vector index `dense_spec` chose: the local IVF's nprobe (3% of lists + 8)."""
    if spec != "IVF_SQ8":
        return {}
    nlist = int(build.get("nlist", 1))
    return {"nprobe": max(1, min(nlist, int(round(nlist * 0.03)) + 8))}


# -- publishing -------------------------------------------------------------------------------------
def _pieces(text: str, size: int = TEXT_PIECE) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def _check_bytes(value: str, what: str) -> str:
    if len(value.encode("utf-8")) > MAX_VARCHAR:
        raise MilvusStoreError(f"{what} is over {MAX_VARCHAR:,} bytes, Milvus's longest text field. Lower "
                               "COUNCILQA_CHUNK_TOKENS, or check the file it comes from.")
    return value


def passage_rows(passages: Sequence[Passage], vectors: np.ndarray, with_context: bool) -> list[dict[str, Any]]:
    """Passages as rows of the passages collection (their keyword terms tokenized in one call)."""
    terms = tokenize([searchable_text(p, with_context) for p in passages])
    return [passage_row(p, vectors[p.row or 0], t) for p, t in zip(passages, terms, strict=True)]


def passage_row(p: Passage, vector: np.ndarray, terms: Sequence[str]) -> dict[str, Any]:
    """One passage as a row of the passages collection: its data, its keyword terms and its vector."""
    d = p.to_dict()
    row: dict[str, Any] = {"row": int(p.row or 0), "pid": d["id"], "doc_id": d["doc_id"],
                           "text": _check_bytes(d["text"], f"Passage {d['id']}"),
                           "turns": _check_bytes(json.dumps(d["turns"], ensure_ascii=False), f"Turns of {d['id']}"),
                           "char_start": int(d["char_start"]), "char_end": int(d["char_end"]),
                           "n_tokens": int(d["n_tokens"] or 0), "speakers": list(d["speakers"])}
    for f in FIELDS:
        value = d.get(f.name)
        row[f.name] = None if value is None else (int(value) if f.type is int else str(value))
    row["bm25"] = _check_bytes(" ".join(terms), f"The keyword terms of passage {d['id']}")
    row["vector"] = np.asarray(vector, dtype=np.float32).tolist()
    return row


def _document_rows(store: PassageStore) -> Iterator[dict[str, Any]]:
    """Each document as rows of the documents collection: its text in pieces, its metadata and counts on the
    first (the counts from the store's document list, so no passage is read twice)."""
    hashes = store.document_hashes()
    total, _ = store.documents(1, 0)
    key = 0
    for head in store.documents(total, 0)[1]:
        doc_id = head["doc_id"]
        meta, text = store.document(doc_id)  # type: ignore[misc]
        meta_json = _check_bytes(json.dumps(meta.to_dict(), ensure_ascii=False), f"The metadata of {doc_id}")
        for i, piece in enumerate(_pieces(text)):
            first = i == 0
            yield {"key": key, "doc_id": doc_id, "piece": i, "text": piece,
                   "meta": meta_json if first else None, "content_hash": hashes.get(doc_id) if first else None,
                   "access": (meta.access or "public") if first else None,
                   "n_passages": int(head["n_passages"]) if first else None,
                   "n_chars": int(head["n_chars"]) if first else None, "placeholder": [0.0] * PLACEHOLDER_DIM}
            key += 1


def _insert(client: Any, collection: str, rows: Iterator[dict[str, Any]] | Sequence[dict[str, Any]]) -> int:
    batch: list[dict[str, Any]] = []
    n = 0
    for row in rows:
        batch.append(row)
        if len(batch) >= INSERT_BATCH:
            client.insert(collection, batch)
            n, batch = n + len(batch), []
    if batch:
        client.insert(collection, batch)
        n += len(batch)
    return n


def count_rows(client: Any, collection: str) -> int:
    """The number of rows in a collection."""
    got = client.query(collection, filter="", output_fields=["count(*)"])
    return int(got[0]["count(*)"]) if got else 0


def _write_manifest(client: Any, prefix: str, build: str, manifest: dict[str, Any]) -> None:
    collection = manifests_collection(prefix)
    if not client.has_collection(collection):
        _create(client, collection, _manifest_schema(client), _flat_index(client, "placeholder"))
    text = json.dumps(manifest, ensure_ascii=False)
    rows = [{"key": f"{build}:{i}", "build": build, "piece": i, "text": piece,
             "placeholder": [0.0] * PLACEHOLDER_DIM} for i, piece in enumerate(_pieces(text))]
    client.upsert(collection, rows)
    client.flush(collection)


def read_manifest(client: Any, prefix: str, build: str) -> dict[str, Any] | None:
    """The manifest a build published, None when it has none (it never finished)."""
    collection = manifests_collection(prefix)
    if not client.has_collection(collection):
        return None
    client.load_collection(collection)  # a collection another client made is released until loaded
    rows = client.query(collection, filter=f"build == {json.dumps(build)}", output_fields=["piece", "text"])
    if not rows:
        return None
    text = "".join(r["text"] for r in sorted(rows, key=lambda r: r["piece"]))
    try:
        return dict(json.loads(text))
    except ValueError:
        return None


def publish(folder: Path, vectors: np.ndarray, units: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
            manifest: dict[str, Any], settings: Settings) -> Names:
    """Publish the complete build in `folder` (its passage store) with its vectors and sentence vectors as new
    collections, then point the alias at them; returns their names. What a killed or failed publish left is
    dropped here or by the next build; the alias never points at a collection that is not complete."""
    client = connect(settings)
    prefix = settings.milvus_prefix
    names = Names(prefix, str(manifest["build_id"]))
    try:
        drop_orphans(client, prefix)
        before = live_names(client, prefix)
        store = PassageStore(folder / "passages.sqlite")
        try:
            spec = _publish_collections(client, names, store, vectors, units, manifest, settings)
            published = {**manifest, "store": "milvus", "collections": list(names.all),
                         "dense": {**manifest.get("dense", {}), "milvus_index": spec[0],
                                   "milvus_search": search_params(*spec)},
                         "facets": {"all": store.facets(), "public": store.facets(public_only=True)},
                         "published_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                         "previous_build": before.build if before else None}
        finally:
            store.close()
        _write_manifest(client, prefix, names.build, published)
        _switch_alias(client, prefix, names.passages)
        drop_orphans(client, prefix)
    except MilvusStoreError:
        _drop_build(client, names)
        raise
    except Exception as exc:
        _drop_build(client, names)
        raise MilvusStoreError(f"Publishing the build to Milvus at {settings.resolved_milvus_uri} failed ({exc}); "
                               "the service still reads the build before it. Fix the cause and run the build "
                               "again.") from exc
    finally:
        client.close()
    return names


def _publish_collections(client: Any, names: Names, store: PassageStore, vectors: np.ndarray,
                         units: tuple[np.ndarray, np.ndarray, np.ndarray] | None, manifest: dict[str, Any],
                         settings: Settings) -> tuple[str, dict[str, Any]]:
    n = store.count()
    dimension = int(manifest["model"]["dimension"])
    for name in names.all:
        if client.has_collection(name):
            client.drop_collection(name)
    spec = dense_spec(n, settings.exact_search_max)
    _create(client, names.passages, _passage_schema(client, dimension), _passage_indexes(client, spec))
    rows = (row for start in range(0, n, INSERT_BATCH)
            for row in passage_rows(store.get(range(start, min(n, start + INSERT_BATCH))), vectors,
                                    settings.context_bm25))
    written = _insert(client, names.passages, rows)
    _create(client, names.docs, _docs_schema(client), _flat_index(client, "placeholder"))
    _insert(client, names.docs, _document_rows(store))
    _create(client, names.units, _units_schema(client, dimension), _flat_index(client, "vector"))
    if units is not None:
        unit_vectors, spans, ptr = units
        rows_of_unit = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
        _insert(client, names.units, ({"key": i, "row": int(rows_of_unit[i]), "start": int(spans[i][0]),
                                       "end": int(spans[i][1]), "vector": np.asarray(unit_vectors[i], np.float32)
                                       .tolist()} for i in range(len(spans))))
    for name in names.all:
        client.flush(name)
    counted = count_rows(client, names.passages)
    if written != n or counted != n:
        raise MilvusStoreError(f"Milvus holds {counted:,} of the build's {n:,} passages after publishing; "
                               "run the build again.")
    return spec


def _switch_alias(client: Any, prefix: str, collection: str) -> None:
    """Point the alias at `collection`: the moment the new build goes live, for every node at once."""
    if prefix in client.list_aliases().get("aliases", []):
        client.alter_alias(collection, prefix)
    else:
        client.create_alias(collection, prefix)


def _drop_build(client: Any, names: Names) -> None:
    """Drop a build's collections and manifest (never the live one's)."""
    live = live_names(client, names.prefix)
    if live is not None and live.build == names.build:
        return
    for name in names.all:
        try:
            if client.has_collection(name):
                client.drop_collection(name)
        except Exception:  # best effort: the next build's `drop_orphans` tries again
            pass
    collection = manifests_collection(names.prefix)
    try:
        if client.has_collection(collection):
            client.delete(collection, filter=f"build == {json.dumps(names.build)}")
    except Exception:
        pass


def drop_orphans(client: Any, prefix: str) -> list[str]:
    """Drop the collections of builds under `prefix` other than the live one and the one published before it
    (what killed builds left, and builds two or more behind); returns the build ids dropped."""
    live = live_names(client, prefix)
    builds: dict[str, Names] = {}
    for collection in client.list_collections():
        names = Names.of_collection(prefix, collection)
        if names is not None:
            builds[names.build] = names
    keep: set[str] = set()
    if live is not None:
        keep.add(live.build)
        # the one before it: API nodes may still be answering from it until they reload
        previous = (read_manifest(client, prefix, live.build) or {}).get("previous_build")
        if previous:
            keep.add(str(previous))
    dropped = []
    for build, names in builds.items():
        if build not in keep:
            _drop_build(client, names)
            dropped.append(build)
    return dropped
