"""The reader: one reading of a reflection, used by the summary, the agenda's follow-ups, pair
health and the evaluation alike.

A reflection is split into sentences and parsed by spaCy. Each sentence is labelled by
logistic regressions over its MiniLM vector and a few parse and VADER features
(coach/reader/model.py): commitment, obstacle, ending, disengaged, positive, negative, key
point. Commitments become action items with an owner (the subject in the parse) and a due date
(coach/text/dates.py); a clause names a blocker when it is likely enough an obstacle; the
sentiment comes from a small model over the sentences' evaluations, VADER on the whole text
and the reflection's mean MiniLM vector.
Sentences that address the software, or ask for credentials, money or outside contact, are
read as nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from coach.reader.features import FEATURE_WIDTH, feature_matrix, future_verbs, is_command, subject_of
from coach.reader.language import EMBEDDING_WIDTH, Embed, default_embed, nlp, vader
from coach.reader.model import LabelModel
from coach.reader.phrasing import clauses, commitments, pair_from
from coach.text.dates import find_expressions, ordinal_day, resolve
from coach.text.sentences import split_sentences, unsafe_to_repeat

if TYPE_CHECKING:  # spaCy loads with the pipeline, not with this module
    from spacy.tokens import Span

RUN_ON_TOKENS = 40
# Labels a single clause can carry for the whole sentence ("..., and then he told me he is
# leaving in March"); the others are read from the sentence as a whole.
CLAUSE_LABELS = ("ending", "disengaged")
MAX_ITEMS = 8
# "I will forward the invoices to Mia by Friday": a plain promise in the parse needs less from
# the classifier, whose vector can be pulled off by what the promise is about.
PLAIN_FUTURE_FLOOR = 0.15
MAX_BLOCKERS = 5
MAX_KEY_POINTS = 4
KEY_POINTS_AT_LEAST = 2
KEY_POINT_FLOOR = 0.1
KEY_POINT_WORDS = 24
MAX_SUMMARY = 4


def summary_sentences_at_most(trusted: int) -> int:
    """How many of a reflection's (trusted) sentences a summary may use: from three up it
    leaves at least one out, since a summary that is the whole text is the text."""
    return min(MAX_SUMMARY, trusted - 1) if trusted >= 3 else MAX_SUMMARY


SENTIMENT_FEATURES = ("mean_positive", "max_positive", "mean_negative", "max_negative",
                      "share_positive", "share_negative", "vader", "obstacles", "disengaged")


@dataclass
class SentenceReading:
    text: str
    labels: frozenset[str]
    scores: dict[str, float]
    trusted: bool = True


@dataclass
class Reading:
    sentences: list[SentenceReading]
    action_items: list[dict[str, Any]]
    blockers: list[str]
    sentiment: str
    sentiment_scores: dict[str, float]
    engagement: str
    key_points: list[str]
    summary_sentences: list[str]
    ending: bool = False
    disengaged: bool = False
    # one sentence reads as an ending or pause (as disengagement), perhaps not clearly enough
    # to say so alone: health counts it only where the diary bears it out
    hints_ending: bool = False
    hints_disengaged: bool = False
    doubts_next: bool = False  # the next booked session is in doubt
    expects_next_dropped: bool = False  # the writer expects it not to happen
    ignored: list[str] = field(default_factory=list)

    @property
    def trusted(self) -> list[str]:
        """The sentences a summary may use: everything but what the coach never repeats."""
        return [s.text for s in self.sentences if s.trusted]

    def labelled(self, label: str) -> list[SentenceReading]:
        return [s for s in self.sentences if label in s.labels]


@dataclass
class Labelled:
    """A reflection's sentences, which of them may be repeated, and, for each trusted one,
    its label probabilities and those of its clauses (a short sentence is its own clause);
    and the mean MiniLM vector of those clauses: what the reflection is about, and how."""
    spans: list[Span]
    trusted: list[bool]
    sentence_probs: np.ndarray
    parts: list[list[Span]]
    clause_probs: list[list[np.ndarray]]
    mean_vector: np.ndarray

    def likely(self, label_index: int, threshold: float) -> list[Span]:
        """The clauses of trusted sentences whose probability of one label is at least
        ``threshold``; where a sentence reaches it but none of its clauses does alone, the
        sentence ("The lift was out of order so we started twenty minutes late": the cause
        and what it cost are one obstacle)."""
        kept = [s for s, ok in zip(self.spans, self.trusted) if ok]
        out: list[Span] = []
        for sentence, sentence_p, parts, probs in zip(kept, self.sentence_probs, self.parts,
                                                      self.clause_probs):
            hits = [c for c, p in zip(parts, probs) if p[label_index] >= threshold]
            out += hits or ([sentence] if sentence_p[label_index] >= threshold else [])
        return out


class Reader:
    def __init__(self, model: LabelModel | None = None, embed: Embed | None = None):
        self._model = model
        self._embed = embed

    @property
    def model(self) -> LabelModel:
        if self._model is None:
            self._model = LabelModel.load()
        return self._model

    @property
    def embed(self) -> Embed:
        if self._embed is None:
            self._embed = default_embed()
        return self._embed

    def warm_up(self) -> None:
        """Load spaCy, VADER, the embedder and the weights (each once per process)."""
        self.read("We met today. I will send the notes by Friday.", "mentee")

    # -- sentences ------------------------------------------------------------------------
    def sentences(self, text: str) -> list[Span]:
        """Sentences as the writer marked them (punctuation, bullets, lines); a long stretch
        with no punctuation (a voice note) is split where spaCy's parser ends sentences."""
        out: list[Span] = []
        for doc in nlp().pipe(split_sentences(text)):
            parts = [s for s in doc.sents if any(not t.is_punct and not t.is_space for t in s)]
            if len(doc) > RUN_ON_TOKENS and len(parts) > 1:
                out.extend(parts)
            elif any(not t.is_punct and not t.is_space for t in doc):
                out.append(doc[:])
        return out

    def features(self, sents: list[Span]) -> np.ndarray:
        return feature_matrix(self.embed([s.text for s in sents]), sents)

    def label(self, sents: list[Span]) -> np.ndarray:
        if not sents:
            return np.zeros((0, len(self.model.labels)))
        return self.model.probabilities(self.features(sents))

    # -- a reflection -----------------------------------------------------------------------
    def units(self, text: str
              ) -> tuple[list[Span], list[bool], list[list[Span]], list[Span], np.ndarray]:
        """The sentences, which of them are trusted, the clauses of the trusted ones, what the
        classifiers read (each trusted sentence, then the clauses of those that have more than
        one) and its features."""
        spans = self.sentences(text)
        trusted = [not unsafe_to_repeat(s.text) for s in spans]
        # an injection runs on: a bare command right after one belongs to it
        for i in range(1, len(spans)):
            if trusted[i] and not trusted[i - 1] and is_command(spans[i]):
                trusted[i] = False
        kept = [s for s, ok in zip(spans, trusted) if ok]
        parts = [clauses(s) for s in kept]
        units = kept + [c for p in parts if len(p) > 1 for c in p]
        rows = self.features(units) if units else np.zeros((0, FEATURE_WIDTH))
        return spans, trusted, parts, units, rows

    def labelled(self, text: str) -> Labelled:
        """The parse and label probabilities the rest of a reading is built from."""
        spans, trusted, parts, _, rows = self.units(text)
        kept = [s for s, ok in zip(spans, trusted) if ok]
        probs = self.model.probabilities(rows)
        clause_index = iter(range(len(kept), len(rows)))
        index = [[next(clause_index) for _ in p] if len(p) > 1 else [k]
                 for k, p in enumerate(parts)]
        clause_units = [i for ix in index for i in ix]
        mean_vector = rows[clause_units, :EMBEDDING_WIDTH].mean(axis=0) if clause_units \
            else np.zeros(EMBEDDING_WIDTH)
        return Labelled(spans, trusted, probs[:len(kept)], parts,
                         [[probs[i] for i in ix] for ix in index], mean_vector)

    def _readings(self, seen: Labelled) -> list[SentenceReading]:
        """One reading per sentence; a trusted one carries its labels and their scores."""
        model = self.model
        obstacle, negative = model.labels.index("obstacle"), model.labels.index("negative")
        per_clause = [model.labels.index(k) for k in CLAUSE_LABELS]
        readings = []
        rows = iter(range(len(seen.sentence_probs)))
        for span, ok in zip(seen.spans, seen.trusted):
            if not ok:
                readings.append(SentenceReading(span.text, frozenset(), {}, trusted=False))
                continue
            k = next(rows)
            row = seen.sentence_probs[k].copy()
            clause_probs = seen.clause_probs[k]
            # an obstacle may be one clause of a longer sentence, but a clause read as a bad
            # evaluation ("which was annoying") is none
            row[obstacle] = max(row[obstacle], max(q[obstacle] if q[obstacle] > q[negative]
                                                   else 0.0 for q in clause_probs))
            for column in per_clause:
                row[column] = max(row[column], max(q[column] for q in clause_probs))
            scores = dict(zip(model.labels, row.round(4).tolist()))
            labels = set(k for k, v in scores.items() if v >= model.thresholds[k])
            if "commitment" not in labels and scores["commitment"] >= PLAIN_FUTURE_FLOOR \
                    and plainly_promised(span):
                labels.add("commitment")
            readings.append(SentenceReading(span.text, frozenset(labels), scores))
        return readings

    def sentiment_inputs(self, text: str, seen: Labelled
                         ) -> tuple[dict[str, float], np.ndarray, list[SentenceReading]]:
        """What the sentiment model reads of a reflection, and the sentence readings."""
        readings = self._readings(seen)
        return self._sentiment_values(text, readings), seen.mean_vector, readings

    def read(self, text: str, author_role: str, *, names: dict[str, str] | None = None,
             session_date: dt.date | None = None, next_session: dt.date | None = None
             ) -> Reading:
        model = self.model
        seen = self.labelled(text)
        spans = seen.spans
        readings = self._readings(seen)
        pairs = list(zip(spans, readings))
        who = pair_from(author_role, names)

        items: dict[str, dict[str, Any]] = {}
        for index, (span, r) in enumerate(pairs):
            if "commitment" not in r.labels:
                continue
            for c in commitments(span, who, session_date, next_session):
                items.setdefault(c.text.casefold(), {
                    "text": c.text, "owner": c.owner,
                    "due": c.due.isoformat() if c.due else None, "sentence": index})
        action_items = list(items.values())[:MAX_ITEMS]

        blockers = [_phrase(c.text) for c in seen.likely(model.labels.index("obstacle"),
                                                         model.blocker_threshold)]
        blockers = list(dict.fromkeys(b for b in blockers if b))[:MAX_BLOCKERS]

        sentiment, scores = model.sentiment(self._sentiment_values(text, readings),
                                            seen.mean_vector)
        said = {label: [r.scores[label] for r in readings if r.trusted]
                for label in ("ending", "disengaged")}
        ending, disengaged = model.says("ending", said["ending"]), \
            model.says("disengaged", said["disengaged"])
        key = self._key_sentences(readings)
        booking_named = any(names_the_booking(span, session_date, next_session)
                            for span, r in pairs if r.trusted)
        doubt = max((doubts_a_meeting(span, r, session_date, next_session,
                                      booking_named=booking_named)
                     for span, r in pairs), default=0)
        return Reading(
            sentences=readings, action_items=action_items, blockers=blockers,
            sentiment=sentiment, sentiment_scores=scores,
            engagement=_engagement(sentiment, disengaged, action_items),
            key_points=[_shorten(readings[i].text) for i in key],
            summary_sentences=self._summary(readings, key),
            ending=ending, disengaged=disengaged,
            hints_ending=model.hints("ending", said["ending"]),
            hints_disengaged=model.hints("disengaged", said["disengaged"]),
            doubts_next=doubt >= UNCERTAIN, expects_next_dropped=doubt >= EXPECTED_NOT,
            ignored=[r.text for r in readings if not r.trusted])

    def _sentiment_values(self, text: str, readings: list[SentenceReading]) -> dict[str, float]:
        scored = [r for r in readings if r.trusted]
        pos = [r.scores["positive"] for r in scored] or [0.0]
        neg = [r.scores["negative"] for r in scored] or [0.0]
        n = max(1, len(scored))
        return {
            "mean_positive": float(np.mean(pos)), "max_positive": max(pos),
            "mean_negative": float(np.mean(neg)), "max_negative": max(neg),
            "share_positive": sum("positive" in r.labels for r in scored) / n,
            "share_negative": sum("negative" in r.labels for r in scored) / n,
            "vader": vader().polarity_scores(" ".join(r.text for r in scored))["compound"],
            "obstacles": sum("obstacle" in r.labels for r in scored) / n,
            "disengaged": float(any("disengaged" in r.labels for r in scored)),
        }

    def _key_sentences(self, readings: list[SentenceReading]) -> list[int]:
        """The sentences with most substance, in reading order: those read as key points,
        topped up to KEY_POINTS_AT_LEAST with the likeliest others (a short reflection still
        has a point)."""
        ranked = sorted(((r.scores["key_point"], i) for i, r in enumerate(readings) if r.trusted
                         and r.scores.get("key_point", 0) >= KEY_POINT_FLOOR), reverse=True)
        chosen = [i for p, i in ranked if "key_point" in readings[i].labels]
        chosen += [i for _, i in ranked if i not in chosen][:max(0, KEY_POINTS_AT_LEAST - len(chosen))]
        return sorted(chosen[:MAX_KEY_POINTS])

    def _summary(self, readings: list[SentenceReading], key: list[int]) -> list[str]:
        """Two to four of the reflection's own sentences: its substance, a commitment and a
        blocker, in reading order, never all of them (summary_sentences_at_most)."""
        limit = summary_sentences_at_most(sum(r.trusted for r in readings))
        chosen: list[int] = []
        for group in (key[:2],
                      [i for i, r in enumerate(readings) if "commitment" in r.labels][:1],
                      [i for i, r in enumerate(readings) if "obstacle" in r.labels][:1],
                      [i for i, r in enumerate(readings) if "ending" in r.labels][:1]):
            for i in group:
                if i not in chosen and len(chosen) < limit:
                    chosen.append(i)
        usable = [i for i, r in enumerate(readings) if r.trusted]
        by_substance = sorted(usable, key=lambda i: -readings[i].scores.get("key_point", 0))
        for i in by_substance:
            if len(chosen) >= min(2, limit):
                break
            if i not in chosen:
                chosen.append(i)
        return [readings[i].text for i in sorted(chosen)]


