"""p50/p95 latency of GET /search and POST /ask over an index.

    python bench/bench_latency.py --index-dir /tmp/idx_corpus --n 200
    python bench/bench_latency.py --index-dir /tmp/idx_corpus --server   # real uvicorn + httpx
    python bench/bench_latency.py --index-dir /tmp/idx_corpus --smoke    # a few queries, for CI
    python bench/bench_latency.py --index-dir /tmp/idx_shared --gold eval/gold_shared.jsonl --load both

By default requests go through FastAPI's TestClient in this process (routing, validation and JSON
included; no network). `--server` starts uvicorn on a free loopback port in a thread and times
httpx requests against it. Query-embedding caches are cleared before each request (`--warm` keeps
them), so every figure includes encoding the query, as for a new user's question. `--load busy`
runs a busy-looping process on one core throughout (a second request, BM25, a build next door);
`--load both` measures idle and then busy in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.fields import MODES  # noqa: E402

QUESTIONS = [
    "what did Wolverhampton say about youth zone funding",
    "How many voluntary organisations are there in Salford?",
    "What did Councillor Jane Francis say about the SEND evaluation framework?",
    "children's social care improvement in Trafford",
    "Ofsted inspection of the fostering service",
    "savings targets in children's services for 2025",
    "looked after children placements outside the city",
    "family hubs early help offer",
    "what did Alison Hinds say about the budget gap",
    "Manchester strategy for children and young people in 2018",
    "care leavers housing and independence",
    "youth justice service integration",
    "school attendance and exclusions",
    "recruitment and retention of social workers",
    "child friendly city UNICEF Salford",
    "minutes of the children's scrutiny committee",
    "what is Salford's policy on bin collections",
    "transcript discussion of edge of care services",
    "special educational needs transport costs",
    "since 2020 what has changed in children's mental health support",
]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def in_process(app: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        yield client


@contextlib.contextmanager
def real_server(app: Any) -> Iterator[Any]:
    import httpx
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        yield client
    server.should_exit = True
    thread.join(10)


BUSY = "import time\nend = time.time() + 900\nwhile time.time() < end:\n    pass\n"


@contextlib.contextmanager
def one_core_busy(on: bool) -> Iterator[None]:
    """A busy-looping child process for the duration, when `on`."""
    if not on:
        yield
        return
    import subprocess

    child = subprocess.Popen([sys.executable, "-c", BUSY])
    time.sleep(0.5)
    try:
        yield
    finally:
        child.kill()
        child.wait()


def gold_questions(path: Path) -> list[str]:
    import json

    return [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def timed(n: int, call: Callable[[str], Any], before: Callable[[], None]) -> list[float]:
    out = []
    for i in range(n):
        q = QUESTIONS[i % len(QUESTIONS)]
        before()
        t = time.perf_counter()
        r = call(q)
        out.append((time.perf_counter() - t) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"{r.request.url} -> HTTP {r.status_code}: {r.text[:300]}")
    return out


def report(name: str, ms: list[float]) -> None:
    print(f"{name:<8} n={len(ms):<4} p50 {percentile(ms, 50):7.1f} ms   p95 {percentile(ms, 95):7.1f} ms   "
          f"mean {statistics.fmean(ms):7.1f} ms   max {max(ms):7.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index-dir", type=Path, required=True)
    ap.add_argument("--n", type=int, default=100, help="Requests per endpoint.")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--mode", default="hybrid", choices=list(MODES))
    ap.add_argument("--server", action="store_true", help="Real uvicorn server + httpx instead of TestClient.")
    ap.add_argument("--warm", action="store_true", help="Keep query-embedding caches between requests.")
    ap.add_argument("--smoke", action="store_true", help="A few queries only (CI).")
    ap.add_argument("--gold", type=Path, help="Take the questions from this gold file (JSON lines).")
    ap.add_argument("--load", choices=("idle", "busy", "both"), default="idle",
                    help="Run with a busy-looping process on one core (busy), or idle then busy (both).")
    args = ap.parse_args()
    if args.gold:
        QUESTIONS[:] = gold_questions(args.gold)

    from common.settings import Settings
    from core.engine import Engine
    from service.app import create_app

    t = time.perf_counter()
    engine = Engine.load(Settings(index_dir=args.index_dir))
    print(f"loaded {engine.health().passages:,} passages in {time.perf_counter() - t:.1f} s; "
          f"{'uvicorn + httpx' if args.server else 'in-process TestClient'}; "
          f"{'warm' if args.warm else 'cold'} query cache; mode {args.mode}, k {args.k}")
    n = 5 if args.smoke else args.n

    def before() -> None:
        if not args.warm:
            engine.clear_query_cache()

    from bench.common import machine

    print(f"# {machine()}")
    loads = ["idle", "busy"] if args.load == "both" else [args.load]
    with (real_server if args.server else in_process)(create_app(engine.settings, engine)) as client:
        for q in QUESTIONS[:3]:  # warm up the model and the SQLite pages
            client.get("/search", params={"q": q})
            client.post("/ask", json={"question": q})
        for load in loads:
            with one_core_busy(load == "busy"):
                search = timed(n, lambda q: client.get("/search", params={"q": q, "k": args.k, "mode": args.mode}),
                               before)
                ask = timed(n, lambda q: client.post("/ask", json={"question": q, "mode": args.mode}), before)
            print(f"## {'one core busy' if load == 'busy' else 'idle'}")
            report("/search", search)
            report("/ask", ask)


if __name__ == "__main__":
    main()
