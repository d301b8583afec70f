"""Throughput and tail latency under concurrent load: N clients against a real uvicorn server on loopback.

    python -m bench.bench_load --index-dir /tmp/idx_corpus                      # 50 clients, 20 s, 70/30 mix
    python -m bench.bench_load --index-dir /tmp/idx_corpus --search-only --seconds 15
    python -m bench.bench_load --index-dir /tmp/idx_corpus --compare   # before (one query at a time, torch) vs now

Every request is uncached: each query gets a distinct suffix, so its vector is encoded afresh, and
sentence vectors of /ask are cached only as a running service would cache them. The server runs in a
subprocess (its own GIL), the clients in this one (asyncio + httpx). Prints requests/s and p50/p95/p99
per endpoint, and the CPU, so runs on different machines can be compared. Loopback only; the loop is
bounded in time and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_latency import QUESTIONS, _free_port, percentile  # noqa: E402
from bench.common import machine  # noqa: E402

WORDS = ("budget", "report", "council", "committee", "funding", "plan", "service", "review", "policy", "members",
         "housing", "transport", "schools", "care", "decision", "meeting", "officers", "scrutiny", "year", "cost")


def query(i: int, rng: random.Random) -> str:
    """A distinct, realistic query: a benchmark question plus two topic words and a number."""
    return f"{rng.choice(QUESTIONS)} {rng.choice(WORDS)} {rng.choice(WORDS)} {i}"


def start_server(index_dir: Path, port: int, env: dict[str, str], repo: Path | None = None) -> subprocess.Popen:
    """`councilqa serve` in a subprocess (from another checkout `repo`, for a baseline); returns once /health
    answers."""
    cmd = [sys.executable, "-m", "councilqa.cli", "serve", "--index-dir", str(index_dir), "--port", str(port)]
    if repo is not None:
        env = {**env, "PYTHONPATH": str(repo)}
    # The server's log goes to a file: a pipe nobody reads fills up and stalls the server mid-run.
    log = tempfile.NamedTemporaryFile(prefix="councilqa-load-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, cwd=repo)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {Path(log.name).read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not start in 180 s")


async def client(http: httpx.AsyncClient, until: float, ask_share: float, seed: int,
                 out: dict[str, list[float]], errors: list[str]) -> None:
    """One user: requests back to back until `until`, /ask with probability `ask_share`."""
    rng = random.Random(seed)
    i = 0
    while time.monotonic() < until:
        i += 1
        q = query(seed * 100_000 + i, rng)
        t0 = time.perf_counter()
        name = "/ask" if rng.random() < ask_share else "/search"
        try:
            if name == "/ask":
                r = await http.post("/ask", json={"question": q})
            else:
                r = await http.get("/search", params={"q": q})
        except httpx.HTTPError as exc:  # a dropped connection is an error of the run, not a crash of the script
            errors.append(f"{name} {type(exc).__name__}")
            continue
        out.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            errors.append(f"{name} {r.status_code}")


async def load(port: int, clients: int, seconds: float, ask_share: float) -> tuple[dict[str, list[float]], list[str],
                                                                                      float]:
    """Run the clients for `seconds`; returns latencies per endpoint, errors and the wall time."""
    out: dict[str, list[float]] = {}
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120, limits=limits) as http:
        await http.get("/search", params={"q": "warm up"})  # model and caches warm, as in service
        started = time.monotonic()
        until = started + seconds
        await asyncio.gather(*(client(http, until, ask_share, s, out, errors) for s in range(1, clients + 1)))
        return out, errors, time.monotonic() - started


WRK_SCRIPT = r"""
local questions = {QUESTIONS}
local words = {WORDS}
local n, tid = 0, 0
function setup(thread) thread:set("tid", math.random(1, 1000000000)) end
function init(args) math.randomseed(tid) end
local function esc(s) return (s:gsub("[^%w]", function(c) return string.format("%%%02X", string.byte(c)) end)) end
function request()
  n = n + 1
  local q = questions[math.random(#questions)] .. " " .. words[math.random(#words)] .. " " ..
            words[math.random(#words)] .. " " .. tid .. "-" .. n
  if ASK then
    local body = '{"question": "' .. q:gsub('"', "") .. '"}'
    return wrk.format("POST", "/ask", {["Content-Type"] = "application/json"}, body)
  end
  return wrk.format("GET", "/search?q=" .. esc(q))
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %.1f %.1f %.1f %.1f %d\n", summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.mean / 1000, e.connect + e.read + e.write + e.timeout + e.status))
end
"""


def _lua_list(items: Sequence[str]) -> str:
    return "{" + ", ".join('"' + i.replace('"', "") + '"' for i in items) + "}"


def wrk_load(port: int, clients: int, seconds: float, ask_share: float) -> list[tuple[str, list[float], int]]:
    """Run wrk (C, one thread each: it leaves the cores to the server) for /search and /ask side by side.

    Returns (endpoint, [requests, duration s, p50, p95, p99, mean ms], errors) per endpoint.
    """
    jobs = []
    for name, share in (("/search", 1 - ask_share), ("/ask", ask_share)):
        conns = round(clients * share)
        if conns < 1:
            continue
        script = WRK_SCRIPT.replace("{QUESTIONS}", _lua_list(QUESTIONS)).replace("{WORDS}", _lua_list(WORDS))
        script = script.replace("if ASK then", f"if {'true' if name == '/ask' else 'false'} then")
        path = Path(tempfile.mkdtemp()) / "load.lua"
        path.write_text(script)
        cmd = ["wrk", "-t1", f"-c{conns}", f"-d{int(seconds)}s", "--timeout", "60s", "-s", str(path),
               f"http://127.0.0.1:{port}"]
        jobs.append((name, subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)))
    out = []
    for name, job in jobs:
        text, _ = job.communicate(timeout=seconds + 120)
        line = next((ln for ln in text.splitlines() if ln.startswith("RESULT")), None)
        if line is None:
            raise SystemExit(f"wrk gave no result for {name}: {text[-500:]}")
        n, duration, p50, p95, p99, mean, errors = line.split()[1:]
        out.append((name, [float(n), float(duration) / 1e6, float(p50), float(p95), float(p99), float(mean)],
                    int(errors)))
    return out


def run(index_dir: Path, clients: int, seconds: float, ask_share: float, env: dict[str, str], label: str,
        client_kind: str, repo: Path | None = None) -> None:
    """One server configuration under load, printed as a table row per endpoint."""
    port = _free_port()
    proc = start_server(index_dir, port, env, repo)
    try:
        if client_kind == "wrk":
            rows = wrk_load(port, clients, seconds, ask_share)
        else:
            out, errors, wall = asyncio.run(load(port, clients, seconds, ask_share))
    finally:
        proc.terminate()
        proc.wait(20)
    if client_kind == "wrk":
        for name, (n, dur, p50, p95, p99, mean), errs in rows:
            print(f"| {label} | {name} | {n:.0f} | {n / dur:.1f} | {p50:.0f} | {p95:.0f} | {p99:.0f} | {mean:.0f} |"
                  f" errors: {errs}")
        total = sum(r[1][0] for r in rows)
        print(f"| {label} | all | {total:.0f} | {sum(r[1][0] / r[1][1] for r in rows):.1f} | | | | |")
        return
    for name, ms in sorted(out.items(), reverse=True):
        print(f"| {label} | {name} | {len(ms)} | {len(ms) / wall:.1f} | {percentile(ms, 50):.0f} | "
              f"{percentile(ms, 95):.0f} | {percentile(ms, 99):.0f} | {statistics.fmean(ms):.0f} |")
    total = sum(len(v) for v in out.values())
    print(f"| {label} | all | {total} | {total / wall:.1f} | | | | | errors: {len(errors)} {errors[:3]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index-dir", type=Path, required=True)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--ask-share", type=float, default=0.3, help="Share of requests that are /ask (0..1).")
    ap.add_argument("--search-only", action="store_true", help="Only /search (ask share 0).")
    ap.add_argument("--baseline-repo", type=Path, help="Another checkout (e.g. `git worktree add /tmp/base REV`) "
                    "whose server runs first under the same load, with --baseline-index.")
    ap.add_argument("--baseline-index", type=Path, help="The index that checkout serves (built by its code).")
    ap.add_argument("--client", choices=("auto", "wrk", "httpx"), default="auto",
                    help="Load generator: wrk (Debian package; light, so the server gets the cores) or httpx "
                    "(asyncio, in this process; it takes about a third of a 2-core machine). auto: wrk if found.")
    ap.add_argument("--compare", action="store_true",
                    help="Also run with query batching off (COUNCILQA_QUERY_BATCH=1), side by side.")
    args = ap.parse_args()
    share = 0.0 if args.search_only else args.ask_share
    client_kind = args.client if args.client != "auto" else ("wrk" if shutil.which("wrk") else "httpx")
    print(f"# {machine()}")
    print(f"# {args.clients} clients ({client_kind}), {args.seconds:.0f} s, /ask share {share:.0%}, "
          f"index {args.index_dir}")
    print("| config | endpoint | requests | req/s | p50 ms | p95 ms | p99 ms | mean ms |")
    print("|---|---|---|---|---|---|---|---|")
    if args.baseline_repo:
        run(args.baseline_index or args.index_dir, args.clients, args.seconds, share, {},
            f"baseline {args.baseline_repo.name}", client_kind, args.baseline_repo.resolve())
    if args.compare:
        run(args.index_dir, args.clients, args.seconds, share,
            {"COUNCILQA_QUERY_BATCH": "1", "COUNCILQA_QUERY_BACKEND": "same"}, "one query at a time, torch",
            client_kind)
        run(args.index_dir, args.clients, args.seconds, share, {"COUNCILQA_QUERY_BACKEND": "same"},
            "batched, torch", client_kind)
    run(args.index_dir, args.clients, args.seconds, share, {}, "batched, onnx-fp32 queries", client_kind)


if __name__ == "__main__":
    main()