_DOUBT = {"doubt", "doubtful", "unlikely", "probably", "maybe", "perhaps", "possibly"}
_CALL_OFF = {"cancel", "scrap", "drop"}  # a meeting someone will call off will not happen


def plainly_promised(span: Span) -> bool:
    """A statement, not a question or a condition, whose main verb is in the future (will,
    shall, going to), not negated, with someone of the pair as its subject."""
    if span.text.rstrip().endswith("?") or any(
            t.dep_ == "mark" and t.lower_ in ("if", "unless") for t in span):
        return False
    for verb in future_verbs(span):
        subject = subject_of(verb)
        if subject is None or subject.lower_ in ("it", "this", "that", "there"):
            continue
        if subject.pos_ == "NOUN" and subject.lower_ not in ("mentor", "mentee"):
            continue  # "the rota will change"
        if not any(c.dep_ == "neg" for c in verb.children):
            return True
    return False


UNCERTAIN, EXPECTED_NOT = 1, 2  # how strongly a reflection doubts the next booked meeting


def doubts_a_meeting(span: Span, reading: SentenceReading, session: dt.date | None,
                     next_session: dt.date | None, *, booking_named: bool) -> int:
    """How strongly a sentence puts the next booked meeting in doubt: 0 not at all;
    UNCERTAIN when it names that meeting (its date, or "next session") with negation or
    tentative modality in its parse ("the 9th looks doubtful", "not sure we'll make our next
    session", "she might need to move that one"); EXPECTED_NOT when the writer expects it not
    to happen ("7 January will probably not happen", "it won't go ahead", "unlikely"), or it
    is an ending dated before that meeting, when the reflection names no date on or after it
    (`booking_named`: "she leaves on 14 August", but not "on leave from June, back for our
    session on 3 September", nor "I go on leave from 2 March. We have booked 12 May to
    restart")."""
    if not reading.trusted or session is None or next_session is None:
        return 0
    found = find_expressions(span.text)
    dates = [(e, _booked_or(e, session, next_session)) for e in found]
    if "ending" in reading.labels:
        before = [d for e, d in dates if d is not None and e.kind != "next_session"
                  and d < next_session]
        if before and not booking_named:
            return EXPECTED_NOT
    return max((_doubted(span, e) for e, d in dates
                if e.kind == "next_session" or d == next_session), default=0)


