"""Fetch a council's papers from its ModernGov (Civica modern.gov) web service into a folder the indexer reads.

`mgWebService.asmx` answers plain GETs with bare XML: `GetCommittees`, `GetMeetings?lCommitteeId=&sFromDate=
dd/mm/yyyy&sToDate=dd/mm/yyyy`, `GetMeeting?lMeetingId=` (agenda items with their minutes text, decision
and restricted flags, linked documents). `fetch` walks committees → meetings in the window → each
meeting's agenda items → linked documents, and writes:

* each agenda item's minutes text as a minutes paper of its meeting (`<meeting>-<item>-minutes.html`,
  headed by the item's number and title, so the structure parser reads it as that agenda item);
* each linked document (PDF, DOCX, HTML) as it was published;

each with a `<stem>.json` sidecar: council, committee, date, title, doc_type, source_url, `access`
(restricted where ModernGov flags the item or the document), and the ModernGov ids. A state file in the
folder remembers what was fetched (with its ETag / Last-Modified), so a second run asks only for what is
new or changed, and a run cut short resumes. Requests are spaced by `delay_s`, capped per run, and
retried with backoff on 429, 5xx and timeouts.

Quirks handled: dates must be dd/mm/yyyy (the service ignores ISO dates and returns everything); text
inside the XML is HTML escaped, sometimes twice; empty elements hold whitespace; booleans are "True".
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from lxml import etree

from indexer.metadata import normalise_doc_type

STATE_FILE = ".moderngov-state.json"
SERVICE = "mgWebService.asmx"
BASE_URLS = Path(__file__).parent / "data" / "moderngov_base_urls.csv"  # MIT, Democracy Club (see its notice)
_EXTENSIONS = {"application/pdf": ".pdf", "text/html": ".html", "application/xhtml+xml": ".html",
               "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
               "text/plain": ".txt"}
_UNSAFE = re.compile(r"[^\w.-]+")


_ROOTS = {"GetCommittees": "committees", "GetMeetings": "getmeetings", "GetMeeting": "meeting"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


class FetchError(RuntimeError):
    """The council's service cannot be used: the message names the address and what to do."""


# -------------------------------------------------------------------------------------- the XML


def _text(el: etree._Element | None, tag: str) -> str:
    """A child's text, stripped ('' for a missing or whitespace-only element)."""
    child = el.find(tag) if el is not None else None
    return (child.text or "").strip() if child is not None else ""


def _flag(el: etree._Element, tag: str) -> bool:
    return _text(el, tag).lower() == "true"


def iso(ddmmyyyy: str) -> str | None:
    """ModernGov's dd/mm/yyyy as YYYY-MM-DD (None if it is not one)."""
    try:
        return datetime.strptime(ddmmyyyy.strip(), "%d/%m/%Y").date().isoformat()
    except ValueError:
        return None


def unescape_html(text: str) -> str:
    """Markup from an XML element whose text was HTML escaped once more than it should be ("&lt;p&gt;")."""
    for _ in range(2):  # lxml undid the XML escaping; some councils escape the HTML a second time
        if re.search(r"&lt;/?[a-zA-Z]", text):
            text = html.unescape(text)
    return text


@dataclass
class LinkedDoc:
    """A document attached to an agenda item."""

    attachment_id: str
    title: str
    url: str
    restricted: bool
    published: str | None


@dataclass
class AgendaItem:
    """One agenda item of a meeting, with its minutes markup and documents."""

    item_id: str
    number: str
    title: str
    minutes_html: str
    is_decision: bool
    restricted: bool
    documents: list[LinkedDoc] = field(default_factory=list)


def parse_committees(root: etree._Element) -> list[tuple[str, str]]:
    """(id, title) of every committee not deleted."""
    return [(_text(c, "committeeid"), _text(c, "committeetitle")) for c in root.iter("committee")
            if _text(c, "committeeid") and not _flag(c, "committeedeleted")]


def parse_meetings(root: etree._Element) -> list[tuple[str, str | None, str]]:
    """(id, ISO date, status) of every meeting listed."""
    return [(_text(m, "meetingid"), iso(_text(m, "meetingdate")), _text(m, "meetingstatus"))
            for m in root.iter("meeting") if _text(m, "meetingid")]


