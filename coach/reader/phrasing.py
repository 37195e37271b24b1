"""From a labelled sentence to what a person reads: an action item (what to do, who does it, by
when) or a blocker (the clause that says what got in the way). Everything comes from the
dependency parse of the sentence itself, so an item never says more than the reflection did."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from coach.reader.features import future_verbs, subject_of
from coach.text.dates import due_date, find_expressions

if TYPE_CHECKING:  # spaCy loads with the pipeline, not with this module
    from spacy.tokens import Span, Token

# Verbs whose complement is the thing committed to: "promised to try", "agreed that she'd".
_TAKES_ON = {"promise", "agree", "plan", "commit", "intend", "offer", "volunteer", "decide",
             "undertake", "arrange", "say", "pledge", "vow", "resolve"}
_FIRST = {"i", "me", "my", "myself", "we", "us", "our", "ourselves"}
_THIRD = {"he", "she", "they", "him", "her", "them"}
_TEMPORAL_MARKS = {"before", "until", "till", "when", "once", "after", "by"}


@dataclass(frozen=True)
class Pair:
    """Who is who, for owners and for wording: the writer's role and both names."""

    author_role: str
    names: dict[str, str]  # lowercased full and first names -> role
    first_names: dict[str, str]  # role -> first name

    @property
    def partner_role(self) -> str:
        return "mentor" if self.author_role == "mentee" else "mentee"

    def role_of(self, subject: Token | None) -> str:
        if subject is None:
            return self.author_role  # notes to self: "send deck to J by Fri"
        lower = subject.lower_
        if lower in _FIRST:
            return self.author_role
        if lower in _THIRD:
            return self.partner_role
        if lower in ("mentor", "mentee"):
            return lower
        span = subject.doc[subject.left_edge.i:subject.i + 1].text.lower()
        for name in (span, lower):
            if name in self.names:
                return self.names[name]
        if subject.lower_ in ("mentor", "mentee"):
            return subject.lower_
        return self.author_role


def pair_from(author_role: str, names: dict[str, str] | None) -> Pair:
    """Names (full or first) to roles; first names are added for full names."""
    lowered: dict[str, str] = {}
    first: dict[str, str] = {}
    for name, role in (names or {}).items():
        lowered[name.lower()] = role
        lowered.setdefault(name.split()[0].lower(), role)
        first.setdefault(role, name.split()[0])
    return Pair(author_role, lowered, first)


@dataclass(frozen=True)
class Commitment:
    text: str
    owner: str
    due: dt.date | None


def commits(sent: Span) -> bool:
    """Whether the sentence has the shape of a commitment (a parse feature for the model)."""
    return bool(future_verbs(sent)) or any(
        t.pos_ == "VERB" and t.lemma_ in _TAKES_ON and _complement(t) is not t for t in sent) \
        or bool(_note_actions(sent))


def committed_verbs(sent: Span) -> list[Token]:
    """The verbs a commitment sentence commits to: one per clause with its own subject or
    its own future, so "I'll try X, and Amara will send Y" gives two. Without a future or a
    verb of promising, only a note's imperative ("send deck to J by Fri") or "Name to do X"
    says what will be done; a sentence with no verb commits to nothing."""
    heads: list[Token] = []
    for verb in future_verbs(sent):
        heads.append(_complement(verb))
    for token in sent:
        if token.pos_ == "VERB" and token.lemma_ in _TAKES_ON and token not in heads:
            complement = _complement(token)
            if complement is not token and complement not in heads:
                heads.append(complement)
    if not heads:
        heads.extend(_note_actions(sent))
    # a conjunct that shares its head's subject and future belongs to the same item; a
    # negated one ("I won't be using it") commits to nothing
    kept = []
    for verb in sorted(set(heads), key=lambda t: t.i):
        if verb.dep_ == "conj" and verb.head in kept and not _own_subject(verb):
            continue
        if _negated(verb):
            continue
        kept.append(verb)
    return kept


