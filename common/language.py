"""Language rules as data: every word list the indexer, the search core and the UI use, in one place.

Each list is generic English or generic UK local-government vocabulary. None is tuned to a corpus:
no topic words of the papers we happen to index (children, education, health, ...) and no page
furniture of one website. Where a corpus-specific word list used to do the job, a general rule does
it instead (see `web_ui_line` and `prose_words`), so the product behaves the same on councils and
subjects it never saw. `tests/test_language.py` checks the lists and the rules.

Month and weekday names come from the one table in `common.dates`.
"""

from __future__ import annotations

import re

from common.dates import MONTH_NAMES, MONTHS, WEEKDAY_NAMES

# ----------------------------------------------------------------------------------- council names

# Words that make a council name more or less official but do not identify the place: dropped to
# get "wolverhampton" out of "City of Wolverhampton Council". Kinds of body, tiers, abbreviations of
# them and the connectives between them. Used at index time and at query time (common.names).
GENERIC_COUNCIL_WORDS: frozenset[str] = frozenset((
    "the", "of", "city", "council", "borough", "metropolitan", "county", "district", "parish", "town",
    "corporation", "royal", "mbc", "cc", "bc", "dc", "community", "village", "unitary", "authority", "combined",
))  # fmt: skip
# How an official name may lead into the place ("London Borough of Hackney"): a question that says so
# names that one council, not also one called "London" (lower case, longest first).
COUNCIL_NAME_PREFIXES: tuple[str, ...] = (
    "london borough of", "royal borough of", "city and county of", "metropolitan borough of", "borough of",
    "county of", "city of",
)  # fmt: skip
# A name holding one of these is an official body's name, preferred as the canonical spelling.
OFFICIAL_WORDS: tuple[str, ...] = ("council", "corporation", "commission", "authority", "board")
# Words of a meeting's kind that are glued to a council's name in headings ("Annual Council").
MEETING_WORDS: frozenset[str] = frozenset(
    ("annual", "ordinary", "extraordinary", "special", "full", "emergency", "meeting")
)
# First words showing that "<Word> Council" is a phrase, not a place ("Our Future Council", "The Council",
# "Executive Council", "Cllr Smith ... Council"): determiners, prepositions, titles, kinds of meeting or body.
NOT_PLACE_FIRST_WORDS: frozenset[str] = frozenset((
    "the", "our", "this", "that", "full", "each", "every", "a", "an", "local", "parish", "town", "county",
    "city", "borough", "district", "executive", "annual", "special", "extraordinary", "neighbouring",
    "other", "any", "all", "and", "of", "said", "with", "by", "from", "to", "for", "at", "in", "as",
    "advisory", "mr", "mrs", "ms", "cllr", "councillor", "if", "when", "agreed", "approved", "contact", "new",
    "next", "last", "both", "municipal", "your", "ordinary", "whole", "joint", "regional", "national", "state",
))  # fmt: skip
# Words that are never part of a place's name wherever they stand in it: pronouns, determiners, and the
# month names other than "May", which is also a surname and a word of place names, so it alone rules
# nothing out.
NOT_PLACE_WORDS: frozenset[str] = frozenset(
    ("that", "this", "your", "our", "their", "his", "her", "its", "we", "it", "i", "which", "the")
) | (frozenset(MONTHS) - {"may"})
# Words that are never a place in "in/of/for <Place>" (the fallback that finds "in Trafford"): calendar
# words, generic council and government vocabulary, and pronouns. Topic words ("in Education", "of Early
# Help") are told apart by a rule, not by a list: see `prose_words`.
PLACE_STOP_WORDS: frozenset[str] = frozenset(MONTH_NAMES) | frozenset(WEEKDAY_NAMES) | frozenset((
    "council", "councils", "committee", "cabinet", "panel", "board", "scrutiny", "services", "service",
    "department", "directorate", "authority", "government", "state", "parliament", "england", "britain",
    "scotland", "wales", "ireland", "kingdom", "chair", "mayor", "members", "member", "officer", "officers",
    "item", "report", "agenda", "minutes", "meeting", "appendix", "section", "policy", "strategy", "plan",
    "this", "that", "these", "those", "their", "there", "which", "with",
))  # fmt: skip
# Prepositions before a place in "in/of/for <Place>", weighted by how surely they introduce one: things
# happen "in", "within", "across" a place, while "of" and "for" introduce a subject as often ("Director
# for Housing", "Head of Planning"), so they count half.
PLACE_PREPOSITIONS: dict[str, float] = {
    "in": 1.0, "within": 1.0, "across": 1.0, "throughout": 1.0, "of": 0.5, "for": 0.5,
}  # fmt: skip
# Councillor titles that a speaker's name may carry or drop ("Cllr Jane Francis" == "Jane Francis").
COUNCILLOR_TITLES: tuple[str, ...] = ("councillor", "councilor", "cllr")

