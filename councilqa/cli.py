"""The `councilqa` command: one thin shell over the same library functions the API and UI use."""

from __future__ import annotations

import functools
import inspect
import os
import signal
import subprocess
import sys
import time
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from common.fields import FILTER_NAMES, MODES, filter_help
from common.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Semantic search and cited answers over council papers.")

IndexDir = Annotated[Path | None, typer.Option("--index-dir", help="Index folder [env COUNCILQA_INDEX_DIR].")]
Model = Annotated[str | None, typer.Option("--model", help="sentence-transformers model name or path.")]
NoAutoFilters = Annotated[bool, typer.Option("--no-auto-filters", help="Do not read filters from the question.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON.")]
Restricted = Annotated[bool, typer.Option("--restricted", help="Include restricted papers (exempt, not for "
                                          "publication); by default only public ones are searched.")]


def with_filter_options(fn: Callable[..., None]) -> Callable[..., None]:
    """Give a command one option per filter of the field table (`--council`, `--date-from` ...).

    The command receives them gathered in its `filters` argument, so a field declared in
    common/fields.py is a CLI option with no change here.
    """
    own = [p for p in inspect.signature(fn).parameters.values() if p.name != "filters"]
    extra = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
            str | None, typer.Option(f"--{name.replace('_', '-')}", help=filter_help(name))])
        for name in FILTER_NAMES
    ]

    @functools.wraps(fn)
    def command(*args: Any, **kwargs: Any) -> None:
        filters = {name: kwargs.pop(name, None) for name in FILTER_NAMES}
        fn(*args, filters=filters, **kwargs)

    hints = typing.get_type_hints(fn, include_extras=True)
    params = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in own]
    positional = [p for p in params if p.kind is not inspect.Parameter.KEYWORD_ONLY]
    keyword = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params if p not in positional]
    command.__signature__ = inspect.Signature(positional + keyword + extra)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in positional + keyword + extra}
    del command.__wrapped__  # typer must read the new signature, not the wrapped one
    return command


Store = Annotated[str | None, typer.Option(
    "--store", help="local: the index folder; milvus: the build published to Milvus (COUNCILQA_MILVUS_URI) "
    "[env COUNCILQA_STORE].")]


def make_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with flags that were given taking precedence."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        typer.secho(f"Invalid settings: {problems}", fg="red", err=True)
        raise typer.Exit(2) from None