def names_the_booking(span: Span, session: dt.date | None, next_session: dt.date | None
                      ) -> bool:
    """Whether a sentence names a date on or after the next booked meeting, and does not
    doubt it."""
    if session is None or next_session is None:
        return False
    return any(d is not None and d >= next_session and not _doubted(span, e)
               for e, d in ((e, _booked_or(e, session, next_session))
                            for e in find_expressions(span.text)))


def _booked_or(expression, session: dt.date, next_session: dt.date) -> dt.date | None:
    """The date words name; a bare day of the month on which a session is booked names that
    session ("break until December; I've booked the 10th" written on 4 September)."""
    if expression.kind == "ordinal" and next_session >= session and \
            ordinal_day(expression) == next_session.day:
        return next_session
    return resolve(expression, session, next_session)


def _doubted(span: Span, expression) -> int:
    """How strongly a negation or a tentative word bears on the words that name the meeting:
    on them or on a verb they hang from ("the 9th looks doubtful", "7 January will probably
    not happen", "not sure we'll make our next session"), not in a clause of its own ("she
    confirmed our session on the 22nd and asked if we could look at the dashboard", "I may
    be away, but the 9th is fine")."""
    named = span.char_span(expression.start, expression.end, alignment_mode="expand")
    if named is None:
        return 0
    head = named.root
    while True:
        near = (head, *head.children, *(o for c in head.children if c.dep_ == "prep"
                                         for o in c.children if o.dep_ == "pobj"))
        if any(_doubting(t) for t in near):  # "...looks doubtful", "...is in doubt"
            return _strength(near)
        # a reservation after "but" that points back at the booking bears on it, joined to
        # the clause or set beside it ("we put 24 September in the diary but he said it will
        # probably not happen", "... but, to be honest, with the stocktake I can't promise
        # I'll make it"; not "I'll bring photos next time but I'm not sure what the point is")
        for c in head.children:
            if c.dep_ in ("conj", "parataxis") and c.i > named.end and _after_but(c) \
                    and any(_doubting(t) for t in c.subtree) \
                    and any(_points_back(t) for t in c.subtree):
                return _strength(c.subtree)
        # otherwise a clause joined by "and"/"but" is not governed by the one before it
        if head.dep_ == "conj" or head.head.i == head.i:
            return _reservation(span, named)
        head = head.head


