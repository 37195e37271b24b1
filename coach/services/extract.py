"""Deterministic reading of a reflection: action items, blockers, sentiment, key points, summary.

Rules, not a model: they are predictable, cheap and never invent anything, because every item
they return is a phrase taken from the reflection itself.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field

from coach.retrieval.text import tokenize
from coach.services.text import unsafe_to_repeat, split_sentences

_COMMIT = re.compile(
    r"\b(?P<subj>I|we|(?:my|our) (?:mentor|mentee)|[A-Z][a-z]+)\s*(?:(?:'ll|’ll| will| shall| am going to|'m going to|’m going to"
    r"| are going to| is going to| plan to| promised to| have promised to| agreed to| have agreed to"
    r"| offered to| committed to| need to| must| want to| intend to| volunteered to| said (?:she|he|they)'d"
    r"| will try to| am to| are to| is to)\s+)(?P<rest>.+)",
    re.IGNORECASE,
)
_AGREED = re.compile(r"\b(?:we|I) agreed (?:that )?(?P<subj>I|we|[A-Z][a-z]+|(?:my|our) (?:mentor|mentee)|(?:s)?he|they)\s+(?:will|would|should|'d)\s+(?P<rest>.+)", re.IGNORECASE)
_NEXT = re.compile(r"\b(?:next time|before (?:our|the) next session|by next session|for next time),?\s*(?P<subj>I|we)?\s*(?:will|'ll|’ll|want to|would like to|need to|should)?\s*(?P<rest>.+)", re.IGNORECASE)
_LABEL = re.compile(r"^\s*(?:action|action item|to do|todo|next step|homework)s?\s*[:\-]\s*(?P<rest>.+)", re.IGNORECASE)
_NOT_A_COMMITMENT = re.compile(
    r"\b(won'?t|will not|not going to|never|don'?t (?:need|plan|intend|want) to|no need to|"
    r"maybe one day|one day|someday|some day|might|may|could|if I ever|if we ever|would have|"
    r"should have|didn'?t|did not|wouldn'?t|not sure (?:I|we)'ll|wish I)\b",
    re.IGNORECASE,
)
_BLOCKER = re.compile(
    r"\b(cut (?:it )?short|cancel+ed|cancel|postpon|reschedul|ran out of time|out of time|interrupt|"
    r"pulled (?:into|away|out)|got pulled|called away|couldn'?t|could not|didn'?t manage|no time|"
    r"too busy|blocked|blocker|struggl|distract|on (?:his|her|their) phone|phone out|checking (?:his|her|their) (?:phone|email)|"
    r"turned up late|arrived late|was late|overran|no access|access to|got in the way|frustrat|awkward|"
    r"patronis|patroniz|didn'?t show|no-show|no show|double-booked|clash|kept moving|hard to find time|"
    r"rushed|tense|defensive|dismissive|talked over|uncomfortable|stalled|drifting|"
    r"had(?:n'?t| not) read|didn'?t read|did not read|camera|projector|microphone|wi-?fi|"
    r"wouldn'?t (?:connect|work|commit|engage)|refused to work|left early|had to leave|tangent|"
    r"checked (?:his|her|my|their) (?:email|phone|messages)|(?:on|at) (?:my|his|her|their) phone|"
    r"room (?:booking|was taken)|double-booked|moved the slot|"
    r"only had \d+|only had (?:ten|fifteen|twenty|thirty)|didn'?t get to|did not get to|"
    r"got in the way|lost (?:the|an|twenty|ten|\d+))",
    re.IGNORECASE,
)
# Drift: the pair is still meeting but the sessions have stopped going anywhere.
_STAGNATION = re.compile(
    r"\b(going (?:round )?in circles|(?:the )?same ground|nothing (?:has )?changed|not making (?:much )?progress|"
    r"no (?:real )?progress|not sure what (?:these|the|our) (?:sessions|meetings) are for|"
    r"lack of time|under (?:a lot of )?pressure|(?:have not|haven'?t|hasn'?t|did not|didn'?t) (?:had|have|find|found|get|got|manage)(?:d)? (?:the )?time|"
    r"did not manage|didn'?t manage|keep it to (?:\w+|\d+) minutes|cut (?:it )?(?:to|down to) (?:\w+|\d+) minutes|"
    r"going through the motions|box[- ]ticking|half[- ]hearted|checked out|switched off|"
    r"(?:no|little) (?:energy|interest)|dread)",
    re.IGNORECASE,
)
_POSITIVE = {
    "great", "useful", "enjoy", "enjoyed", "valuable", "helpful", "excit", "excited", "insightful",
    "learn", "learned", "learnt", "love", "loved", "good", "clear", "confident", "progress",
    "productive", "fun", "thank", "thanks", "impress", "impressed", "inspir", "inspired",
    "appreciat", "appreciate", "eye-opening", "eye", "brilliant", "energis", "energiz", "proud",
    "engag", "engaged", "open", "honest", "practical", "fascinat", "happy", "glad", "better",
    "success", "worked", "relax", "relaxed", "curious", "warm", "generous", "easier",
    "worthwhile", "rewarding", "thoughtful", "patient", "kind", "insight", "clearer", "finally",
    "breakthrough", "welcome", "grateful", "thankful", "pleased", "delighted", "enjoyable",
    "excellent", "wonderful", "fantastic", "amazing", "nice", "helped", "valuable", "encourag",
    "motivat", "comfortable", "laugh", "laughed", "smile", "liked", "keen", "concrete", "sharp",
    "win", "taught", "surprised", "fair", "respect", "trust", "promising", "positive", "reassur",
}
_NEGATIVE = {
    "frustrat", "awkward", "rush", "rushed", "disappoint", "disappointed", "waste", "pointless",
    "annoy", "annoyed", "tired", "patronis", "patroniz", "uncomfortabl", "uncomfortable",
    "difficult", "stuck", "cancel", "bore", "bored", "boring", "late", "distract", "distracted",
    "worri", "worried", "confus", "confused", "unclear", "tense", "defensive", "dismissive",
    "lost", "flat", "rude", "ignored", "unprepared", "hard", "wasted", "struggle", "struggled",
    "sceptical", "skeptical", "distant", "doubt", "unhelpful",
    "nothing", "meh", "draining", "drained", "dread", "dreading", "upset", "hurt", "sad",
    "poor", "bad", "worse", "worst", "useless", "irritat", "annoying", "missed", "forgot",
    "stressed", "anxious", "mismatched", "reluctant", "resist", "cynical", "awkwardly",
    "apologis", "apologiz", "disengag", "dismiss", "interrupt", "rude", "negative", "failed",
}
_NEGATORS = {"not", "no", "never", "hardly", "barely", "isnt", "wasnt", "didnt", "dont", "nt"}
_LEARN = re.compile(r"\b(learn|learnt|realis|realiz|showed|explained|discussed|talked about|covered|"
                    r"tried|understand|understood|found out|discovered|noticed|surprised|insight|"
                    r"walked me through|demonstrat|practis|practic|explored|looked at)", re.IGNORECASE)
# Clause boundaries where a new commitment can start ("..., and I'll ...", "...; she will ...").
_CLAUSE = re.compile(r"(?<=[a-z0-9])[;:]\s+|,\s*(?:and|but|so|then|while)\s+(?=(?:I|we|he|she|they|[A-Z][a-z]+)\b)"
                     r"|\s+and\s+(?=(?:I|we)(?:'ll|’ll| will)\b)|\s+and\s+(?=[A-Z][a-z]+ (?:will|is going to|agreed to)\b)")
# One subject doing two things: "block the slot and tell my EA ..." becomes two actions.
_ACTION_VERBS = ("ask|tell|send|share|run|book|write|read|set|try|put|check|draft|email|follow|"
                 "schedule|review|call|post|add|invite|introduce|look|find|pull|bring|prepare|"
                 "raise|say|use|join|spend|compare|rebook|show|test|update|talk|meet|create|sign")
_SAME_SUBJECT = re.compile(rf"\s*(?:,\s*and|\s+and|;)\s+(?=(?:then\s+|also\s+)?(?:{_ACTION_VERBS})\b)",
                           re.IGNORECASE)
_WHEN = re.compile(r"\s+(?:before (?:we|our|the) (?:next )?(?:meet|session|meeting)(?: again)?|"
                   r"before we meet again|from now on|next time|when we next meet)\b.*$", re.IGNORECASE)
_NOT_AN_ACTION = re.compile(r"(?i)(be (honest|frank|clear|fair)|admit|confess|say (that|this)|"
                            r"(be|feel|have|get) (more|better|less)|see (how|what|if)|keep (going|it up)|"
                            r"have (abandoned|been|done|had)|need (to|a))\b")
_WEEKDAYS = {d.lower(): i for i, d in enumerate(calendar.day_name)}
_DUE = re.compile(
    r"\s*(?:,\s*)?\b(?:by|before|on|until|no later than)\s+(?:the\s+)?"
    r"(?P<when>(?:next\s+)?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|"
    r"tomorrow|next week|end of (?:the )?(?:week|month)|\d{4}-\d{2}-\d{2}|\d{1,2}(?:st|nd|rd|th)|"
    r"(?:our|the) next (?:session|meeting)|next session)\b\.?",
    re.IGNORECASE,
)


@dataclass
class Extraction:
    sentences: list[str]
    ignored: list[str]
    action_items: list[dict]
    blockers: list[str]
    sentiment: str
    sentiment_score: float
    engagement: str
    key_points: list[str]
    summary_sentences: list[str]
    action_sentences: set[int] = field(default_factory=set)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z][a-z'’-]*", text.lower().replace("n't", " nt").replace("n’t", " nt"))


def sentiment_of(sentences: list[str]) -> float:
    pos = neg = 0.0
    for sentence in sentences:
        words = _words(sentence)
        for i, w in enumerate(words):
            polarity = 0
            if any(w.startswith(p) for p in _POSITIVE if len(p) > 4) or w in _POSITIVE:
                polarity = 1
            if any(w.startswith(n) for n in _NEGATIVE if len(n) > 4) or w in _NEGATIVE:
                polarity = -1
            if not polarity:
                continue
            if any(x in _NEGATORS for x in words[max(0, i - 3):i]):
                polarity = -polarity
            if polarity > 0:
                pos += 1
            else:
                neg += 1.2  # complaints are rarer and weigh more in a reflection
    return (pos - neg) / (pos + neg + 1)


def label_sentiment(score: float) -> str:
    return "positive" if score > 0.2 else "negative" if score < -0.15 else "neutral"


def parse_due(text: str, written: dt.date) -> tuple[str, str | None]:
    """Strip a due phrase from ``text``; return (text, ISO date or None)."""
    match = _DUE.search(text)
    if not match:
        return text, None
    when = match.group("when").lower()
    due: dt.date | None = None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", when):
        try:
            due = dt.date.fromisoformat(when)
        except ValueError:
            due = None
    elif when == "tomorrow":
        due = written + dt.timedelta(days=1)
    elif when == "next week":
        due = written + dt.timedelta(days=7)
    elif when.startswith("end of"):
        if "week" in when:
            due = written + dt.timedelta(days=(4 - written.weekday()) % 7)
        else:
            due = written.replace(day=calendar.monthrange(written.year, written.month)[1])
    elif when.rstrip("stndrh").isdigit():
        day = int(re.sub(r"\D", "", when))
        candidate = written
        for _ in range(62):
            candidate += dt.timedelta(days=1)
            if candidate.day == day:
                due = candidate
                break
    elif when.split()[-1] in _WEEKDAYS:
        target = _WEEKDAYS[when.split()[-1]]
        ahead = (target - written.weekday()) % 7 or 7
        due = written + dt.timedelta(days=ahead + (7 if when.startswith("next ") and ahead < 7 else 0))
    cleaned = (text[:match.start()] + text[match.end():]).strip(" ,;.")
    return cleaned, due.isoformat() if due else None


def _owner(subject: str | None, author_role: str, names: dict[str, str]) -> str:
    other = "mentor" if author_role == "mentee" else "mentee"
    if not subject:
        return author_role
    s = subject.lower()
    if s in ("i", "we"):
        return author_role
    if "mentor" in s:
        return "mentor"
    if "mentee" in s:
        return "mentee"
    if s in ("he", "she", "they"):
        return other
    return names.get(s, other)


def _tidy(phrase: str) -> str:
    phrase = re.sub(r"\s+", " ", phrase).strip(" ,;:-–—.!")
    phrase = re.sub(r"^(?:to|try and|also|then|and|first|properly)\s+", "", phrase, flags=re.IGNORECASE)
    phrase = re.split(r"\s+(?:so that|so I|because|since|as it)\b|,\s*(?:which|so|because|but)\b", phrase)[0]
    phrase = _WHEN.sub("", phrase).strip(" ,;:-–—.!")
    return phrase[:1].upper() + phrase[1:] if phrase else phrase


def extract(text: str, author_role: str, *, written: dt.date | None = None,
            names: dict[str, str] | None = None) -> Extraction:
    written = written or dt.date.today()
    names = {k.lower(): v for k, v in (names or {}).items()}
    all_sentences = split_sentences(text)
    ignored = [s for s in all_sentences if unsafe_to_repeat(s)]
    sentences = [s for s in all_sentences if not unsafe_to_repeat(s)]

    actions: list[dict] = []
    action_idx: set[int] = set()
    for i, sentence in enumerate(sentences):
        for clause in _CLAUSE.split(sentence):
            match = (_LABEL.search(clause) or _AGREED.search(clause) or _COMMIT.search(clause)
                     or _NEXT.search(clause))
            if not match:
                continue
            lead = clause[:match.start("rest")]
            if _NOT_A_COMMITMENT.search(lead) or _NOT_A_COMMITMENT.search(clause[:match.start("rest") + 12]):
                continue
            subject = match.groupdict().get("subj")
            if subject and subject.lower() in {"it", "this", "that", "there", "the"}:
                continue
            rest, due = parse_due(match.group("rest"), written)
            owner = _owner(subject, author_role, names)
            found = False
            for part in _SAME_SUBJECT.split(rest):
                phrase = _tidy(part)
                words = len(phrase.split())
                if words < 2 or words > 30 or phrase.endswith("?") or _NOT_AN_ACTION.match(phrase):
                    continue
                actions.append({"text": phrase, "owner": owner, "due": due})
                found = True
            if found:
                action_idx.add(i)
    unique: dict[str, dict] = {}
    for a in actions:
        unique.setdefault(a["text"].casefold(), a)
    action_items = list(unique.values())[:6]

    blockers: list[str] = []
    for i, sentence in enumerate(sentences):
        if i in action_idx or re.search(r"(?i)\b(no|without) (problems?|issues?|blockers?)\b", sentence):
            continue
        blockers += _blocker_clauses(sentence)
    stagnation = sum(1 for sentence in sentences if _STAGNATION.search(sentence))
    score = sentiment_of(sentences) - 0.25 * stagnation
    score = max(-1.0, score)
    sentiment = label_sentiment(score)
    for i, sentence in enumerate(sentences):
        if i not in action_idx and _STAGNATION.search(sentence) and not _BLOCKER.search(sentence):
            blockers += _blocker_clauses(sentence, _STAGNATION)
    word_count = len(text.split())
    if sentiment == "negative" or word_count < 35 or len(blockers) >= 2 or stagnation:
        engagement = "low"
    elif sentiment == "positive" and word_count >= 70 and action_items:
        engagement = "high"
    else:
        engagement = "medium"

    learn = [i for i, s in enumerate(sentences) if _LEARN.search(s) and i not in action_idx]
    rest = [i for i in range(len(sentences)) if i not in action_idx and i not in learn]
    key_idx = (learn + rest)[:4]
    key_points = [_shorten(sentences[i]) for i in sorted(key_idx)][:4]

    # Summary: the opening, the main learning, a commitment and a problem, in reading order.
    chosen: list[int] = []
    for group in ([0] if sentences else [], learn[:2], sorted(action_idx)[:1],
                  [i for i, s in enumerate(sentences) if s in blockers][:1]):
        for i in group:
            if i not in chosen and len(chosen) < 4:
                chosen.append(i)
    for i in range(len(sentences)):
        if len(chosen) >= 2:
            break
        if i not in chosen:
            chosen.append(i)
    summary = [sentences[i] for i in sorted(chosen)]
    return Extraction(all_sentences, ignored, action_items, blockers[:4], sentiment, round(score, 3),
                      engagement, key_points, summary, action_idx)


_BLOCKER_SPLIT = re.compile(r"\s*(?:[,;:—–]|\s-\s)\s*(?:and\s+|but\s+|so\s+|which\s+)?|\s+(?:and|but|because|so)\s+(?=\w)",
                            re.IGNORECASE)


def _blocker_clauses(sentence: str, pattern: re.Pattern = _BLOCKER) -> list[str]:
    """The parts of a sentence that say what got in the way, as short phrases."""
    if not pattern.search(sentence):
        return []
    parts = [p.strip(" .!") for p in _BLOCKER_SPLIT.split(sentence) if p and p.strip(" .!")]
    hits = [p for p in parts if pattern.search(p) and len(p.split()) >= 2]
    if not hits:
        hits = [sentence.strip(" .!")]
    out = []
    for h in hits:
        h = re.sub(r"^(?:and|but|so|then|also)\s+", "", h, flags=re.IGNORECASE)
        out.append(h[:1].upper() + h[1:] if len(h) <= 160 else h[:157].rsplit(" ", 1)[0] + "…")
    return out


def _shorten(sentence: str, limit: int = 22) -> str:
    words = sentence.rstrip(".!").split()
    if len(words) <= limit:
        return " ".join(words)
    cut = " ".join(words[:limit])
    return cut.rsplit(",", 1)[0] if "," in cut[len(cut) // 2:] else cut + "…"


def content_words(text: str) -> set[str]:
    return set(tokenize(text))
