"""How a saved search's new results reach its owner: an Atom feed, and an email digest per build.

The feed (RFC 4287) lists the search's results newest first, each entry linking to the passage in the
UI's document view. Digests are sent with the standard library's `smtplib` (plain text and HTML, each
quote with its citation and link); a digest that cannot be sent stays pending in the state file, the
failure is logged, and the next run tries again. Nothing here fails a build.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from html import escape
from typing import Any
from xml.etree import ElementTree as ET

from common.settings import Settings
from core.following import FollowStore, SavedSearch
from service.links import cite, ui_link

log = logging.getLogger("councilqa.alerts")
ATOM = "http://www.w3.org/2005/Atom"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def atom_feed(search: SavedSearch, items: list[dict[str, Any]], settings: Settings, self_url: str) -> bytes:
    """The saved search's results as an Atom feed."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")

    def add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            el.text = text
        return el

    add(feed, "id", f"urn:councilqa:saved-search:{search.id}")
    add(feed, "title", f"councilqa: {search.name}")
    add(feed, "subtitle", f"New council papers matching “{search.query}”")
    add(feed, "updated", _when(max([i["found_at"] for i in items], default=search.created_at)))
    add(feed, "link", rel="self", href=self_url)
    add(add(feed, "author"), "name", "councilqa")
    for item in items:
        c = item["citation"]
        entry = add(feed, "entry")
        add(entry, "id", f"urn:councilqa:{search.id}:{c['document_id']}:{c['char_start']}-{c['char_end']}")
        add(entry, "title", cite(c))
        add(entry, "updated", _when(item["found_at"]))
        add(entry, "link", rel="alternate", href=ui_link(settings, c))
        if c.get("url"):
            add(entry, "link", rel="related", href=str(c["url"]))
        add(entry, "summary", " ".join(item["text"].split())[:1000])
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def digest(search: SavedSearch, items: list[dict[str, Any]], settings: Settings) -> EmailMessage:
    """One email: the search's new results, each quote with its citation and link, as text and HTML."""
    msg = EmailMessage()
    msg["Subject"] = f"{len(items)} new in council papers: {search.name}"
    msg["From"], msg["To"] = settings.smtp_from, search.deliver["email"]
    lines = [f"New in the council papers for your saved search “{search.query}”:", ""]
    parts = [f"<p>New in the council papers for your saved search “{escape(search.query)}”:</p>"]
    for item in items:
        c, quote = item["citation"], " ".join(item["text"].split())
        lines += [f"“{quote}”", f"  — {cite(c)}", f"  {ui_link(settings, c)}", ""]
        parts.append(f"<blockquote>“{escape(quote)}”</blockquote><p>— {escape(cite(c))}<br>"
                     f"<a href=\"{escape(ui_link(settings, c))}\">Open it in context</a></p>")
    msg.set_content("\n".join(lines))
    msg.add_alternative("<html><body>" + "".join(parts) + "</body></html>", subtype="html")
    return msg


def send_pending(store: FollowStore, settings: Settings) -> tuple[int, int]:
    """Send every pending digest; (sent, still pending). A failure is logged and retried next time."""
    pending = store.pending()
    if not pending:
        return 0, 0
    if not settings.smtp_host:
        log.warning("%d alert digest(s) wait: COUNCILQA_SMTP_HOST is not set", len(pending))
        return 0, len(pending)
    sent = 0
    for delivery_id, search, items, _attempts in pending:
        try:
            _send(digest(search, items, settings), settings)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("alert digest for saved search %s not sent (kept for the next run): %s: %s", search.id,
                        type(exc).__name__, exc)
            store.mark(delivery_id, f"{type(exc).__name__}: {exc}")
            continue
        store.mark(delivery_id, None)
        sent += 1
    return sent, len(pending) - sent


def _send(msg: EmailMessage, settings: Settings) -> None:
    host, port = str(settings.smtp_host), settings.smtp_port
    context = ssl.create_default_context()
    smtp: smtplib.SMTP = (smtplib.SMTP_SSL(host, port, timeout=30, context=context) if settings.smtp_tls == "ssl"
                          else smtplib.SMTP(host, port, timeout=30))
    with smtp:
        if settings.smtp_tls == "starttls":
            smtp.starttls(context=context)
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        smtp.send_message(msg)