def _negated(verb: Token) -> bool:
    chain = [verb] + ([verb.head] if verb.dep_ in ("xcomp", "ccomp") else [])
    return any(c.dep_ == "neg" for v in chain for c in v.children)


def _note_actions(sent: Span) -> list[Token]:
    """Actions written as notes: an imperative ("Book the room"), or "Priya to book the room"
    (a verb in the infinitive after a name), after any "Label:" prefix."""
    out = []
    for token in sent:
        if token.pos_ != "VERB" or token.tag_ != "VB":
            continue
        before = [t for t in sent[:token.i - sent.start] if not t.is_punct and not t.is_space]
        after_label = bool(before) and any(t.text == ":" for t in sent[:token.i - sent.start])
        if not before or token.dep_ == "ROOT" or \
                (after_label and token.dep_ in ("appos", "conj", "dep")):
            out.append(token)  # the sentence (or the text after its label) opens with it
        elif _infinitive_of(token) is not None:
            out.append(token)
    return out[:3]


def _infinitive_of(verb: Token) -> Token | None:
    """In "Janet to pull the data", the noun the infinitive hangs on: who will do it."""
    if verb.dep_ in ("relcl", "acl") and any(c.lower_ == "to" and c.dep_ == "aux"
                                             for c in verb.children):
        return verb.head
    return None


def doer(verb: Token) -> Token | None:
    """Who does what a verb says: its subject, or the name an infinitive note hangs on."""
    return subject_of(verb) or _infinitive_of(verb)


def _complement(verb: Token) -> Token:
    """Follow "promised to try", "agreed that she would send", "going to ask" to the action."""
    for _ in range(3):
        if verb.lemma_ == "go" and verb.tag_ == "VBG":  # "going to ask": the asking
            nxt = next((c for c in verb.children if c.dep_ == "xcomp"), None)
            if nxt is None:
                break
            verb = nxt
            continue
        if verb.lemma_ not in _TAKES_ON:
            break
        nxt = next((c for c in verb.children if c.dep_ in ("xcomp", "ccomp") and
                    c.pos_ in ("VERB", "AUX")), None)
        if nxt is None:
            break
        verb = nxt
    return verb


def _own_subject(verb: Token) -> bool:
    return any(c.dep_ in ("nsubj", "nsubjpass") for c in verb.children)


def _finite(verb: Token) -> bool:
    """A verb with tense of its own ("the wifi dropped", "she'll leave"), not a small clause
    inside another ("getting his camera working", "made it harder")."""
    return verb.tag_ in ("VBD", "VBZ", "VBP", "MD") or any(
        c.dep_ in ("aux", "auxpass") and c.tag_ in ("VBD", "VBZ", "VBP", "MD")
        for c in verb.children)


def commitments(sent: Span, who: Pair, session: dt.date | None,
                next_session: dt.date | None) -> list[Commitment]:
    out = []
    when = time_tokens(sent)
    for verb in committed_verbs(sent):
        words = _action_words(verb, sent, when)
        if len(words) < 2:
            continue
        phrase = "".join(_resolve(w, who) + (w.whitespace_ if nxt == w.i + 1 else " ")
                         for w, nxt in zip(words, [t.i for t in words[1:]] + [-1]))
        phrase = " ".join(phrase.split()).strip(" ,;:-–—.!")
        subtree = sent.doc[verb.left_edge.i:verb.right_edge.i + 1].text
        due, _ = due_date(subtree, session, next_session)
        if due is None:  # the time may sit outside the verb's clause ("By Friday, I'll ...")
            due, _ = due_date(sent.text, session, next_session)
        owner = who.role_of(doer(verb) or subject_of(sent.root))
        out.append(Commitment(phrase[:1].upper() + phrase[1:], owner, due))
    return out


