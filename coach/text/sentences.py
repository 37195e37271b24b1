"""Sentence splitting, support (faithfulness) checks and instruction detection.

Deterministic and documented, so validators and the eval harness agree:
a sentence is *supported* by a source when at least SUPPORT_THRESHOLD of its content words
(stemmed, stop words removed) appear in one source sentence plus its neighbours, the source
around it states every number, day and month the sentence states, and the two agree on
negation ("will not ask" is not supported by "will ask", nor "will ask" by "will not ask").
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable

from coach.text.dates import TimeExpression, calendar_day, find_expressions, ordinal_day, resolve
from coach.text.tokens import tokenize

SUPPORT_THRESHOLD = 0.6

# A full stop after an initial ("R. Adeyemi") or a title ("Dr. Okafor") ends no sentence.
_NOT_AN_END = (r"(?<!\b[A-Z]\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bSt\.)(?<!\bMrs\.)"
               r"(?<!\bvs\.)(?<!\be\.g\.)(?<!\bi\.e\.)")
_SENTENCE_END = re.compile(
    _NOT_AN_END + r"(?<=[.!?…])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])|\n\s*[-*•]\s+|\n{2,}|\n(?=[A-Z])")
# Inside a sentence, a full stop before a lower-case word still ends a clause ("...30 mins. i
# should send..."): the support check compares such clauses one by one.
_CLAUSE_END = re.compile(_NOT_AN_END + r"(?<=[.!?…])[\"')\]]*\s+(?=[\"'(\[]?[a-z])")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")

# Text that addresses the model instead of describing the session. Treated as content, never
# obeyed, and kept out of summaries, key points and action items.
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instruction|prompt|rule|above|previous|system)"
    r"|\b(system|assistant|developer)\s*(prompt|message)?\s*:"
    r"|\b(you are now|act as|pretend to be|from now on,? you)\b"
    r"|\b(mark|rate|label|classify|flag|report|set|output|say|respond)\b.{0,40}\b(as|is|was)?\s*"
    r"(healthy|excellent|positive|green|on track)\b.{0,30}(pair|session|status|sentiment|health)?"
    r"|\bnote to (the )?(ai|model|assistant|coach)\b"
    r"|\b(reveal|print|show|repeat)\b.{0,30}\b(system prompt|your prompt|instructions)\b"
    r"|\b(set|change|mark|rate|label|make|report|output)\b.{0,30}\b(engagement|sentiment|status|health|"
    r"blockers?|score|rating)\b.{0,20}\b(to|as|=|is)\b"
    r"|<\s*/?\s*(system|instructions?|data|prompt)\s*>",
    re.IGNORECASE,
)


# Sentences that ask for credentials or money, or send people to contacts outside the
# programme: phishing planted in a record. The coach never repeats them, whatever the source.
_NOT = r"(?:never|don'?t|do not|not|no one|nobody|avoid|refuse|won'?t|shouldn'?t|must not)"
_GIVE = (r"(?:send|e-?mail|share|give|tell|text|forward|provide|post|dm|pass|read out|hand over|"
         r"submit|reply with|type|enter|paste|upload|confirm)")
_SECRET = (r"(?:password|passcode|passphrase|pin(?: code)?|credentials|login details|log-?in|"
           r"one-time code|verification code|security code|authenticat\w+ code|mfa code|2fa code|"
           r"recovery code|bank details|account number|card number|card details|sort code|iban|cvv)"
           r"(?!\s+(?:reset|manager|policy|policies|change|rules|hygiene|strength))")
_PAY = (r"(?:send|transfer|wire|pay|buy|deposit|move|lend)\b[^.!?]{0,40}?(?:\b(?:money|funds|"
        r"cash|payment|gift ?cards?|vouchers?|bitcoin|crypto\w*)|[£$€]\s?\d|"
        r"\b\d+\s?(?:pounds|dollars|euros))")
_ASK = re.compile(rf"\b{_GIVE}\b[^.!?]{{0,40}}\b{_SECRET}\b|\b{_PAY}", re.IGNORECASE)
_NEGATED = re.compile(rf"\b{_NOT}\b[^.!?,;]{{0,25}}$", re.IGNORECASE)
_CONTACT = re.compile(
    r"[\w.+-]+@[\w-]+\.[\w.-]*[a-z]"                      # an email address
    r"|https?://|\bwww\.\w"                                  # a link
    r"|\b(?:whatsapp|telegram|signal app|wechat|text me|call me on|dm me|message me on|"
    r"my personal (?:e-?mail|number|phone))\b",
    re.IGNORECASE)
_PHONE = re.compile(r"(?<![\w-])\+?\d[\d ().-]{7,}\d(?![\w-])")


def solicits(sentence: str) -> bool:
    """Whether a sentence asks for credentials or money, or points to a contact outside the
    programme (an email address, link, phone number or private messaging)."""
    if _CONTACT.search(sentence):
        return True
    for match in _ASK.finditer(sentence):
        if not _NEGATED.search(sentence[:match.start()]):  # "never share your password" is advice
            return True
    for match in _PHONE.finditer(sentence):
        digits = re.sub(r"\D", "", match.group(0))
        if len(digits) >= 9 and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", match.group(0).strip()):
            return True
    return False


def unsafe_to_repeat(sentence: str) -> bool:
    """Text the coach keeps out of everything it shows: instructions addressed to it, and
    requests for credentials, money or outside contact."""
    return looks_like_instruction(sentence) or solicits(sentence)


_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z][\w-]{0,20}[^<>]{0,60}>")


def split_sentences(text: str) -> list[str]:
    """Split prose and bullet lists into sentences, keeping each sentence's own wording.
    Tag-like markup (``</data>``, ``<system>``) becomes a sentence break of its own, so it
    cannot glue an injected instruction onto real content."""
    text = _MARKUP.sub(lambda m: f"\n\n{m.group(0)}\n\n", text.replace("\r\n", "\n")).strip()
    parts: list[str] = []
    for block in _SENTENCE_END.split("\n" + text):
        block = _BULLET.sub("", block or "").strip()
        block = re.sub(r"\s+", " ", block)
        if len(block) >= 3:
            parts.append(block)
    return parts


def clauses(text: str) -> list[str]:
    """The text's sentences, each split again where it runs on after a full stop into a
    lower-case start (notes written without capitals)."""
    return [c for s in (split_sentences(text) or [text]) for c in _CLAUSE_END.split(s)
            if c.strip()]


def join_sentences(sentences: Iterable[str]) -> str:
    """Sentences as one paragraph that splits back into the same sentences: a line of notes
    gets a full stop if it has none, and a capital letter if it starts in lower case."""
    out = []
    for s in (s.strip() for s in sentences):
        if s:
            s = s[0].upper() + s[1:]
            out.append(s if s[-1] in ".!?…\"')" else s + ".")
    return " ".join(out)


def looks_like_instruction(sentence: str) -> bool:
    return bool(_INSTRUCTION.search(sentence))


_NEGATION = re.compile(
    r"\b(?:not|no|never|nothing|nobody|none|neither|nor|cannot|without|no longer|refused|"
    r"refuses|failed to|fails to|unable)\b|n['’]t\b", re.IGNORECASE)
_NUMBER_WORDS = [
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "fifteen", "twenty", "thirty", "forty", "fifty", "sixty", "ninety", "hundred", "half",
    "quarter", "once", "twice"
]
_WEEKDAYS = [
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "mon", "tue",
    "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun"
]
_MONTHS = [
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec"
]
_SPECIFIC = re.compile(r"\d+(?:[.,:/]\d+)*|\b(?:" + "|".join(_NUMBER_WORDS + _WEEKDAYS + _MONTHS) +
                       r"|weekend)\b", re.IGNORECASE)
# Times that have no date for the due-date reader (coach.text.dates names the others), each
# with the name it is compared by: "after Easter" is not "after Christmas".
_OCCASIONS = tuple((re.compile(pattern, re.IGNORECASE), name) for pattern, name in (
    (r"\byesterday\b", "yesterday"),
    (r"\b(?:last (?:week|month|quarter|year|term)|this (?:month|quarter|year|term)|"
     r"next (?:quarter|year|term))\b", None),
    (r"\bend of (?:the |this |next )?(?:year|term)\b", None),
    (r"\b(?:christmas|xmas)\b", "christmas"), (r"\beaster\b", "easter"),
    (r"\bnew year\b", "new year"), (r"\bhalf[- ]term\b", "half-term"),
    (r"\b(?:summer|autumn|winter|spring)\b", None)))


_A_MONDAY = dt.date(2026, 1, 5)


def _time_name(expression: TimeExpression) -> str:
    """What a time expression is compared by: a date as its day and month ("14 mar", so that
    "by 20 April" is not stated by a text that says "20%" and "30 April"), a relative time by
    its kind ("tomorrow" for "tmrw", "month_end" for "the end of the month")."""
    day = calendar_day(expression)
    if day is not None:
        return f"{day[0]} {calendar.month_abbr[day[1]].lower()}"
    if expression.kind == "weekday":
        return expression.text.split()[-1].lower()[:3]
    if expression.kind in ("tomorrow", "fortnight", "in_n"):  # "tmrw" and "in 1 day" alike
        return f"in {(resolve(expression, _A_MONDAY, None) - _A_MONDAY).days} days"
    if expression.kind == "ordinal":
        return f"day {ordinal_day(expression)}"
    return expression.kind


def negated(sentence: str) -> bool:
    return bool(_NEGATION.search(sentence))


def specifics(sentence: str) -> set[str]:
    """The numbers, days, months and other times a sentence states ("ten", "14/3", "friday",
    "march", "14 mar", "next_week", "easter")."""
    out = set()
    for match in _SPECIFIC.finditer(sentence):
        word = match.group(0).lower()
        out.add(word[:3] if word in _WEEKDAYS or word in _MONTHS else word)
    out.update(_time_name(e) for e in find_expressions(sentence))
    for pattern, name in _OCCASIONS:
        out.update(name or re.sub(r"\s+(?:the|this)\s+", " ", m.group(0).lower())
                   for m in pattern.finditer(sentence))
    return out - {"may"}  # "may" is far more often the verb


def _span_of(words: set[str], sentence: str) -> str:
    """The stretch of ``sentence`` a claim rests on, even inside a long unpunctuated voice
    note: from a little before the first of ``words`` it uses to the first use of the last
    of them, and a word or two beyond (where "not", "never" or "no" sit)."""
    tokens = list(re.finditer(r"[\w'’]+", sentence))
    first: dict[str, int] = {}
    for n, m in enumerate(tokens):
        for stem in set(tokenize(m.group(0))) & words:
            first.setdefault(stem, n)
    if not first:
        return sentence
    start, end = max(0, min(first.values()) - 3), min(len(tokens) - 1, max(first.values()) + 2)
    return sentence[tokens[start].start():tokens[end].end()]


def support(sentence: str, sources: Iterable[str]) -> float:
    """Share of the sentence's content words found in the best source window (0..1), over
    the windows that agree with it on negation and (give or take a sentence) state its
    numbers, days and months."""
    words = set(tokenize(sentence))
    if not words:
        return 0.0
    source_sentences = [c for src in sources for c in clauses(src)]
    token_sets = [set(tokenize(s)) for s in source_sentences]
    wanted, negative = specifics(sentence), negated(sentence)
    best = 0.0
    for i in range(len(token_sets)):
        lo, hi = max(0, i - 1), min(len(token_sets), i + 2)
        window = token_sets[i].union(*token_sets[lo:hi])
        share = len(words & window) / len(words)
        if share <= best:
            continue
        if wanted and not wanted <= set().union(
                *(specifics(s) for s in source_sentences[max(0, i - 2):i + 3])):
            continue
        closest = max(range(lo, hi), key=lambda j: (len(words & token_sets[j]), j == i))
        if negated(_span_of(words, source_sentences[closest])) != negative:
            continue
        best = share
        if best >= 1.0:
            break
    return best


def is_supported(sentence: str, sources: Iterable[str], threshold: float = SUPPORT_THRESHOLD) -> bool:
    return support(sentence, list(sources)) >= threshold


def overlap(a: str, b: str) -> float:
    """Symmetric token overlap (Dice) between two texts."""
    ta, tb = set(tokenize(a)), set(tokenize(b))
    if not ta or not tb:
        return 0.0
    return 2 * len(ta & tb) / (len(ta) + len(tb))


def fence(text: str) -> str:
    """Quote untrusted text as data: neutralise anything that could close or open a fence."""
    cleaned = re.sub(r"<\s*/?\s*(data|system|instructions?|user|assistant)[^>]*>", "[tag removed]",
                     str(text), flags=re.IGNORECASE)
    cleaned = cleaned.replace("```", "'''")
    return f"<data>\n{cleaned}\n</data>"
