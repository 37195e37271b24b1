"""The prep chat: answers from the guidelines and the pair's context, with citations, streamed.

Nothing the user has been shown is ever taken back. As for summaries, the model helps in one of
two modes (``COACH_CHAT_MODE``):

* ``choose`` (the embedded SmolLM2-135M, whose own phrasing is almost never supported): the
  model picks, by number and under a grammar, up to three sentences of the passages that answer
  the question. The answer is assembled from them with their citations, framed like the
  composed one, and checked whole before any of it is sent. The sentences are offered best
  first: on the dev chat set SmolLM2-135M picks 1, 2 and 3 every time, so the order decides.
* ``phrase`` (larger models behind the openai backend): the model writes the answer, and each
  sentence is sent as soon as it is complete and has passed its checks. The first sentence that
  fails ends the answer: the sentences already sent stand (they passed), or, when none was
  sent, the composed answer does. A sentence without a citation is held back until a cited one
  follows, so whatever is sent cites its sources.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, replace
from typing import Any

from coach.domain.access import member_role
from coach.domain.errors import BackendUnavailable, InvalidInput
from coach.domain.records import PairRecord, PersonRecord
from coach.domain.rules import clean_text
from coach.generation.guard import FallbackReason, Provenance, default_mode, guarded_generate
from coach.generation.prompts import PromptLibrary
from coach.ports import ChatModel
from coach.retrieval.hybrid import Hit, HybridRetriever
from coach.store.repository import Store
from coach.text.sentences import is_supported, split_sentences, unsafe_to_repeat
from coach.text.tokens import tokenize

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
CHAT_MAX_TOKENS = 160  # phrase: 2-4 sentences; longer answers only add unverifiable text
CHOOSE_MAX_TOKENS = 30  # choose: {"sentences": [a, b, c]}
CHOOSE_MAX_SENTENCES = 3
# choose: the sentences of each passage closest to the question are offered, best first, so a
# small model reads a short list and one that picks the first numbers still picks well
CHOICES_PER_PASSAGE = 5
CHECKING = "Checking the answer against the guidance…"
# When the guidance answers a question (chosen on evals/datasets/dev/chat.jsonl, comparing
# settings with `coach eval --suite chat`): the question is covered when some passage's cosine
# similarity to it reaches QUESTION_COVERED; a guidance passage is used when it reaches
# PASSAGE_SIMILARITY or shares PASSAGE_SHARED_WORDS specific words with the question; the
# pair's own notes only when they reach NOTES_SIMILARITY, so an answer does not cite them
# merely for being the pair's.
QUESTION_COVERED = 0.29
PASSAGE_SIMILARITY = 0.29
PASSAGE_SHARED_WORDS = 3
NOTES_SIMILARITY = 0.5
GENERIC = set(tokenize(
    "mentor mentee mentoring reverse session sessions pair pairing programme program coach junior "
    "senior leader leaders what how why when should could would can do does my our their them "
    "about with help handle deal situation question know want need think good best way"))
NOT_COVERED = ("The programme guidelines do not cover this question, so I would rather not "
               "guess. Your programme coordinator is the right person to ask.")
_CITE = re.compile(r"\[(\d+)\]")
_LEADING_CITES = re.compile(r"^(?:\[\d+\]\s*)+")
_TRAILING_CITES = re.compile(r"(?:\s*\[\d+\])+\s*$")
_ONLY_CITES = re.compile(r"^(?:\[\d*\]?\s*)+$")  # citation marks, perhaps still arriving
_ENDS = re.compile(r"[.!?…][\"')\]]*$")
_AS_GUIDANCE = re.compile(r"\b(guidance|guidelines?|programme says)\b", re.I)


@dataclass(frozen=True)
class ChatEvent:
    """``checking`` (the model is at work: what follows has passed the coach's checks),
    ``token`` (the next piece of the checked answer; the tokens add up to the answer exactly) or
    ``done`` (answer, citations and provenance)."""

    type: str
    data: Any


def covered(question: str, hits: list[Hit]) -> list[Hit]:
    """The hits that really address the question: close in meaning, or sharing specific
    words with it (the pair's own notes need to be closer, so an answer does not cite them
    merely for being the pair's). None when no passage comes close enough in meaning for
    the question to be covered: shared words alone mislead there."""
    if not hits or max(h.similarity for h in hits) < QUESTION_COVERED:
        return []
    q = set(tokenize(question)) - GENERIC
    useful = []
    for hit in hits:
        shared = len(q & set(tokenize(hit.heading + " " + hit.text)))
        close = NOTES_SIMILARITY if hit.kind in NOTES_KINDS else PASSAGE_SIMILARITY
        if hit.similarity >= close or shared >= PASSAGE_SHARED_WORDS:
            useful.append(hit)
    return useful


NOTES_KINDS = ("pair_goals", "pair_summary")
GUIDANCE_INTRO = "Here is what the programme guidance says: "
NOTES_INTRO = "From your notes: "


def origin(hit: Hit) -> str:
    """Where a passage comes from, as the user is told: the pair's own records are never
    presented as programme guidance."""
    return "your notes" if hit.kind in NOTES_KINDS else "programme guidance"


def safe_hits(hits: list[Hit]) -> list[Hit]:
    """The passages without sentences the coach must never repeat (instructions, and requests
    for credentials, money or outside contact), so neither the composer nor the model sees
    them. Passages left with nothing are dropped."""
    out = []
    for hit in hits:
        sentences = split_sentences(hit.text)
        kept = [s for s in sentences if not unsafe_to_repeat(s)]
        if len(kept) == len(sentences):
            out.append(hit)
        elif kept:
            out.append(replace(hit, text="\n".join(kept)))
    return out


def passage_sentences(hit: Hit) -> list[str]:
    """The sentences of a passage an answer may quote: not table rows, nor lead-ins to a list."""
    return [s for s in split_sentences(hit.text) if "|" not in s and not s.endswith(":")]


def closest(question_words: set[str], sentences: list[str], k: int) -> list[str]:
    """The ``k`` sentences sharing the most words with the question (earlier ones on ties)."""
    return sorted(sentences, key=lambda s: (-len(question_words & set(tokenize(s))),
                                            sentences.index(s)))[:k]


def assemble(picked: list[tuple[int, str]], hits: list[Hit]) -> str:
    """An answer from passages' sentences, given as (hit number from 1, sentence): each
    passage's sentences followed by its citation, the guidance first under its framing, then
    the pair's notes under theirs (never presented as guidance)."""
    by_hit: dict[int, list[str]] = {}
    for n, sentence in picked:
        by_hit.setdefault(n, []).append(sentence)
    parts: dict[str, list[str]] = {"programme guidance": [], "your notes": []}
    for n, sentences in by_hit.items():
        # each closed by a full stop (a bullet has none), so the checks read them one by one
        parts[origin(hits[n - 1])].append(" ".join(map(finish, sentences)) + f" [{n}]")
    answer = []
    if parts["programme guidance"]:
        answer.append(GUIDANCE_INTRO + " ".join(parts["programme guidance"]))
    if parts["your notes"]:
        answer.append(NOTES_INTRO + " ".join(parts["your notes"]))
    return " ".join(answer) or NOT_COVERED


def extractive_answer(question: str, hits: list[Hit]) -> str:
    """The composed answer: the two sentences closest to the question from each of the two
    best passages."""
    if not hits:
        return NOT_COVERED
    q = set(tokenize(question))
    picked = []
    for n, hit in enumerate(hits[:2], 1):
        sentences = passage_sentences(hit)
        best = closest(q, sentences, 2)
        picked += [(n, s) for s in sentences if s in best]
    return assemble(picked, hits)


def choices(question: str, hits: list[Hit]) -> list[tuple[int, str]]:
    """What the model may choose from, as (hit number from 1, sentence), best first: each
    passage's sentence closest to the question (passages in the retriever's order), then each
    one's second closest, and so on. Only sentences the checks accept as they stand: not
    fragments, not unsupported by the passages (a sentence the support check misreads, as it
    can one that ends in "not"), nor a note that speaks of guidance (it would read as guidance)."""
    q, sources = set(tokenize(question)), [h.text for h in hits]
    ranked = []
    for n, hit in enumerate(hits, 1):
        sentences = [s for s in passage_sentences(hit) if len(tokenize(s)) >= 3 and
                     is_supported(finish(s), sources, 0.5) and
                     not (hit.kind in NOTES_KINDS and _AS_GUIDANCE.search(s))]
        ranked.append([(n, s) for s in closest(q, sentences, CHOICES_PER_PASSAGE)])
    return [r[rank] for rank in range(CHOICES_PER_PASSAGE) for r in ranked if rank < len(r)]


def in_passage_order(picked: list[tuple[int, str]], hits: list[Hit]) -> list[tuple[int, str]]:
    """Chosen sentences as the passages have them: by passage, then as each passage reads."""
    return sorted(picked, key=lambda p: (p[0], passage_sentences(hits[p[0] - 1]).index(p[1])))


def answer_sentences(text: str) -> list[str]:
    """An answer's sentences, each with the citations written after its full stop ("... agree.
    [1] Then ..." cites [1] for the first sentence, not the next)."""
    out: list[str] = []
    for sentence in split_sentences(text):
        lead = _LEADING_CITES.match(sentence)
        if lead and out:
            out[-1] = f"{out[-1]} {lead.group(0).strip()}"
            sentence = sentence[lead.end():].strip()
        if sentence:
            out.append(sentence)
    return out


def ends_like_a_sentence(sentence: str) -> bool:
    body = _TRAILING_CITES.sub("", sentence)
    return body != sentence or bool(_ENDS.search(body))


def complete_sentences(text: str, ended: bool) -> list[str]:
    """The complete sentences of an answer being written: all but the last while the model
    writes (the last may go on, or its citations may follow); once it has stopped, the last
    too unless it was cut off mid-sentence (the token limit)."""
    sentences = answer_sentences(text)
    if not ended:
        waiting = 2 if sentences and _ONLY_CITES.match(sentences[-1]) else 1
        return sentences[:-waiting]
    if sentences and not ends_like_a_sentence(sentences[-1]):
        return sentences[:-1]
    return sentences


def finish(sentence: str) -> str:
    """A sentence as sent: capitalised and closed by a full stop, so the answer splits back
    into the sentences that were checked."""
    sentence = sentence[0].upper() + sentence[1:]
    return sentence if _ENDS.search(_TRAILING_CITES.sub("", sentence)) else sentence + "."


def pieces(text: str) -> list[str]:
    """Word-sized pieces of ``text`` for token events; they add up to ``text`` exactly."""
    return re.findall(r"\s*\S+\s*", text)


def claim(sentence: str) -> str:
    """What a sentence of an answer states: without its citations and the coach's framing."""
    text = _CITE.sub("", sentence)
    for intro in (GUIDANCE_INTRO, NOTES_INTRO):
        text = text.replace(intro.strip(), "")
    return text.strip()


class SentenceGate:
    """Lets an answer's sentences through as they complete and pass their checks. A sentence
    without a citation waits until a cited sentence follows; the first failure closes the gate,
    and what was let through stands."""

    def __init__(self, check: Callable[[str], list[str]], anchors: Callable[[str], bool]):
        self.check = check
        self.anchors = anchors  # whether a sentence lets the sentences waiting before it out
        self.seen = 0
        self.waiting: list[str] = []
        self.released: list[str] = []
        self.problem: str | None = None

    def feed(self, text: str, ended: bool = False) -> list[str]:
        """The sentences of ``text`` (the answer so far) newly let through."""
        out: list[str] = []
        for sentence in complete_sentences(text, ended)[self.seen:]:
            if self.problem:
                break
            self.seen += 1
            sentence = finish(sentence)
            problems = self.check(sentence)
            if problems:
                self.problem = "; ".join(problems)
                break
            self.waiting.append(sentence)
            if self.anchors(sentence):
                out += self.waiting
                self.waiting = []
        self.released += out
        return out

    def cut(self, text: str) -> bool:
        """Whether the answer let through is shorter than what the model wrote."""
        return bool(self.problem or self.waiting or len(answer_sentences(text)) > self.seen)


@dataclass
class Answer:
    text: str
    provenance: Provenance
    truncated: bool = False  # phrase: the model's later sentences failed and were never sent


class ChatService:
    def __init__(self, store: Store, retriever: HybridRetriever, prompts: PromptLibrary,
                 model: ChatModel | None, backend: str, mode: str | None = None):
        self.store = store
        self.retriever = retriever
        self.prompts = prompts
        self.model = model
        self.backend = backend
        self.mode = mode or default_mode(model)
        if self.mode not in ("phrase", "choose"):
            raise InvalidInput(f"Unknown chat mode {self.mode!r}. Use phrase or choose.")

    def validate(self, answer: str, hits: list[Hit]) -> list[str]:
        """Every problem of a whole answer: it must cite, and each sentence pass its checks."""
        problems = []
        cited = {int(n) for n in _CITE.findall(answer)}
        if not cited:
            problems.append("the answer cites no source")
        for sentence in answer_sentences(answer):
            found = self.sentence_problems(sentence, hits)
            if found:
                problems += found
                break
        return problems

    def sentence_problems(self, sentence: str, hits: list[Hit]) -> list[str]:
        """What is wrong with one sentence of an answer: a citation of no source, a claim the
        sources do not support or the coach must not repeat, the pair's notes presented as
        guidance, or the prompt repeated."""
        cites = {int(n) for n in _CITE.findall(sentence)}
        if any(n < 1 or n > len(hits) for n in cites):
            return ["the answer cites a source that does not exist"]
        if "numbered sources" in sentence.lower() or "<data>" in sentence.lower():
            return ["the answer repeats the prompt"]
        text = claim(sentence)
        if unsafe_to_repeat(sentence) or (
                len(tokenize(text)) >= 3 and not is_supported(text, [h.text for h in hits], 0.5)):
            return [f"unsupported sentence: {text[:60]!r}"]
        notes = any(origin(hits[n - 1]) == "your notes" for n in cites)
        if notes and _AS_GUIDANCE.search(sentence):
            return ["the answer presents the pair's notes as programme guidance"]
        return []

    def ask(self, pair: PairRecord, person: PersonRecord, message: str, *,
            since=None) -> Iterator[ChatEvent]:
        role = member_role(person, pair)
        message = clean_text(message, "message", max_chars=MAX_MESSAGE_CHARS)
        started = time.perf_counter()
        hits = self.retriever.search(message, 4, pair_id=pair.id,
                                     kinds=["guideline", "document", "topic", "pair_goals",
                                            "pair_summary"])
        useful = safe_hits(covered(message, hits))
        composed = extractive_answer(message, useful)
        provenance = Provenance(backend=self.backend, sources=[h.source for h in useful])
        if self.model is None or not useful:
            answer = Answer(composed, provenance)
            yield from token_events(composed)
        elif self.mode == "choose":
            answer = yield from self._choose(role, message, useful, composed, provenance)
        else:
            history = self.store.chat_history(pair.id, person.id, limit=6, since=since)
            answer = yield from self._phrase(role, message, history, useful, composed, provenance)
        answer.provenance.latency_ms = (time.perf_counter() - started) * 1000
        citations = [{"n": n, "source": h.source, "heading": h.heading, "origin": origin(h)}
                     for n, h in enumerate(useful, 1) if f"[{n}]" in answer.text]
        result = {"answer": answer.text, "citations": citations, "covered": bool(useful),
                  "provenance": dict(answer.provenance.to_dict(), truncated=answer.truncated)}
        self.store.add_chat_turn(pair.id, person.id, message, answer.text,
                                 {"citations": citations, "provenance": result["provenance"]})
        yield ChatEvent("done", result)

    def _choose(self, role: str, question: str, hits: list[Hit], composed: str,
                provenance: Provenance) -> Generator[ChatEvent, None, Answer]:
        """The model picks the answer's sentences by number; the assembled answer is checked
        whole, then sent."""
        candidates = choices(question, hits)
        if not candidates:  # nothing to choose from: the composed answer stands
            yield from token_events(composed)
            return Answer(composed, provenance)
        numbered = "\n".join(f"{i}. {s}" for i, (_, s) in enumerate(candidates, 1))

        def merge(data: dict[str, Any], base: str) -> str:
            picked = [candidates[i - 1] for i in dict.fromkeys(data["sentences"])]
            return assemble(in_passage_order(picked, hits), hits)

        schema = {
            "type": "object",
            "properties": {
                "sentences": {"type": "array", "minItems": 1, "maxItems": CHOOSE_MAX_SENTENCES,
                              "items": {"type": "integer",
                                        "enum": list(range(1, len(candidates) + 1))}},
            },
            "required": ["sentences"],
            "additionalProperties": False,
        }
        yield ChatEvent("checking", {"message": CHECKING})
        guarded = guarded_generate(
            task="chat", backend=self.backend, model=self.model, composed=composed,
            validate=lambda answer: self.validate(answer, hits), schema=schema, merge=merge,
            max_tokens=CHOOSE_MAX_TOKENS, sources=provenance.sources,
            messages=lambda: self.prompts.render("chat_choose.j2", role=role, question=question,
                                                 numbered=numbered))
        yield from token_events(guarded.value)
        return Answer(guarded.value, guarded.provenance)

    def _phrase(self, role: str, question: str, history: list[dict[str, Any]], hits: list[Hit],
                composed: str, provenance: Provenance) -> Generator[ChatEvent, None, Answer]:
        """The model writes the answer; each sentence is sent once it is complete and checked.
        What has been sent is never taken back: a failing sentence ends the answer there, or,
        when nothing was sent yet, the composed answer is sent instead."""
        messages = self.prompts.render(
            "chat.j2", role=role, question=question,
            sources=[{"heading": h.heading, "text": h.text, "origin": origin(h)} for h in hits],
            history="\n".join(f"{m['role']}: {m['content']}" for m in history[-4:]))
        # a sentence that cites a source and says something lets the waiting sentences out
        gate = SentenceGate(lambda s: self.sentence_problems(s, hits), anchors=lambda s: bool(
            _CITE.search(s)) and len(tokenize(claim(s))) >= 3)
        yield ChatEvent("checking", {"message": CHECKING})
        text, shown, failure, stream = "", "", None, None
        try:
            stream = self.model.stream(messages, max_tokens=CHAT_MAX_TOKENS)
            for piece in stream:
                text += piece
                provenance.tokens += 1
                for sentence in gate.feed(text):
                    shown = yield from token_events(sentence, after=shown)
                if gate.problem:
                    break  # nothing after a failing sentence is sent: stop the model
            else:
                for sentence in gate.feed(text, ended=True):
                    shown = yield from token_events(sentence, after=shown)
        except BackendUnavailable:
            if not shown:
                raise
            failure = "the model became unavailable"
        except Exception as exc:  # keep the conversation going on what passed, or the composed
            failure = f"{exc.__class__.__name__}: {exc}"
            if not shown:
                provenance.fall_back("chat", FallbackReason.MODEL_FAILED, failure, exc_info=True)
                yield from token_events(composed)
                return Answer(composed, provenance)
        finally:  # stopped early, or the reader went away: free the model (and its lock) now
            getattr(stream, "close", lambda: None)()
        if not shown:
            provenance.fall_back("chat", FallbackReason.UNSUPPORTED,
                                 gate.problem or "the answer cites no source")
            yield from token_events(composed)
            return Answer(composed, provenance)
        truncated = bool(failure) or gate.cut(text)
        if truncated:  # the reason may quote the model: the server log alone
            log.warning("chat on %s ended after %d checked sentences: %s", self.backend,
                        len(gate.released), failure or gate.problem or "later sentences uncited")
        provenance.changed = shown != composed
        return Answer(shown, provenance, truncated=truncated)


def token_events(text: str, after: str = "") -> Generator[ChatEvent, None, str]:
    """Token events for ``text``, sent after ``after`` (what has been shown of the answer);
    returns the answer shown so far."""
    text = f" {text}" if after else text
    for piece in pieces(text):
        yield ChatEvent("token", piece)
    return after + text
