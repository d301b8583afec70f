"""What `councilqa search|ask|serve` run: the same core as the API, printed for a terminal."""

from __future__ import annotations

import json
from typing import Any

import typer

from common.settings import Settings
from core.answer import ANSWER_K
from core.engine import CoreError, Engine, IndexLoadError
from core.results import Query


def load_engine(settings: Settings) -> Engine:
    """The engine, or a clear message and a non-zero exit (no traceback) when the index is unusable."""
    try:
        return Engine.load(settings)
    except IndexLoadError as exc:
        typer.secho(f"Error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    except RuntimeError as exc:  # the embedding model could not be loaded
        typer.secho(f"Error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None


def serve(settings: Settings) -> None:
    """Load the engine (a clean error and exit 1 when the index is unusable), then serve the API."""
    from service.auth import check_bind
    from service.server import serve_engine

    problem = check_bind(settings)
    if problem:
        typer.secho(f"Error: {problem}", fg="red", err=True)
        raise typer.Exit(2)
    serve_engine(load_engine(settings), settings)


def mcp(settings: Settings, *, http: bool, restricted: bool) -> None:
    """Serve the MCP tools over stdio (nothing but protocol on stdout) or streamable HTTP."""
    from service.auth import check_bind
    from service.holder import EngineHolder
    from service.mcp_server import http_app, serve_stdio

    if http:
        problem = check_bind(settings)
        if problem:
            typer.secho(f"Error: {problem}", fg="red", err=True)
            raise typer.Exit(2)
        if restricted:
            typer.secho("Error: --restricted is for stdio; over HTTP each caller's key decides.", fg="red", err=True)
            raise typer.Exit(2)
    engine = load_engine(settings)
    holder = EngineHolder(engine, lambda: Engine.load(settings, embedder=holder.engine.embedder),
                          settings.reload_check_s, owns_engine=True)
    try:
        if not http:
            serve_stdio(holder, settings, restricted)
            return
        import uvicorn

        from service.server import uvicorn_config

        typer.echo(f"MCP tools on http://{settings.host}:{settings.port}/mcp over {settings.index_dir}", err=True)
        uvicorn.Server(uvicorn_config(http_app(holder, settings), settings)).run()
    finally:
        holder.close()


def follow(settings: Settings, query: str, name: str, email: str | None, filters: dict[str, Any]) -> None:
    """Save a search owned by this machine's user, its filters checked against the index."""
    from core.following import LOCAL_OWNER, FollowStore, check_deliver

    engine = load_engine(settings)
    try:
        resolved = engine.resolve_filters({k: v for k, v in filters.items() if v})
        saved = FollowStore(settings.resolved_state_dir).create(
            LOCAL_OWNER, name, query, resolved, check_deliver({"email": email} if email else {"feed": True}),
            engine.document_hashes())
    except CoreError as exc:
        typer.secho(f"Error: {exc.message}", fg="red", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.close()
    typer.echo(f"Following {saved.query!r} as {saved.id}; new results appear after the next `councilqa index`.")


def following(settings: Settings, as_json: bool) -> None:
    """Print the saved searches of this machine's user with their counts of results."""
    from core.following import LOCAL_OWNER, FollowStore

    store = FollowStore(settings.resolved_state_dir)
    counts = store.counts()
    rows = [s.to_dict(counts.get(s.id, 0)) for s in store.list(LOCAL_OWNER)]
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        typer.echo("Following nothing yet: `councilqa follow \"…\"` saves a search.")
    for r in rows:
        how = ", ".join(k if k == "feed" else f"email {v}" for k, v in r["deliver"].items() if v)
        typer.echo(f"{r['id']}  {r['new_results']:>3} result(s)  {r['name']}  [{how}]")


def unfollow(settings: Settings, search_id: str) -> None:
    """Forget a saved search of this machine's user."""
    from core.following import LOCAL_OWNER, FollowStore

    try:
        FollowStore(settings.resolved_state_dir).delete(search_id, LOCAL_OWNER)
    except CoreError as exc:
        typer.secho(f"Error: {exc.message}", fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"Stopped following {search_id}.")


def run_alerts(settings: Settings) -> None:
    """Run every saved search over what the index's build added or changed; send pending digests."""
    from core.following import FollowStore
    from service.delivery import send_pending

    store = FollowStore(settings.resolved_state_dir)
    engine = load_engine(settings)
    try:
        report = store.run(engine)
    finally:
        engine.close()
    typer.echo(report.summary())
    for search_id, why in report.errors.items():
        typer.secho(f"  saved search {search_id} not run: {why}", fg="yellow", err=True)
    sent, waiting = send_pending(store, settings)
    if sent or waiting:
        typer.echo(f"  digests: {sent} sent, {waiting} waiting (retried on the next run)")


def run_alerts_if_followed(settings: Settings) -> None:
    """After a build: run the saved searches, if anyone follows one (else load nothing)."""
    from core.following import FollowStore

    store = FollowStore(settings.resolved_state_dir)
    try:
        if store.path.exists() and (store.list() or store.pending()):
            run_alerts(settings)
    except (typer.Exit, Exception) as exc:  # the build is done and stays done; the alerts run again next time
        typer.secho(f"Warning: the saved searches were not run ({type(exc).__name__}: {exc}); "
                    "`councilqa alerts run` tries again.", fg="yellow", err=True)


def _run(fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        return dict(fn(*args, **kwargs).to_dict())
    except CoreError as exc:
        typer.secho(f"Error: {exc.message}", fg="red", err=True)
        raise typer.Exit(2) from None


def search(settings: Settings, query: str, *, k: int = 10, mode: str = "hybrid",
           filters: dict[str, Any] | None = None, auto_filters: bool = True, as_json: bool = False,
           restricted: bool = False) -> None:
    """Print ranked passages with citations (or the API's JSON); restricted papers only if asked."""
    engine = load_engine(settings)
    q = Query(query, k, mode, filters or {}, auto_filters)  # type: ignore[arg-type]  # the core checks mode
    data = _run(engine.search, q, restricted=restricted)
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False) if as_json else render_search(data))


def ask(settings: Settings, question: str, *, filters: dict[str, Any] | None = None, auto_filters: bool = True,
        as_json: bool = False, restricted: bool = False) -> None:
    """Print a cited answer (or the API's JSON); restricted papers only if asked."""
    engine = load_engine(settings)
    data = _run(engine.ask, Query(question, ANSWER_K, "hybrid", filters or {}, auto_filters), restricted=restricted)
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False) if as_json else render_answer(data))