def _reservation(span: Span, named: Span) -> int:
    """A reservation after "but" later in the sentence that points back at the booking, where
    spaCy leaves it outside the booking's clause ("I keep the 15th in the calendar but I think
    it will not happen", "the 27th is still in the diary but realistically that's my handover
    week so I said not to count on it")."""
    but = next((t.i for t in span.doc[named.end:span.end] if t.lower_ in _BUT), None)
    if but is None:
        return 0
    rest = span.doc[but + 1:span.end]
    if any(_doubting(t) for t in rest) and any(_points_back(t) for t in rest):
        return _strength(rest)
    return 0


def _strength(tokens) -> int:
    """EXPECTED_NOT for a negated event with "will" or "probably" on it ("will probably not
    happen", "won't go ahead"), "unlikely", "I doubt" or calling it off; UNCERTAIN for
    anything tentative ("may well not make it", "not sure it will happen", "can't promise",
    "doubtful")."""
    tokens = list(tokens)
    for t in tokens:
        if t.lemma_.lower() == "unlikely" or (t.lemma_.lower() == "doubt" and t.pos_ == "VERB"):
            return EXPECTED_NOT
        if _calls_off(t):
            return EXPECTED_NOT
        if t.dep_ == "neg" and any(c.lemma_.lower() in ("will", "probably")
                                   for c in t.head.children):
            return EXPECTED_NOT
    return UNCERTAIN