# ------------------------------------------------------------------------------------------ titles

# Words that stay lower case inside a title-cased heading ("Report of the Director for Housing").
SMALL_WORDS: frozenset[str] = frozenset(("and", "of", "for", "the", "on", "in", "to", "a", "an", "at", "by", "with"))

# --------------------------------------------------------------------------------- speaker labels

# First words of a `Word: text` line that is document furniture, not a speaker's turn ("Date: 4 May",
# "RESOLVED: that...", "Present: Cllrs A, B", "Report of: the Director"): the field labels, decision
# words and reference lines of papers and minutes. Lower case; matched against a label's first word.
NOT_SPEAKER_LABEL_WORDS: frozenset[str] = frozenset((
    "note", "notes", "nb", "subject", "re", "date", "dates", "time", "times", "venue", "location", "place",
    "present", "apologies", "apology", "absent", "attendees", "attendance", "attending", "resolved",
    "resolution", "resolutions", "agreed", "decided", "decision", "decisions", "action", "actions", "minutes",
    "minute", "agenda", "item", "items", "report", "reports", "recommendation", "recommendations", "summary",
    "purpose", "title", "ref", "reference", "references", "tel", "telephone", "phone", "mobile", "email",
    "e-mail", "fax", "web", "website", "url", "http", "https", "www", "contact", "contacts", "author", "from",
    "to", "cc", "bcc", "sent", "wards", "ward", "status", "classification", "appendix", "appendices",
    "annex", "background", "source", "sources", "copyright", "licence", "license", "page", "pages", "file",
    "version", "updated", "keywords", "tags", "see", "question", "questions", "answer", "answers", "response",
    "reply", "proposed", "seconded", "moved", "vote", "votes", "for", "against", "abstained", "abstentions",
    "total", "result", "outcome", "key", "risk", "risks", "cost", "costs", "budget", "total", "example",
    "examples", "e.g", "i.e", "warning", "caution", "tip", "important", "update", "outcomes", "objective",
    "objectives", "aim", "aims", "scope", "next", "previous", "also", "in", "and", "or", "but", "if", "then",
    "however", "therefore", "that", "step", "stage", "phase", "part", "section", "chapter", "paragraph", "table",
    "figure", "fig", "chart", "map", "document", "documents", "enclosure", "enclosures", "attachment",
    "attachments", "link", "links", "address", "postcode", "tel.", "issue", "issues", "discussion", "comment",
    "comments", "feedback", "conclusion", "conclusions", "introduction", "overview", "definition", "meaning",
))  # fmt: skip
# Lower-case words a speaker's label may hold between its capitalised words ("Secretary of State for
# Transport", "Ursula von der Leyen", "Leader and Cabinet Member"); any other lower-case word makes the
# phrase a sentence ("Members noted the following").
LABEL_CONNECTIVES: frozenset[str] = frozenset((
    "and", "of", "for", "the", "on", "in", "to", "at", "&", "de", "van", "von", "der", "den", "la", "le", "da",
    "du", "di", "del", "bin", "al", "y", "ap", "upon",
))  # fmt: skip

