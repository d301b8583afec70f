"""Schema-driven fuzzing of the HTTP API with schemathesis, against the real app on loopback.

    .venv/bin/python scripts/fuzz_api.py [--max-examples 200] [--max-time 120] [--seed N]

Builds a tiny index (the tests' four papers, FakeEmbedder: seconds, no model), serves the real app
with uvicorn in a thread on a free 127.0.0.1 port, and runs `schemathesis run` on its /openapi.json:
every operation, examples, boundary (coverage) and random (fuzzing) inputs, valid and invalid,
at most --max-examples per operation and --max-time seconds in all. Checks: no 5xx, every status
code, content type, header and body as the schema declares. Prints a summary and exits non-zero
on any failure (or when the time ran out before the run finished); the report is kept under
--report-dir.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.settings import Settings  # noqa: E402
from core.answer import AnswerConfig  # noqa: E402
from core.engine import Engine  # noqa: E402
from indexer.build import build_index  # noqa: E402
from indexer.embed import FakeEmbedder  # noqa: E402
from indexer.index import CouncilIndex  # noqa: E402
from service.app import create_app  # noqa: E402
from service.server import running_server  # noqa: E402
from tests.conftest import write_tiny_corpus  # noqa: E402

CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance")


@dataclass
class FuzzResult:
    """What one run did: requests sent, failures by check, whether it finished in time."""

    requests: int = 0
    operations: int = 0
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    finished: bool = True
    exit_code: int = 0
    seconds: float = 0.0
    output: str = ""

    @property
    def ok(self) -> bool:
        """No failure, no error, and the run finished within its time."""
        return self.finished and not self.failures and not self.errors and self.exit_code == 0

    def summary(self) -> str:
        """A few lines for a person."""
        lines = [f"schemathesis: {self.requests} requests over {self.operations} operations in {self.seconds:.0f}s; "
                 f"statuses {dict(sorted(self.statuses.items()))}"]
        if not self.finished:
            lines.append("time budget ran out before the run finished")
        lines += [f"FAILURE {f}" for f in self.failures] + [f"ERROR {e}" for e in self.errors]
        lines.append("OK: no server errors, every response as the schema declares" if self.ok else
                     f"FAILED (schemathesis exit code {self.exit_code})")
        return "\n".join(lines)


def tiny_engine(root: Path) -> Engine:
    """An engine over the tests' four tiny papers, indexed with FakeEmbedder (no model download)."""
    papers = write_tiny_corpus(root / "papers")
    settings = Settings(index_dir=root / "index", cache_dir=root / "cache", chunk_tokens=60, chunk_overlap=10)
    build_index([papers], settings, embedder=FakeEmbedder(), progress=False)
    return Engine(CouncilIndex.load(settings.index_dir, "fake-hash-64"), FakeEmbedder(), settings,
                  answer_config=AnswerConfig(abstain_below=0.6))


def _read_events(path: Path, result: FuzzResult) -> None:
    """Count requests, statuses and failures from schemathesis' ndjson event stream."""
    if not path.exists():
        return
    operations: set[str] = set()
    seen_failures: set[str] = set()
    for line in path.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        for name, body in event.items():
            if name == "ScenarioFinished":
                recorder = body.get("recorder", {})
                label = recorder.get("label", "")
                operations.add(label)
                for interaction in recorder.get("interactions", {}).values():
                    response = interaction.get("response") or {}
                    result.requests += 1
                    if "status_code" in response:
                        result.statuses[int(response["status_code"])] += 1
                interactions = recorder.get("interactions", {})
                for case_id, check_list in recorder.get("checks", {}).items():
                    for check in check_list:
                        if str(check.get("status", "")).lower() != "failure":
                            continue
                        info = (check.get("failure_info") or {}).get("failure") or {}
                        key = f"{label}: {info.get('code', '')} {info.get('title', check.get('name'))}"
                        if key in seen_failures:
                            continue
                        seen_failures.add(key)
                        request = (interactions.get(case_id) or {}).get("request") or {}
                        message = " ".join(str(info.get("message", "")).split())
                        result.failures.append(f"{key} ({message}) e.g. {request.get('method', '')} "
                                               f"{request.get('uri', '')}".replace(" ()", ""))
            elif name == "NonFatalError":
                info = body.get("info", {})
                result.errors.append(f"{body.get('label', '')}: {info.get('title', '')} {info.get('message', '')}"
                                     .strip())
    result.operations = len(operations - {""})


def fuzz(base_url: str, max_examples: int = 200, max_time_s: float = 120.0, seed: int | None = None,
         report_dir: Path | None = None, workers: int = 1,
         phases: str = "examples,coverage,fuzzing") -> FuzzResult:
    """Run schemathesis against `base_url`'s /openapi.json; bounded in examples per operation and in time."""
    report_dir = report_dir or Path(tempfile.mkdtemp(prefix="fuzz-report-"))
    report_dir.mkdir(parents=True, exist_ok=True)
    events = report_dir / "events.ndjson"
    cmd = [sys.executable, "-m", "schemathesis.cli", "run", f"{base_url}/openapi.json",
           "--checks", ",".join(CHECKS), "--max-examples", str(max_examples), "--workers", str(workers),
           "--phases", phases, "--request-timeout", "10",
           "--generation-database", "none", "--suppress-health-check", "all", "--no-color",
           "--report", "ndjson", "--report-ndjson-path", str(events), "--report-dir", str(report_dir)]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    result = FuzzResult()
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=max_time_s, cwd=report_dir)
        result.exit_code, result.output = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        result.finished, result.exit_code = False, 124
        result.output = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) \
            else str(exc.stdout or "")
    result.seconds = time.monotonic() - started
    _read_events(events, result)
    if result.exit_code not in (0, 124) and not result.failures and not result.errors:
        result.errors.append("schemathesis failed: " + result.output.strip()[-2000:])
    return result


def main(argv: list[str] | None = None) -> int:
    """Build the tiny index, serve it on loopback, fuzz it, print the summary; 0 when all is well."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--max-examples", type=int, default=200, help="Test cases per operation and phase (200).")
    ap.add_argument("--max-time", type=float, default=120.0, help="Seconds for the whole run (120).")
    ap.add_argument("--seed", type=int, default=None, help="Random seed, to repeat a run.")
    ap.add_argument("--report-dir", type=Path, default=ROOT / "artifacts" / "fuzz", help="Where the report goes.")
    ap.add_argument("--verbose", action="store_true", help="Print schemathesis' own output too.")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="councilqa-fuzz-") as tmp:
        engine = tiny_engine(Path(tmp))
        try:
            settings = engine.settings.model_copy(update={"auth_max_failures": 1_000_000})  # random keys fail
            with running_server(create_app(settings, engine), settings) as url:
                result = fuzz(url, args.max_examples, args.max_time, args.seed, args.report_dir)
        finally:
            engine.close()
    if args.verbose or not result.ok:
        print(result.output[-8000:])
    print(result.summary())
    print(f"report: {args.report_dir / 'events.ndjson'}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