def _doubting(t) -> bool:
    """A negation, a tentative modal, a word of doubt, or calling the meeting off."""
    return t.dep_ == "neg" or (t.tag_ == "MD" and t.lemma_ in ("may", "might", "could")) \
        or t.lemma_.lower() in _DOUBT or _calls_off(t)


def _calls_off(t) -> bool:
    """ "I'll cancel the session on the 29th"; not "we won't cancel it"."""
    return t.pos_ == "VERB" and t.lemma_.lower() in _CALL_OFF and \
        not any(c.dep_ == "neg" for c in t.children)


def _points_back(t) -> bool:
    """A word that can stand for a booked meeting named before it."""
    return t.lower_ in ("it", "that", "this", "one") or \
        t.lemma_.lower() in ("session", "slot", "date", "meeting", "booking")


_BUT = ("but", "yet", "though", "although")


def _after_but(clause) -> bool:
    """Whether a conjoined clause is introduced by "but" ("yet", "though", "although")."""
    between = clause.doc[clause.head.i + 1:clause.left_edge.i + 1]  # its "but" sits here
    return any(t.lower_ in _BUT for t in between)


def _phrase(text: str) -> str:
    text = text.strip(" ,;:-–—.!")
    text = text[:1].upper() + text[1:]
    return text if len(text.split()) <= 30 else _shorten(text, 30)


def _engagement(sentiment: str, disengaged: bool, items: list) -> str:
    """A label for people to read: low when a side is disengaged, high when a good session
    ended in commitments. Health reads disengagement itself, not this."""
    if disengaged:
        return "low"
    return "high" if sentiment == "positive" and items else "medium"


def _shorten(sentence: str, limit: int = KEY_POINT_WORDS) -> str:
    words = sentence.rstrip(".!").split()
    if len(words) <= limit:
        return " ".join(words)
    cut = " ".join(words[:limit])
    return cut.rsplit(",", 1)[0] if "," in cut[len(cut) // 2:] else cut + "…"