# -- terminal rendering ----------------------------------------------------------------------------


def cite_line(c: dict[str, Any]) -> str:
    """"City of Wolverhampton Council, Children & Young People Scrutiny Panel, 2024-11-27 (transcript) ..."""
    parts = [c.get("council"), c.get("committee"), c.get("date"), c.get("doc_type") and f"({c['doc_type']})"]
    line = ", ".join(p for p in parts[:3] if p) + (f" {parts[3]}" if parts[3] else "")
    extras = [c.get("agenda_item") and f"item: {c['agenda_item']}", c.get("speaker") and f"speaker: {c['speaker']}",
              c.get("timestamp") and f"at {c['timestamp']}", c.get("page") and f"p. {c['page']}",
              f"chars {c.get('char_start')}-{c.get('char_end')}", f"doc {c.get('document_id')}"]
    return line + " | " + " | ".join(e for e in extras if e)


def _filters_line(data: dict[str, Any]) -> str:
    applied = data.get("filters_applied") or {}
    auto = data.get("auto_filters") or {}
    if not applied:
        return "Filters: none"
    return "Filters: " + ", ".join(f"{k}={v}" + (" (from the query)" if k in auto else "") for k, v in applied.items())


def _snippet(text: str, limit: int = 400) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit].rsplit(" ", 1)[0] + " ..."


def render_search(data: dict[str, Any]) -> str:
    """Search results (the API's JSON shape) as terminal text."""
    lines = [f"Search: {data['query']}  [{data['mode']}, {data['took_ms']:.0f} ms]", _filters_line(data), ""]
    if not data["results"]:
        lines.append("No passages matched.")
    for r in data["results"]:
        lines += [f"{r['rank']:>2}. [{r['score']:.4f}] {cite_line(r['citation'])}", f"    {_snippet(r['text'])}", ""]
    return "\n".join(lines).rstrip()


def render_answer(data: dict[str, Any]) -> str:
    """An answer (the API's JSON shape) as terminal text."""
    lines = [f"Question: {data['question']}", _filters_line(data), "", data["answer"], ""]
    for c in data["citations"]:
        lines.append(f"[{c['n']}] {cite_line(c)}")
        for q in c.get("quotes") or [{"text": c["quote"]}]:
            said = ", ".join(b for b in (q.get("speaker"), q.get("timestamp")) if b)
            shown = q.get("shown") or q["text"]  # as the answer shows it; older services send text only
            lines.append(f"    {said + ': ' if said else ''}\"{' '.join(shown.split())}\"")
    if data.get("llm_error"):
        lines.append(f"(language model not used: {data['llm_error']})")
    return "\n".join(lines).rstrip()