def _action_words(verb: Token, sent: Span, when: set[int]) -> list[Token]:
    """The verb's own clause, without its subject, auxiliaries, time phrases and any clause
    that has its own subject; the verb in its base form."""
    drop: set[int] = set()
    for child in verb.children:
        if child.dep_ in ("nsubj", "nsubjpass", "aux", "auxpass", "neg", "cc", "punct",
                          "expl", "mark", "prep") and child.i < verb.i \
                or child.dep_ == "conj" and _own_subject(child):
            drop.update(t.i for t in child.subtree)
        elif child.dep_ == "cc" and child.i > verb.i:
            nxt = next((c for c in verb.children if c.dep_ == "conj" and c.i > child.i), None)
            if nxt is not None and _own_subject(nxt):
                drop.add(child.i)
        elif child.dep_ == "advcl" and any(m.dep_ == "mark" and m.lower_ in _TEMPORAL_MARKS
                                           for m in child.children) \
                or child.dep_ in ("npadvmod", "prep", "advmod") and _is_time(child, when):
            drop.update(t.i for t in child.subtree)
    drop.update(when)
    for i in when:  # "on" in "on the 14th" goes with its date
        head = sent.doc[i].head
        if head.dep_ == "prep" and all(t.i in drop or t.i == head.i for t in head.subtree):
            drop.add(head.i)
    words = [t for t in verb.subtree if t.i not in drop and not t.is_space]
    while words and (words[-1].is_punct or words[-1].dep_ in ("cc", "prep")):
        words.pop()
    if words and words[0].i == verb.i:
        words[0] = _Base(verb)
    return words


def time_tokens(sent: Span) -> set[int]:
    """The sentence's tokens inside a time expression, as the due-date reader finds them."""
    found = [(sent.start_char + e.start, sent.start_char + e.end)
             for e in find_expressions(sent.text)]
    return {t.i for t in sent if any(a <= t.idx < b for a, b in found)}


def _is_time(token: Token, when: set[int]) -> bool:
    text = " ".join(t.lower_ for t in token.subtree)
    return token.i in when or text in ("asap", "soon", "next time", "by next time")


class _Base:
    """The verb in its base form, so "Amara will send" and "Amara sends" both read "Send"."""

    def __init__(self, verb: Token):
        self.text = verb.lemma_ if verb.tag_ not in ("VB", "VBP") and verb.lemma_ else verb.text
        self.lower_ = self.text.lower()
        self.i = verb.i
        self.whitespace_ = verb.whitespace_


def _resolve(token, who: Pair) -> str:
    """"me" is the writer, named, so the item reads the same to both members."""
    if getattr(token, "lower_", "") in ("me", "myself") and who.first_names.get(who.author_role):
        return who.first_names[who.author_role]
    return token.text


def clauses(sent: Span) -> list[Span]:
    """A sentence's clauses, so the one that says what got in the way can be shown alone:
    split where a clause of its own begins (a conjunct, or an adverbial clause with a subject
    and a tense of its own).
    A "which ..." clause comments on the one before it and stays with it."""
    cuts = {sent.start}
    for token in sent:
        if token.head.i == token.i or token.left_edge.lower_ in ("which", "who"):
            continue
        if token.dep_ in ("advcl", "ccomp", "parataxis") and _own_subject(token) \
                and _finite(token) or token.dep_ == "conj" and token.pos_ in ("VERB", "AUX") and \
                len(list(token.subtree)) >= 3:
            cuts.add(token.left_edge.i)
    bounds = sorted(cuts) + [sent.end]
    clauses = []
    for a, b in zip(bounds, bounds[1:]):
        span = sent.doc[a:b]
        while len(span) and (span[0].dep_ in ("cc", "mark", "punct") or span[0].is_space):
            span = span[1:]
        while len(span) and (span[-1].is_punct or span[-1].dep_ in ("cc", "mark")):
            span = span[:-1]
        if len(span) >= 3:
            clauses.append(span)
    return clauses or [sent]