def parse_meeting(root: etree._Element) -> list[AgendaItem]:
    """The agenda items of a GetMeeting answer (none for a cancelled meeting with an empty agenda)."""
    items = []
    for it in root.iter("agendaitem"):
        docs = [LinkedDoc(_text(d, "attachmentid"), _text(d, "title"), _text(d, "url"), _flag(d, "isrestricted"),
                          iso(_text(d, "publicationdate")))
                for d in it.iter("linkeddoc") if _text(d, "url")]
        number = _text(it, "fulldisplaynumberformat").rstrip(".") or _text(it, "minutesitemnumber")
        items.append(AgendaItem(_text(it, "agendaitemid"), number, _text(it, "agendaitemtitle"),
                                unescape_html(_text(it, "minutesnonemptyhtmlbody")), _flag(it, "isdecision"),
                                _flag(it, "isrestricted"), docs))
    return items


# ---------------------------------------------------------------------------------------- HTTP


@dataclass
class Politeness:
    """How hard the connector may press a council's server."""

    delay_s: float = 0.5  # between requests
    max_requests: int = 2000  # per run; the next run resumes
    retries: int = 3  # on 429, 5xx and timeouts, with backoff
    backoff_s: float = 1.0
    timeout_s: float = 30.0


class Budget(Exception):
    """The run reached its request cap; what was fetched is kept and the next run resumes."""


