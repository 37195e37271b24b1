"""The prep chat: answers from the guidelines and the pair's context, with citations, streamed."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from coach.errors import BackendUnavailable, InvalidInput
from coach.ports import ChatModel
from coach.prompts import PromptLibrary
from coach.records import PairRecord, PersonRecord
from coach.retrieval.hybrid import Hit, HybridRetriever
from coach.retrieval.text import tokenize
from coach.services.guard import FallbackReason, Provenance
from coach.services.text import is_supported, split_sentences, unsafe_to_repeat
from coach.store.repository import Store, clean_text

MAX_MESSAGE_CHARS = 2000
CHAT_MAX_TOKENS = 160  # 2-4 sentences; longer answers only add unverifiable text
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


@dataclass(frozen=True)
class ChatEvent:
    """``token`` (the next piece of the checked answer) or ``done`` (answer, citations and
    provenance)."""

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


def extractive_answer(question: str, hits: list[Hit]) -> str:
    if not hits:
        return NOT_COVERED
    q = set(tokenize(question))
    parts: dict[str, list[str]] = {"programme guidance": [], "your notes": []}
    for n, hit in enumerate(hits[:2], 1):
        sentences = [s for s in split_sentences(hit.text) if "|" not in s and not s.endswith(":")]
        if not sentences:
            continue
        best = sorted(sentences, key=lambda s: (-len(q & set(tokenize(s))), sentences.index(s)))[:2]
        parts[origin(hit)].append(" ".join(s for s in sentences if s in best) + f" [{n}]")
    answer = []
    if parts["programme guidance"]:
        answer.append(GUIDANCE_INTRO + " ".join(parts["programme guidance"]))
    if parts["your notes"]:
        answer.append(NOTES_INTRO + " ".join(parts["your notes"]))
    return " ".join(answer) or NOT_COVERED


class ChatService:
    def __init__(self, store: Store, retriever: HybridRetriever, prompts: PromptLibrary,
                 model: ChatModel | None, backend: str):
        self.store = store
        self.retriever = retriever
        self.prompts = prompts
        self.model = model
        self.backend = backend

    def validate(self, answer: str, hits: list[Hit]) -> list[str]:
        problems = []
        cited = {int(n) for n in _CITE.findall(answer)}
        if not cited:
            problems.append("the answer cites no source")
        if any(n < 1 or n > len(hits) for n in cited):
            problems.append("the answer cites a source that does not exist")
        sources = [h.text for h in hits]
        for sentence in split_sentences(answer):
            cites = {int(n) for n in _CITE.findall(sentence)}
            sentence = _CITE.sub("", sentence)
            if len(tokenize(sentence)) < 3:
                continue
            if unsafe_to_repeat(sentence) or not is_supported(sentence, sources, 0.5):
                problems.append(f"unsupported sentence: {sentence[:60]!r}")
                break
            notes = any(1 <= n <= len(hits) and origin(hits[n - 1]) == "your notes" for n in cites)
            if notes and re.search(r"\b(guidance|guidelines?|programme says)\b", sentence, re.I):
                problems.append("the answer presents the pair's notes as programme guidance")
                break
        if "numbered sources" in answer.lower() or "<data>" in answer.lower():
            problems.append("the answer repeats the prompt")
        return problems

    def ask(self, pair: PairRecord, person: PersonRecord, message: str, *,
            since=None) -> Iterator[ChatEvent]:
        if person.id not in (pair.mentor.id, pair.mentee.id):
            raise InvalidInput(f"{person.name} is not in pair {pair.id}.")
        message = clean_text(message, "message", max_chars=MAX_MESSAGE_CHARS)
        started = time.perf_counter()
        role = "mentor" if person.id == pair.mentor.id else "mentee"
        history = self.store.chat_history(pair.id, person.id, limit=6, since=since)
        hits = self.retriever.search(message, 4, pair_id=pair.id,
                                     kinds=["guideline", "document", "topic", "pair_goals",
                                            "pair_summary"])
        useful = safe_hits(covered(message, hits))
        composed = extractive_answer(message, useful)
        provenance = Provenance(backend=self.backend, sources=[h.source for h in useful])
        answer = composed
        if self.model is not None and useful:
            messages = self.prompts.render(
                "chat.j2", role=role, question=message,
                sources=[{"heading": h.heading, "text": h.text, "origin": origin(h)} for h in useful],
                history="\n".join(f"{m['role']}: {m['content']}" for m in history[-4:]))
            try:
                # The whole answer is checked before any of it is sent: a rejected answer must
                # not reach the user, not even for the seconds before it would be replaced.
                streamed = list(self.model.stream(messages, max_tokens=CHAT_MAX_TOKENS))
                candidate = "".join(streamed).strip()
                provenance.tokens = max(1, len(streamed))
                problems = self.validate(candidate, useful)
                if problems:
                    provenance.fall_back("chat", FallbackReason.UNSUPPORTED, "; ".join(problems))
                else:
                    answer = candidate
                    provenance.changed = candidate != composed
            except BackendUnavailable:
                raise
            except Exception as exc:  # keep the conversation going on the composed answer
                provenance.fall_back("chat", FallbackReason.MODEL_FAILED,
                                     f"{exc.__class__.__name__}: {exc}", exc_info=True)
        for word in re.findall(r"\S+\s*", answer):
            yield ChatEvent("token", word)
        provenance.latency_ms = (time.perf_counter() - started) * 1000
        citations = [{"n": n, "source": h.source, "heading": h.heading, "origin": origin(h)}
                     for n, h in enumerate(useful[:len(useful)], 1)
                     if f"[{n}]" in answer]
        result = {"answer": answer, "citations": citations, "covered": bool(useful),
                  "provenance": provenance.to_dict()}
        self.store.add_chat_turn(pair.id, person.id, message, answer,
                                 {"citations": citations, "provenance": result["provenance"]})
        yield ChatEvent("done", result)
