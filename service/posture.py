"""What the service shows and records about itself: docs served from this machine, no internals to
anonymous callers, and no search terms in the access log.

* /docs (Swagger UI) and /redoc load their JavaScript and CSS from files shipped in the
  `fastapi-offline` package, served under /static/docs, never from a CDN (no Google fonts either).
* /health names the index folder, not its absolute path, and /stats leaves out the library
  versions and the corpus folders' paths, unless `COUNCILQA_EXPOSE_DETAILS` is set.
* uvicorn's access log shows the path without its query string unless `COUNCILQA_LOG_QUERIES` is set.

`harden(app, settings)` installs all of this and the limits of `service.limits` on an app.
"""

from __future__ import annotations

import copy
import logging
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from uvicorn.config import LOGGING_CONFIG

from common.settings import Settings
from service.limits import install_limits

DOCS_STATIC = "/static/docs"


def docs_assets() -> Path:
    """The folder of Swagger UI and ReDoc files shipped by the `fastapi-offline` package."""
    return Path(str(files("fastapi_offline") / "static"))


def install_local_docs(app: FastAPI) -> None:
    """Replace FastAPI's CDN-backed /docs and /redoc pages with ones whose assets this service serves."""
    pages = {app.docs_url, app.redoc_url} - {None}
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) not in pages]
    if not app.openapi_url:
        return
    app.mount(DOCS_STATIC, StaticFiles(directory=docs_assets()), name="docs-static")
    openapi_url, title = app.openapi_url, app.title

    if app.docs_url:
        @app.get(app.docs_url, include_in_schema=False)
        async def swagger_ui(request: Request) -> HTMLResponse:
            root = request.scope.get("root_path", "").rstrip("/")
            return get_swagger_ui_html(
                openapi_url=root + openapi_url, title=f"{title} - Swagger UI",
                swagger_js_url=f"{root}{DOCS_STATIC}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{DOCS_STATIC}/swagger-ui.css",
                swagger_favicon_url=f"{root}{DOCS_STATIC}/favicon.png",
                oauth2_redirect_url=(root + app.swagger_ui_oauth2_redirect_url)
                if app.swagger_ui_oauth2_redirect_url else None,
                swagger_ui_parameters={"validatorUrl": None, **(app.swagger_ui_parameters or {})},
            )

    if app.redoc_url:
        @app.get(app.redoc_url, include_in_schema=False)
        async def redoc(request: Request) -> HTMLResponse:
            root = request.scope.get("root_path", "").rstrip("/")
            return get_redoc_html(openapi_url=root + openapi_url, title=f"{title} - ReDoc",
                                  redoc_js_url=f"{root}{DOCS_STATIC}/redoc.standalone.js",
                                  redoc_favicon_url=f"{root}{DOCS_STATIC}/favicon.png", with_google_fonts=False)


def public_health(health: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The /health body: the index folder by name only, unless `expose_details` is set."""
    if settings.expose_details:
        return health
    return {**health, "index_dir": Path(str(health.get("index_dir", ""))).name}


PRIVATE_MANIFEST_KEYS = ("versions", "sources", "published")  # library versions; paths of the corpus and Milvus


COUNT_KEYS = ("documents", "passages", "tokens")  # the whole build's counts, restricted papers among them


def public_stats(stats: dict[str, Any], settings: Settings, restricted: bool = True) -> dict[str, Any]:
    """The /stats body: without the manifest's library versions and source paths, unless `expose_details`;
    for a caller who may not read restricted papers, the manifest's counts are those of the public ones."""
    manifest = dict(stats.get("manifest", {}))
    if not restricted:
        manifest = {k: v for k, v in manifest.items() if k not in COUNT_KEYS and k != "sentences"}
        manifest.update({k: stats[k] for k in ("documents", "passages")})
    if not settings.expose_details:
        manifest = {k: v for k, v in manifest.items() if k not in PRIVATE_MANIFEST_KEYS}
    return {**stats, "manifest": manifest}


class DropQueryString(logging.Filter):
    """A filter for uvicorn's access log: the request's path stays, its query string goes."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's path argument (uvicorn logs client, method, path, version, status)."""
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (args[0], args[1], args[2].split("?", 1)[0], *args[3:])
        return True


def uvicorn_log_config(settings: Settings) -> dict[str, Any]:
    """uvicorn's own logging configuration, with query strings dropped from the access log unless
    `log_queries` is set."""
    config = copy.deepcopy(LOGGING_CONFIG)
    if not settings.log_queries:
        config.setdefault("filters", {})["drop_query"] = {"()": f"{__name__}.DropQueryString"}
        config["loggers"]["uvicorn.access"]["filters"] = ["drop_query"]
    return config


def harden(app: FastAPI, settings: Settings) -> None:
    """Local docs, body limits, and the OpenAPI schema's declared limits, on `app`."""
    install_local_docs(app)
    install_limits(app, settings)