@app.command()
def index(
    paths: Annotated[list[Path], typer.Argument(help="Folders or files of council papers.")],
    index_dir: IndexDir = None,
    model: Model = None,
    backend: Annotated[str | None, typer.Option(
        "--embed-backend", help="auto|torch-fp32|torch-bf16|onnx-int8|openvino-int8")] = None,
    faiss_index: Annotated[str | None, typer.Option("--faiss-index", help="auto|flat|hnsw|ivf")] = None,
    vector_backend: Annotated[str | None, typer.Option("--vector-backend", help="faiss|milvus")] = None,
    store: Store = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if nothing changed.")] = False,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Build from exactly PATHS: forget the folders the index was built from before, "
                          "and remove their documents.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Index folders of .txt, .md, .html, .pdf and .docx council papers.

    The index remembers the folders it was built from: PATHS are added to them and all are read again,
    so `councilqa index extra/` adds extra/ and keeps the rest. A document is removed only when its file
    is gone; --replace builds from exactly PATHS.
    """
    from core.build import IndexBuildError
    from core.build import index as build_index

    settings = make_settings(index_dir=index_dir, model=model, embed_backend=backend, faiss_index=faiss_index,
                             vector_backend=vector_backend, store=store)
    try:
        report = build_index(paths, settings, progress=not quiet, force=force, replace=replace)
    except IndexBuildError as exc:
        typer.secho(f"Error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo(report.summary())
    from councilqa.terminal import run_alerts_if_followed

    run_alerts_if_followed(settings)


@app.command()
def serve(
    index_dir: IndexDir = None,
    host: Annotated[str | None, typer.Option("--host")] = None,
    port: Annotated[int | None, typer.Option("--port")] = None,
    model: Model = None,
    public: Annotated[bool, typer.Option(
        "--public", help="Serve public papers to anyone who can reach a non-loopback --host, with no API key "
        "created [env COUNCILQA_PUBLIC].")] = False,
    store: Store = None,
) -> None:
    """Start the HTTP API over an index (its folder, or the build published to Milvus)."""
    from councilqa.terminal import serve as run_serve

    run_serve(make_settings(index_dir=index_dir, host=host, port=port, model=model, public=public or None,
                            store=store))


@app.command()
@with_filter_options
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", help="Number of passages.")] = 10,
    mode: Annotated[str, typer.Option("--mode", help="|".join(MODES))] = "hybrid",
    no_auto_filters: NoAutoFilters = False,
    as_json: AsJson = False,
    restricted: Restricted = False,
    index_dir: IndexDir = None,
    filters: dict[str, str | None] | None = None,
) -> None:
    """Ranked passages with citations, in the terminal."""
    from councilqa.terminal import search as run_search

    run_search(make_settings(index_dir=index_dir), query, k=k, mode=mode, filters=filters or {},
               auto_filters=not no_auto_filters, as_json=as_json, restricted=restricted)


@app.command()
@with_filter_options
def ask(
    question: Annotated[str, typer.Argument(help="Your question.")],
    no_auto_filters: NoAutoFilters = False,
    as_json: AsJson = False,
    restricted: Restricted = False,
    index_dir: IndexDir = None,
    filters: dict[str, str | None] | None = None,
) -> None:
    """A cited answer, in the terminal."""
    from councilqa.terminal import ask as run_ask

    run_ask(make_settings(index_dir=index_dir), question, filters=filters or {}, auto_filters=not no_auto_filters,
            as_json=as_json, restricted=restricted)


@app.command()
def ui(
    api_url: Annotated[str | None, typer.Option("--api-url", help="The service's URL.")] = None,
    port: Annotated[int | None, typer.Option("--port")] = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
) -> None:
    """Start the Streamlit front end (it talks to the service over HTTP)."""
    from ui.launch import run_ui

    settings = make_settings(api_url=api_url, ui_port=port)
    run_ui(settings.api_url, settings.ui_port, host)


@app.command(name="eval")
def evaluate(
    gold: Annotated[Path, typer.Option("--gold", help="Gold questions (JSONL).")] = Path("eval/gold.jsonl"),
    index_dir: IndexDir = None,
    url: Annotated[str | None, typer.Option("--url", help="Evaluate a running service instead.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Where the report goes.")] = Path("eval/reports"),
    min_recall5: Annotated[float | None, typer.Option("--min-recall5", help="Fail below this hybrid R@5.")] = None,
    min_key_facts: Annotated[float | None, typer.Option(
        "--min-key-facts", help="Fail when fewer answers than this share hold every key fact.")] = None,
    backend: Annotated[str | None, typer.Option("--embed-backend")] = None,
) -> None:
    """Run the gold questions and report retrieval, answer and latency figures."""
    from evaluation.runner import run_cli

    code = run_cli(make_settings(index_dir=index_dir, embed_backend=backend), gold=gold, url=url,
                   out_dir=out_dir, min_recall5=min_recall5, min_key_facts=min_key_facts)
    raise typer.Exit(code)


@app.command()
def up(
    corpus: Annotated[list[Path] | None, typer.Argument(help="Folders to index.")] = None,
    index_dir: IndexDir = None,
    port: Annotated[int | None, typer.Option("--port", help="API port.")] = None,
    ui_port: Annotated[int | None, typer.Option("--ui-port")] = None,
) -> None:
    """The main job: index the corpus, start the API and the UI, and print where to open them."""
    settings = make_settings(index_dir=index_dir, port=port, ui_port=ui_port)
    index(corpus or [Path("corpus")], index_dir=settings.index_dir, quiet=False)
    api_url = f"http://{settings.host}:{settings.port}"
    env = {**os.environ, "COUNCILQA_INDEX_DIR": str(settings.index_dir), "COUNCILQA_API_URL": api_url}
    exe = [sys.executable, "-m", "councilqa.cli"]
    procs = [
        subprocess.Popen([*exe, "serve", "--port", str(settings.port), "--host", settings.host], env=env),
        subprocess.Popen([*exe, "ui", "--api-url", api_url, "--port", str(settings.ui_port)], env=env),
    ]
    _wait_ready(f"{api_url}/health", procs[0])
    typer.secho(f"\nAPI: {api_url}/docs   UI: open http://{settings.host}:{settings.ui_port}   (Ctrl-C stops both)\n",
                fg="green", bold=True)
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    failed = [p.returncode for p in procs if p.returncode not in (0, None, -signal.SIGINT, 130)]
    raise typer.Exit(1 if failed else 0)


@app.command()
def mcp(
    index_dir: IndexDir = None,
    http: Annotated[bool, typer.Option("--http", help="Serve streamable HTTP at /mcp (behind the API keys) "
                                       "instead of stdio.")] = False,
    host: Annotated[str | None, typer.Option("--host", help="HTTP address [127.0.0.1].")] = None,
    port: Annotated[int, typer.Option("--port", help="HTTP port.")] = 8001,
    restricted: Annotated[bool, typer.Option("--restricted", help="stdio only: let the assistant read "
                                             "restricted papers too (over HTTP the caller's key decides).")] = False,
    public: Annotated[bool, typer.Option("--public", help="As `serve --public`.")] = False,
    model: Model = None,
) -> None:
    """A Model Context Protocol tool server for AI assistants: search, ask, get_document, list_facets,
    timeline, list_meetings, get_meeting."""
    from councilqa.terminal import mcp as run_mcp

    settings = make_settings(index_dir=index_dir, host=host, port=port if http else None, model=model,
                             public=public or None)
    run_mcp(settings, http=http, restricted=restricted)


alerts_app = typer.Typer(no_args_is_help=True, help="Saved searches' new results: run them now.")
app.add_typer(alerts_app, name="alerts")


@app.command()
@with_filter_options
def follow(
    query: Annotated[str, typer.Argument(help="The words to follow.")],
    name: Annotated[str, typer.Option("--name", help="What to call it (default: the query).")] = "",
    email: Annotated[str | None, typer.Option("--email", help="Email a digest of new results here.")] = None,
    index_dir: IndexDir = None,
    filters: dict[str, str | None] | None = None,
) -> None:
    """Follow a search: after each `councilqa index`, what new or changed papers say about it is kept
    (`councilqa following`), in its feed, and emailed if --email is given."""
    from councilqa.terminal import follow as run_follow

    run_follow(make_settings(index_dir=index_dir), query, name, email, filters or {})


@app.command()
def following(index_dir: IndexDir = None, as_json: AsJson = False) -> None:
    """The saved searches followed from this machine, with their new results."""
    from councilqa.terminal import following as run_following

    run_following(make_settings(index_dir=index_dir), as_json)


@app.command()
def unfollow(search_id: Annotated[str, typer.Argument(help="The saved search's id (`councilqa following`).")],
             index_dir: IndexDir = None) -> None:
    """Stop following a saved search."""
    from councilqa.terminal import unfollow as run_unfollow

    run_unfollow(make_settings(index_dir=index_dir), search_id)


@alerts_app.command("run")
def alerts_run(index_dir: IndexDir = None) -> None:
    """Search what the last build added or changed for every saved search, and send pending digests
    (`councilqa index` does this by itself after each build)."""
    from councilqa.terminal import run_alerts

    run_alerts(make_settings(index_dir=index_dir))


fetch_app = typer.Typer(no_args_is_help=True, help="Bring papers in from where councils publish them.")
app.add_typer(fetch_app, name="fetch")


@fetch_app.command("moderngov")
def fetch_moderngov(
    base_url: Annotated[str, typer.Argument(help="The council's ModernGov address, e.g. "
                                            "https://democracy.manchester.gov.uk")],
    into: Annotated[Path, typer.Option("--into", help="Folder the papers and their sidecars are written to.")],
    date_from: Annotated[str | None, typer.Option("--from", help="Earliest meeting date, YYYY-MM-DD.")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Latest meeting date, YYYY-MM-DD.")] = None,
    days: Annotated[int | None, typer.Option("--days", help="Without --from: meetings of the last N days "
                                             "(and the next 30) [90].")] = None,
    committee: Annotated[list[str] | None, typer.Option("--committee", help="A committee's name or id "
                                                        "(repeat for more); all by default.")] = None,
    council: Annotated[str | None, typer.Option("--council", help="The council's name, where the bundled list "
                                                "of ModernGov addresses does not know it.")] = None,
    delay: Annotated[float, typer.Option("--delay", help="Seconds between requests.")] = 0.5,
    max_requests: Annotated[int, typer.Option("--max-requests", help="Requests per run; the next run "
                                              "resumes.")] = 2000,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
) -> None:
    """Fetch committees' meetings, minutes and linked papers from a ModernGov site, then `councilqa index
    FOLDER` indexes them; a re-run fetches only what is new or changed."""
    from tqdm import tqdm

    from indexer.moderngov import Fetcher, FetchError, ModernGovClient, Politeness, council_for, window

    try:
        start, end = window(date_from, date_to, days)
    except ValueError as exc:
        typer.secho(f"Error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    name = council or council_for(base_url)
    if not name:
        typer.secho(f"Error: {base_url} is not in the bundled list of ModernGov addresses; give the council's "
                    "name with --council \"Example City Council\".", fg="red", err=True)
        raise typer.Exit(2)
    client = ModernGovClient(base_url, Politeness(delay_s=delay, max_requests=max_requests))
    progress = None if quiet else (lambda xs, desc: tqdm(list(xs), desc=desc, unit="item", leave=False))
    try:
        report = Fetcher(client, into, name, progress).run(start, end, committee or [])
    except FetchError as exc:
        typer.secho(f"Error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    finally:
        client.close()
    typer.echo(report.summary())
    typer.echo(f"Next: councilqa index {into}")


keys_app = typer.Typer(no_args_is_help=True, help="API keys: create, list and revoke them (the service reads "
                       "them from its state folder on every request).")
app.add_typer(keys_app, name="keys")
StateDir = Annotated[Path | None, typer.Option("--state-dir", help="The service's state folder [env "
                                                "COUNCILQA_STATE_DIR; default .councilqa-state beside the index].")]


def _key_store(index_dir: Path | None, state_dir: Path | None) -> Any:
    from core.keys import KeyStore

    settings = make_settings(index_dir=index_dir, state_dir=state_dir)
    return KeyStore(settings.resolved_state_dir)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="Who or what uses the key, e.g. 'planning team'.")],
    scope: Annotated[str, typer.Option("--scope", help="read (public papers), restricted (restricted papers "
                                       "too) or admin (also reload the index).")] = "read",
    index_dir: IndexDir = None,
    state_dir: StateDir = None,
) -> None:
    """Make a key and print it once: only its hash is kept."""
    store = _key_store(index_dir, state_dir)
    try:
        record, key = store.create(name, scope)
    except ValueError as exc:
        typer.secho(f"Error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(key)
    typer.secho(f"Key {record.key_id} ({record.scope}) for {record.name!r}, kept in {store.path}. It is shown "
                "only now: store it where its user keeps secrets.", err=True)


@keys_app.command("list")
def keys_list(index_dir: IndexDir = None, state_dir: StateDir = None, as_json: AsJson = False) -> None:
    """Every key's id, name, scope and state (never the key itself)."""
    import json as _json

    records = _key_store(index_dir, state_dir).list()
    if as_json:
        typer.echo(_json.dumps([r.to_dict() for r in records], indent=2))
        return
    if not records:
        typer.echo("No API keys: the service serves public papers to callers on this machine only.")
    for r in records:
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(r.created_at))
        state = "active" if r.active else "revoked " + time.strftime("%Y-%m-%d %H:%M", time.gmtime(r.revoked_at or 0))
        typer.echo(f"{r.key_id}  {r.scope:<10}  {state:<24}  created {when} UTC  {r.name}")


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="The key's id (from `keys list`) or its name.")],
    index_dir: IndexDir = None,
    state_dir: StateDir = None,
) -> None:
    """Revoke a key for good; it stops working on the service's next request."""
    revoked = _key_store(index_dir, state_dir).revoke(key)
    if not revoked:
        typer.secho(f"Error: no active key with id or name {key!r}; `councilqa keys list` shows them.",
                    fg="red", err=True)
        raise typer.Exit(2)
    for r in revoked:
        typer.echo(f"Revoked {r.key_id} ({r.scope}) {r.name}")


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.5)


if __name__ == "__main__":
    app()