# ------------------------------------------------------------------------------------ minutes

# Words that open the record of a decision in English minutes ("RESOLVED: that ...", "Agreed - the Clerk
# to write", "DECISION", "It was resolved that ..."); such a block is kept whole with its agenda item.
DECISION_WORDS: tuple[str, ...] = ("resolved", "agreed", "decided", "decision", "resolution", "determined")
# Capitalised words that start a sentence rather than continue a title: where a minute's title runs into
# its text with no punctuation ("Neighbourhood Plan The Chair advised ..."), the title ends before one.
SENTENCE_OPENERS: frozenset[str] = frozenset((
    "the", "there", "these", "this", "that", "those", "it", "a", "an", "he", "she", "they", "we", "all", "no",
    "members", "councillors", "following",
))  # fmt: skip
# Words that may introduce a minute's number ("Minute 123/24", "Item 5", "Min. 45").
MINUTE_NUMBER_WORDS: tuple[str, ...] = ("minute", "min", "item", "agenda item")

# ------------------------------------------------------------------------------------ query words

# A word in a question that names a kind of document -> the index's doc_type value.
DOC_TYPE_WORDS: dict[str, str] = {
    "minutes": "minutes", "minute": "minutes",
    "webcast": "transcript", "webcasts": "transcript", "transcript": "transcript", "transcripts": "transcript",
    "recording": "transcript", "video": "transcript",
    "report": "report", "reports": "report", "paper": "report", "papers": "report",
    "notes": "notes", "agenda": "agenda", "agendas": "agenda",
}  # fmt: skip
# Words that appear in almost every question about council papers and carry no topic. These are the
# forms the BM25 tokenizer (English Snowball stemmer) produces: "whi" is "why", "describ" "describe".
QUESTION_WORDS: frozenset[str] = frozenset((
    "what", "whi", "which", "who", "whom", "whose", "when", "where", "why", "how", "did", "do", "doe", "does",
    "done", "is", "are", "was", "were", "be", "been", "has", "have", "had", "say", "said", "tell", "told", "talk",
    "discuss", "mention", "describ", "explain", "about", "the", "a", "an", "of", "to", "in", "on", "for", "and",
    "or", "council", "councillor", "cllr", "committe", "meet", "panel", "scrutini", "there", "their", "they",
    "it", "its", "this", "that", "these", "those", "any", "ani", "much", "mani", "can", "could", "should",
    "would", "will", "shall", "get", "got", "make", "made", "give", "given", "ask", "from",
))  # fmt: skip
# The words of a question that asks what was decided, agreed, approved, resolved or voted.
ASKS_DECISION = re.compile(r"\b(?:decid\w*|decision\w*|agree[ds]?|approv\w*|resol\w*|vot(?:e|ed|ing))\b", re.I)
# Words that show a sentence holds a quantity or a date (an answer to "how many", "when").
NUMBER_WORDS: tuple[str, ...] = (
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "fifteen",
    "twenty", "thirty", "forty", "fifty", "hundred", "thousand", "million", "billion", "half", "quarter", "dozen",
    "percent", *MONTH_NAMES, "spring", "summer", "autumn", "winter",
)  # fmt: skip
# English function words, and "council(s)", which every paper says: never highlighted in a passage.
_STOPWORD_TEXT = """a about above after again against all also am an and any are as at be
    because been before being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers him his how i if in into is it its itself just me more
    most my no nor not now of off on once only or other our ours out over own said same say says she should so
    some such than that the their theirs them then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours council
    councils"""
STOPWORDS: frozenset[str] = frozenset(_STOPWORD_TEXT.split())

# ------------------------------------------------------------------------------------------- rules

