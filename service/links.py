"""How a passage is pointed to outside the API: one quotable line, and a link to its place in the UI."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from common.settings import Settings


def ui_link(settings: Settings, c: dict[str, Any]) -> str:
    """The UI's document view at the cited span: `<ui>/?doc=ID&start=S&end=E`."""
    params = {"doc": c["document_id"], "start": c.get("char_start"), "end": c.get("char_end")}
    return f"{settings.resolved_ui_url}/?" + urlencode({k: v for k, v in params.items() if v is not None})


def cite(c: dict[str, Any]) -> str:
    """One line saying where a passage is from: who, in which meeting, when, where in the paper."""
    who = c.get("speaker")
    where = ", ".join(str(x) for x in (c.get("committee"), c.get("council"), c.get("date")) if x)
    extra = [c.get("agenda_item") and f"item {c['agenda_item']}", c.get("page") and f"p. {c['page']}",
             c.get("timestamp") and f"at {c['timestamp']}"]
    line = (f"{who}, " if who else "") + (where or str(c.get("title") or c["document_id"]))
    details = "; ".join(e for e in extra if e)
    return line + (f" ({details})" if details else "") + (f" <{c['url']}>" if c.get("url") else "")
