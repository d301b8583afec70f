"""Serving the API: uvicorn over `create_app` with an engine already loaded.

uvicorn is run with the limits it offers: idle keep-alive connections close after
`keep_alive_timeout_s`, at most `max_connections` connections at once (unset: no limit), request
heads (request line and headers) of at most 16 KiB (h11's limit), and five seconds for requests in
flight to finish at shutdown. uvicorn has no timeout on reading a request: the body's read time is
bounded by the app itself (`body_read_timeout_s`, service/limits.py); a slow client's headers are
bounded only by a reverse proxy in front, which a deployment open to the internet should have.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from common.settings import Settings
from core.engine import Engine
from service.app import create_app
from service.posture import uvicorn_log_config

MAX_HEAD_BYTES = 16 * 1024  # h11_max_incomplete_event_size: the request line and headers together


def uvicorn_config(app: Any, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """uvicorn's configuration for `app` with the service's limits and access-log posture."""
    options: dict[str, Any] = {
        "host": settings.host, "port": settings.port, "log_level": "info",
        "log_config": uvicorn_log_config(settings),
        "access_log": settings.access_log,
        "timeout_keep_alive": settings.keep_alive_timeout_s,
        "limit_concurrency": settings.max_connections,
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
        "timeout_graceful_shutdown": 5,
        "server_header": False,
    }
    options.update(overrides)
    return uvicorn.Config(app, **options)


def serve_engine(engine: Engine, settings: Settings) -> None:
    """Serve `engine` on the settings' host and port until interrupted."""
    health = engine.health()
    print(f"Serving {health.passages:,} passages from {engine.index.location} "
          f"on http://{settings.host}:{settings.port} (docs at /docs)", flush=True)
    try:
        uvicorn.Server(uvicorn_config(create_app(settings, engine), settings)).run()
    finally:
        engine.close()


@contextmanager
def running_server(app: Any, settings: Settings, host: str = "127.0.0.1", start_timeout_s: float = 20.0,
                   **overrides: Any) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread on a free loopback port; yields its base URL, stops on exit.

    For tests and scripts: uvicorn installs no signal handlers outside the main thread, and by default
    leaves the process's logging alone (pass `log_config=` to have it configured).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    overrides = {"log_config": None, "log_level": "warning", **overrides}
    server = uvicorn.Server(uvicorn_config(app, settings, host=host, port=port, **overrides))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    try:
        stop = threading.Event()
        for _ in range(int(start_timeout_s * 20)):
            if server.started or not thread.is_alive() or stop.wait(0.05):
                break
        if not server.started:
            raise RuntimeError(f"uvicorn did not start on {host}:{port} within {start_timeout_s:g}s")
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