class ModernGovClient:
    """GETs to one ModernGov installation, spaced, capped and retried."""

    def __init__(self, base_url: str, politeness: Politeness | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.p = politeness or Politeness()
        self.requests = 0
        self.bytes = 0
        self._last = 0.0
        self._http = httpx.Client(timeout=self.p.timeout_s, follow_redirects=True, transport=transport,
                                  headers={"User-Agent": "councilqa ModernGov connector"})

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def get(self, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
        """One GET, retried on 429 / 5xx / timeouts; FetchError naming the address when it keeps failing."""
        problem = ""
        for attempt in range(self.p.retries + 1):
            if self.requests >= self.p.max_requests:
                raise Budget(f"stopped after {self.requests} requests (the per-run cap); run again to go on")
            wait = self.p.delay_s - (time.monotonic() - self._last)
            if wait > 0:
                time.sleep(wait)
            self.requests += 1
            self._last = time.monotonic()
            try:
                r = self._http.get(url, headers=headers)
            except httpx.TimeoutException:
                problem = f"no answer within {self.p.timeout_s:g} s"
            except httpx.TransportError as exc:
                raise FetchError(f"{url} is unreachable ({type(exc).__name__}): check the address, and that "
                                 "this machine can reach the council's site") from None
            else:
                if r.status_code != 429 and r.status_code < 500:
                    self.bytes += len(r.content)
                    return r
                problem = f"HTTP {r.status_code}"
                retry_after = r.headers.get("retry-after", "")
                if retry_after.isdigit():
                    time.sleep(min(float(retry_after), 60.0))
            if attempt < self.p.retries:
                time.sleep(self.p.backoff_s * 2 ** attempt)
        raise FetchError(f"{url} kept failing ({problem}) after {self.p.retries + 1} tries; try again later")

    def xml(self, operation: str, **params: str) -> etree._Element:
        """A web service operation's XML (its data element as root, or inside a SOAP-style wrapper)."""
        query = "&".join(f"{k}={v}" for k, v in params.items())  # dd/mm/yyyy must reach it unencoded
        url = f"{self.base_url}/{SERVICE}/{operation}" + (f"?{query}" if query else "")
        r = self.get(url)
        if r.status_code >= 400:
            raise FetchError(f"{url} answered HTTP {r.status_code}: is {self.base_url} a ModernGov site? "
                             f"(its web service lives at {self.base_url}/{SERVICE})")
        try:
            root = etree.fromstring(r.content, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError:
            root = None
        want = _ROOTS.get(operation)
        found = None if root is None else root if _local(root.tag) == want else next(
            (e for e in root.iter() if isinstance(e.tag, str) and _local(e.tag) == want), None)  # SOAP-wrapped
        if found is None:
            raise FetchError(f"{url} did not answer ModernGov XML (it sent {r.headers.get('content-type', '?')}, "
                             f"starting {r.text[:60]!r}): is {self.base_url} a ModernGov site?")
        return found


# -------------------------------------------------------------------------------------- the run


@dataclass
class FetchReport:
    """What one run did, for the command line's summary."""

    council: str
    meetings: int = 0
    papers: int = 0  # written this run (new or changed)
    unchanged: int = 0
    restricted: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    requests: int = 0
    bytes: int = 0
    stopped: str = ""

    def summary(self) -> str:
        """A few lines for a person."""
        lines = [f"ModernGov: {self.council}: {self.meetings} meeting(s), {self.papers} paper(s) written, "
                 f"{self.unchanged} unchanged, {self.requests} request(s), {self.bytes / 1e6:.1f} MB"]
        if self.restricted:
            lines.append(f"  {len(self.restricted)} restricted (access: restricted in their sidecars): "
                         + ", ".join(self.restricted[:20]) + (" …" if len(self.restricted) > 20 else ""))
        lines += [f"  skipped {what}: {why}" for what, why in self.skipped[:50]]
        if self.stopped:
            lines.append(f"  {self.stopped}")
        return "\n".join(lines)


def council_for(base_url: str) -> str | None:
    """The council's official name from the bundled list of ModernGov addresses, by host."""
    host = urlsplit(base_url).hostname or ""
    with BASE_URLS.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if (urlsplit(row.get("base_url") or "").hostname or "") == host:
                return str(row["official_name"]).removeprefix("The ")
    return None


def _ddmmyyyy(d: date) -> str:
    return d.strftime("%d/%m/%Y")


def _stem(*parts: str) -> str:
    return "-".join(_UNSAFE.sub("_", p).strip("_")[:60] for p in parts if p)


class Fetcher:
    """One run of the connector into one folder."""

    def __init__(self, client: ModernGovClient, folder: Path, council: str,
                 progress: Callable[[Iterable[Any], str], Iterable[Any]] | None = None) -> None:
        self.client, self.folder, self.council = client, Path(folder), council
        self.folder.mkdir(parents=True, exist_ok=True)
        self.state_path = self.folder / STATE_FILE
        self.state: dict[str, Any] = (json.loads(self.state_path.read_text(encoding="utf-8"))
                                      if self.state_path.is_file() else {"documents": {}, "minutes": {}})
        self.report = FetchReport(council)
        self.progress = progress or (lambda xs, _desc: xs)

    def _save_state(self) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(self.state_path)  # a run killed here leaves the previous state whole

    def _write(self, stem: str, suffix: str, body: bytes, meta: dict[str, Any]) -> None:
        for old in self.folder.glob(f"{stem}.*"):  # a document republished in another format
            if old.suffix not in (suffix, ".json"):
                old.unlink()
        (self.folder / f"{stem}{suffix}").write_bytes(body)
        (self.folder / f"{stem}.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False), encoding="utf-8")
        self.report.papers += 1
        if meta.get("access") == "restricted":
            self.report.restricted.append(stem)

    def run(self, start: date, end: date, committees: Iterable[str] = ()) -> FetchReport:
        """Fetch every meeting from `start` to `end` of the chosen committees (names or ids; all if none)."""
        wanted = {c.casefold() for c in committees}
        try:
            listed = parse_committees(self.client.xml("GetCommittees"))
            chosen = [(cid, title) for cid, title in listed
                      if not wanted or cid in wanted or title.casefold() in wanted]
            if wanted and not chosen:
                raise FetchError(f"no committee {', '.join(sorted(wanted))} at {self.client.base_url}; it lists: "
                                 + ", ".join(t for _, t in listed[:30]))
            for cid, title in self.progress(chosen, "Committees"):
                meetings = parse_meetings(self.client.xml("GetMeetings", lCommitteeId=cid,
                                                          sFromDate=_ddmmyyyy(start), sToDate=_ddmmyyyy(end)))
                for mid, when, status in meetings:
                    if when is None or not start.isoformat() <= when <= end.isoformat():
                        continue  # a service that ignored the dates sent everything
                    try:
                        self._meeting(cid, title, mid, when, status)
                    except FetchError as exc:  # one meeting's failure is reported; the others are fetched
                        self.report.skipped.append((f"meeting {mid} ({title}, {when})", str(exc)))
        except Budget as stop:
            self.report.stopped = str(stop)
        finally:
            self._save_state()
            self.report.requests, self.report.bytes = self.client.requests, self.client.bytes
        return self.report

    def _meeting(self, cid: str, committee: str, mid: str, when: str, status: str) -> None:
        items = parse_meeting(self.client.xml("GetMeeting", lMeetingId=mid))
        self.report.meetings += 1
        if not items:
            self.report.skipped.append((f"meeting {mid} ({committee}, {when})",
                                        f"{status.lower() or 'no'} meeting with no agenda items"))
            return
        page = f"{self.client.base_url}/ieListDocuments.aspx?CId={cid}&MId={mid}"
        base = {"council": self.council, "committee": committee, "date": when, "moderngov_committee_id": cid,
                "moderngov_meeting_id": mid}
        for item in self.progress(items, f"{committee} {when}"):
            access = "restricted" if item.restricted else "public"
            ids = {**base, "moderngov_agenda_item_id": item.item_id, "agenda_item_number": item.number,
                   **({"moderngov_is_decision": True} if item.is_decision else {})}
            if item.minutes_html:
                self._minutes(item, {**ids, "title": f"{committee} minutes: {item.title}", "doc_type": "minutes",
                                     "source_url": page, "access": access})
            for doc in item.documents:
                doc_access = "restricted" if item.restricted or doc.restricted else "public"
                self._document_or_skip(doc, {**ids, "title": doc.title, "source_url": doc.url, "access": doc_access,
                                     "doc_type": normalise_doc_type(doc.title) or "report",
                                     "moderngov_attachment_id": doc.attachment_id})

    def _minutes(self, item: AgendaItem, meta: dict[str, Any]) -> None:
        heading = html.escape(" ".join(x for x in (item.number and f"{item.number}.", item.title) if x))
        body = (f"<html><head><title>{html.escape(meta['title'])}</title></head><body>"
                f"<h2>{heading}</h2>\n{item.minutes_html}\n</body></html>").encode()
        key = f"{meta['moderngov_meeting_id']}/{item.item_id}"
        digest = hashlib.sha256(body + json.dumps(meta, sort_keys=True).encode()).hexdigest()
        if self.state["minutes"].get(key) == digest:
            self.report.unchanged += 1
            return
        self._write(_stem(meta["moderngov_meeting_id"], item.item_id, "minutes"), ".html", body, meta)
        self.state["minutes"][key] = digest
        self._save_state()

    def _document_or_skip(self, doc: LinkedDoc, meta: dict[str, Any]) -> None:
        try:
            self._document(doc, meta)
        except FetchError as exc:  # kept for the next run: nothing was recorded as fetched
            self.report.skipped.append((doc.url, str(exc)))

    def _document(self, doc: LinkedDoc, meta: dict[str, Any]) -> None:
        known = self.state["documents"].get(doc.attachment_id or doc.url)
        headers = {}
        if known and known.get("etag"):
            headers["If-None-Match"] = known["etag"]
        if known and known.get("last_modified"):
            headers["If-Modified-Since"] = known["last_modified"]
        if known and not headers and known.get("published") == doc.published and known.get("meta") == meta:
            self.report.unchanged += 1  # no validators: a document republished gets a new publication date
            return
        r = self.client.get(doc.url, headers=headers)
        if r.status_code == 304:
            self.report.unchanged += 1
            return
        if r.status_code >= 400:
            self.report.skipped.append((doc.url, f"HTTP {r.status_code}"))
            return
        kind = r.headers.get("content-type", "").split(";")[0].strip().lower()
        suffix = _EXTENSIONS.get(kind) or Path(urlsplit(str(r.url)).path).suffix.lower()
        if suffix not in (".pdf", ".docx", ".html", ".htm", ".txt", ".md"):
            self.report.skipped.append((doc.url, f"not a paper the indexer reads ({kind or 'no content type'})"))
            return
        digest = hashlib.sha256(r.content).hexdigest()
        if known and known.get("sha256") == digest and known.get("meta") == meta:
            self.report.unchanged += 1
        else:
            self._write(_stem(meta["moderngov_meeting_id"], doc.attachment_id or digest[:12]), suffix, r.content,
                        meta)
        self.state["documents"][doc.attachment_id or doc.url] = {
            "etag": r.headers.get("etag"), "last_modified": r.headers.get("last-modified"), "sha256": digest,
            "published": doc.published, "meta": meta}
        self._save_state()


def window(date_from: str | None, date_to: str | None, days: int | None, today: date | None = None
           ) -> tuple[date, date]:
    """The meeting dates to fetch: --from/--to (YYYY-MM-DD), or the last `days` days (default 90) and the
    next 30, whose agendas are published ahead of the meeting."""
    today = today or date.today()
    end = date.fromisoformat(date_to) if date_to else today + timedelta(days=30)
    start = date.fromisoformat(date_from) if date_from else today - timedelta(days=days or 90)
    if start > end:
        raise ValueError(f"--from {start} is after --to {end}")
    return start, end
