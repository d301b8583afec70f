"""Start the web page: `streamlit run ui/app.py` as a subprocess pointed at the search service."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

APP_PATH = Path(__file__).resolve().parent / "app.py"


def streamlit_command(api_url: str, port: int, host: str = "127.0.0.1") -> list[str]:
    """The command line that serves the page (give it `ui_env(api_url)` as its environment)."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP_PATH),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.port", str(port),
        "--server.address", host,
        "--server.fileWatcherType", "none",
        "--client.toolbarMode", "minimal",
        "--client.showErrorDetails", "none",
        "--theme.base", "light",
        "--theme.primaryColor", "#1f5f99",
    ]  # fmt: skip


def ui_env(api_url: str) -> dict[str, str]:
    return {**os.environ, "COUNCILQA_API_URL": api_url}


def page_address(port: int, host: str = "127.0.0.1") -> str:
    shown = "localhost" if host in ("0.0.0.0", "::", "") else host
    return f"http://{shown}:{port}"


def run_ui(api_url: str, port: int, host: str = "127.0.0.1") -> None:
    """Serve the page until interrupted (Ctrl+C)."""
    print(f"Council papers Q&A: open {page_address(port, host)} in your browser (search service: {api_url}).")
    print("Press Ctrl+C to stop.", flush=True)
    proc = subprocess.Popen(streamlit_command(api_url, port, host), env=ui_env(api_url))
    try:
        proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    if proc.returncode not in (0, None, -15, 143):
        raise SystemExit(proc.returncode)