# Verbs of a web page's controls ("Share this page", "Print this item", "Back to top", "Skip to content").
WEB_UI_VERBS: tuple[str, ...] = (
    "share", "print", "download", "email", "bookmark", "subscribe", "follow", "tweet", "copy", "skip", "back",
    "jump", "return", "go", "show", "hide", "expand", "collapse", "view", "watch", "play", "sign", "log",
)  # fmt: skip
# The word after such a verb in a control's label: it points at the page, not at the world.
WEB_UI_LINKERS: tuple[str, ...] = ("this", "to", "on", "all", "in", "out", "up", "via", "page", "link")

# A web-page control's label on a line of its own: a capitalised interface verb, a linker, at most three
# more words and no punctuation. Scraped webcast and committee pages are full of them; they are never an
# answer and must not glue the lines around them into one quote.
_WEB_UI_LINE = re.compile(
    r"^\s*(?:" + "|".join(v[0].upper() + v[1:] for v in WEB_UI_VERBS) + r")"
    r"\s+(?:" + "|".join(WEB_UI_LINKERS) + r")(?:\s+[A-Za-z][\w'’-]*){0,3}\s*$"
)


def web_ui_line(line: str) -> bool:
    """Whether a line is a web page's control label ("Share this agenda point", "Back to top")."""
    return _WEB_UI_LINE.match(line) is not None


# A lower-case word in running text, not part of a web or e-mail address ("trafford.gov.uk").
_PROSE_WORD = re.compile(r"(?<![\w./@'’-])[a-z][a-z'’-]*(?![\w/@-]|\.\w)")


def prose_words(text: str) -> frozenset[str]:
    """The words `text` writes in lower case in running prose (addresses left out).

    A capitalised word the same document also writes in lower case is common English used in a heading
    or a name of a service ("in Early Help", "of Education", "Youth Council"), not a place: the place
    rules use this instead of lists of topic words. A place's name is written capitalised throughout.
    """
    words: set[str] = set()
    for m in _PROSE_WORD.finditer(text):
        # "children's" and "self-help" count as "children", "self" and "help"
        words.update(part for part in re.sub(r"['’]s?$", "", m.group(0)).split("-") if part)
    return frozenset(words)


# Words that qualify a place's name without being common-English subjects ("Greater Manchester", "North
# Tyneside", "Upper Norwood"): a document may write them in lower case and the name is still a place.
PLACE_MODIFIERS: frozenset[str] = frozenset((
    "greater", "great", "little", "north", "south", "east", "west", "northern", "southern", "eastern",
    "western", "central", "mid", "upper", "lower", "new", "old", "high", "inner", "outer",
))  # fmt: skip


# Small words inside a place's name ("Kingston upon Thames", "Bath and North East Somerset").
PLACE_CONNECTIVES: frozenset[str] = frozenset(("upon", "on", "under", "in", "le", "de", "and", "&", "of", "the"))


def is_common_phrase(phrase: str, prose: frozenset[str], *, every: bool = False) -> bool:
    """Whether `phrase` is made of words the document also writes in lower case (see `prose_words`).

    By default one such word is enough: "Early Help" in a paper that says "help" is a service's name,
    not a place. With `every`, all its words must be (for a council-shaped name, which is stronger
    evidence of a place). `PLACE_MODIFIERS` and `PLACE_CONNECTIVES` are not counted, so "Greater
    Manchester" stays a place though the paper says "greater"; a possessive ("Children's") is checked
    without its "'s".
    """
    words = [re.sub(r"['’]s?$", "", w) for w in phrase.lower().split()]
    words = [w for w in words if w and w not in PLACE_MODIFIERS and w not in PLACE_CONNECTIVES]
    if not words:
        return False
    hits = [w in prose for w in words]
    return all(hits) if every else any(hits)

# Labels that open a field of a report's cover sheet rather than a sentence ("Subject: ...", "Purpose: ...");
# answers never quote a line that starts with one followed by a colon.
FIELD_LABELS: tuple[str, ...] = ("Subject", "Title", "Report of", "Report to", "Purpose")
