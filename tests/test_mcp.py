"""`councilqa mcp` driven by the MCP SDK's own client over stdio, against the shipped corpus indexed with
the real model: the assistant lists the tools, searches and asks the flagship question, and gets
Alison Hinds' passage with a citation it can quote."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

pytestmark = pytest.mark.slow

QUESTION = "what did Wolverhampton say about youth zone funding"


async def _session(index_dir: Path) -> dict[str, Any]:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command=sys.executable,
                                   args=["-m", "councilqa.cli", "mcp", "--index-dir", str(index_dir)])
    async with Client(params, read_timeout_seconds=180) as client:
        tools = sorted(t.name for t in (await client.list_tools()).tools)
        search = await client.call_tool("search", {"query": "youth zone funding", "k": 5,
                                                   "council": "Wolverhampton"})
        ask = await client.call_tool("ask", {"question": QUESTION})
        return {"tools": tools, "search": json.loads(search.content[0].text), "ask": json.loads(ask.content[0].text)}


def test_an_assistant_gets_alison_hinds_passage_with_its_citation(corpus_index_dir: Path) -> None:
    got = anyio.run(_session, corpus_index_dir)
    assert got["tools"] == ["ask", "get_document", "get_meeting", "list_facets", "list_meetings", "search",
                            "timeline"]
    hinds = [r for r in got["search"]["results"] if r.get("speaker") == "Alison Hinds"]
    assert hinds and "youth zone" in hinds[0]["text"].lower()
    assert hinds[0]["council"] == "City of Wolverhampton Council" and hinds[0]["date"] == "2024-11-27"
    assert hinds[0]["cite"].startswith("Alison Hinds, Children & Young People Scrutiny Panel")
    answer = got["ask"]
    assert answer["found"] and "reduction in the contribution to the youth zone" in answer["answer"]
    cited = [c for c in answer["citations"] if c.get("speaker") == "Alison Hinds"]
    assert cited and any("youth zone" in q.lower() for c in cited for q in c["quotes"])
    assert all(c["link"].startswith("http://127.0.0.1:8501/?doc=") and c["document_id"] for c in cited)
