"""Faithful summaries of a mentee's or mentor's reflection."""

from __future__ import annotations

import datetime as dt
from typing import Any

from coach.domain.errors import InvalidInput
from coach.domain.rules import MAX_REFLECTION_CHARS, clean_text
from coach.features.catalogue import TopicCatalogue
from coach.generation.guard import FallbackReason, Guarded, Rejected, default_mode, guarded_generate
from coach.generation.prompts import PromptLibrary
from coach.generation.support import SupportCheck
from coach.ports import ChatModel
from coach.reader.reader import Reader, Reading, summary_sentences_at_most
from coach.text.sentences import join_sentences, split_sentences, unsafe_to_repeat
from coach.text.tokens import tokenize

MIN_SUMMARY = 2


def reflection_topics(text: str, focus: tuple[str, ...] | list[str], catalogue: TopicCatalogue,
                      limit: int = 2) -> list[str]:
    """Catalogue topics the reflection talks about: titles whose key words it uses."""
    words = set(tokenize(text))
    scored = []
    for topic in catalogue.all().values():
        if focus and topic.focus not in focus:
            continue
        title = set(tokenize(topic.title))
        if not title:
            continue
        share = len(title & words) / len(title)
        if share >= 0.5:
            scored.append((share, len(title & words), topic.title))
    scored.sort(key=lambda x: (-x[0], -x[1], x[2]))
    return [title for *_, title in scored[:limit]]


class ReflectionSummariser:
    """The reader (coach.reader) reads the reflection; a model only helps word the summary.

    ``choose``: the model picks the summary's sentences from the reflection by number, under a
    grammar, so the summary is faithful by construction and the reply is a few tokens. The
    embedded SmolLM2-135M uses ``choose``: its own phrasing is almost never supported, and it
    decides nothing else. ``phrase`` (larger models behind the openai backend): the model
    writes the summary and may propose action items, blockers and the sentiment; each must
    be grounded in a sentence of the reflection, or the reader's answer stands."""

    def __init__(self, catalogue: TopicCatalogue, prompts: PromptLibrary, reader: Reader,
                 model: ChatModel | None, backend: str, mode: str | None = None):
        self.catalogue = catalogue
        self.prompts = prompts
        self.reader = reader
        self.model = model
        self.backend = backend
        self.mode = mode or default_mode(model)
        self._support: SupportCheck | None = None
        if self.mode not in ("phrase", "choose"):
            raise InvalidInput(f"Unknown summary mode {self.mode!r}. Use phrase or choose.")

    @property
    def support(self) -> SupportCheck:
        """What decides whether a sentence of the model's is supported by the reflection: the
        learned check on the reader's MiniLM (coach.generation.support)."""
        if self._support is None:
            self._support = SupportCheck(self.reader.embed)
        return self._support

    def compose(self, text: str, reading: Reading, focus) -> dict[str, Any]:
        return {
            "summary": join_sentences(reading.summary_sentences),
            "key_points": reading.key_points,
            "action_items": [{k: a[k] for k in ("text", "owner", "due")}
                             for a in reading.action_items],
            "blockers": reading.blockers,
            "sentiment": reading.sentiment,
            "engagement": reading.engagement,
            "ending": reading.ending,
            "disengaged": reading.disengaged,
            "doubts_next": reading.doubts_next,
            "expects_next_dropped": reading.expects_next_dropped,
            "hints_ending": reading.hints_ending,
            "hints_disengaged": reading.hints_disengaged,
            "topics": reflection_topics(text, focus, self.catalogue),
        }

    def summarise(self, text: str, author_role: str, *, focus=(),
                  session_date: dt.date | None = None, next_session: dt.date | None = None,
                  names: dict[str, str] | None = None) -> Guarded[dict[str, Any]]:
        text = clean_text(text, "reflection", max_chars=MAX_REFLECTION_CHARS)
        if author_role not in ("mentor", "mentee"):
            raise InvalidInput("The author of a reflection is the pair's mentor or mentee.")
        reading = self.reader.read(text, author_role, names=names, session_date=session_date,
                                   next_session=next_session)
        composed = self.compose(text, reading, focus)
        trusted = reading.trusted
        source_words = len(text.split())
        lower = MIN_SUMMARY if len(trusted) >= MIN_SUMMARY else 1  # fewest summary sentences
        upper = summary_sentences_at_most(len(trusted))

        def supported(sentence: str, sources: list[str] = trusted) -> bool:
            return self.support.accepts(sentence, sources, names=names, author_role=author_role)

        def validate(result: dict[str, Any]) -> list[str]:
            problems = []
            sentences = split_sentences(result["summary"])
            if not lower <= len(sentences) <= upper:
                problems.append(f"the summary has {len(sentences)} sentences, not {lower}-{upper}")
            for s in sentences:
                if unsafe_to_repeat(s) or not supported(s):
                    problems.append(f"unsupported summary sentence: {s[:60]!r}")
            for p in result["key_points"]:
                if not supported(p):
                    problems.append(f"unsupported key point: {p[:60]!r}")
            if source_words > 80 and len(result["summary"].split()) > 0.7 * source_words:
                problems.append("the summary is nearly as long as the reflection")
            return problems

        if self.mode == "choose":
            result = self._choose(author_role, composed, trusted, lower, upper, source_words,
                                  validate)
        else:
            result = self._phrase(text, author_role, composed, reading, lower, upper, validate,
                                  supported, session_date, next_session)
        result.value["provenance"] = result.provenance.to_dict()
        if reading.ignored:
            result.value["provenance"]["ignored_instructions"] = len(reading.ignored)
        return result

    def _choose(self, author_role, composed, trusted: list[str], lower: int, upper: int,
                source_words: int, validate) -> Guarded[dict[str, Any]]:
        numbered = "\n".join(f"{i}. {sentence}" for i, sentence in enumerate(trusted, 1))

        def merge(data: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
            # The model lists its picks best first: keep them while the summary stays short.
            budget = max(0.6 * source_words, 40)
            picked: list[int] = []
            for number in dict.fromkeys(data["sentences"]):
                words = sum(len(trusted[i - 1].split()) for i in picked + [number])
                if len(picked) >= lower and words > budget:
                    break
                picked.append(number)
            if not lower <= len(picked) <= upper:
                raise Rejected(f"{len(picked)} different sentences picked, not {lower}-{upper}",
                               FallbackReason.FAILED_CHECKS)
            picked.sort()
            return dict(base, summary=join_sentences(trusted[i - 1] for i in picked))

        schema = {
            "type": "object",
            "properties": {
                "sentences": {"type": "array", "minItems": lower, "maxItems": upper,
                              "items": {"type": "integer", "enum": list(range(1, len(trusted) + 1))}},
            },
            "required": ["sentences"],
            "additionalProperties": False,
        }
        if not trusted:  # nothing to choose from: the composer's result stands
            return guarded_generate(task="summary", backend=self.backend, model=None,
                                    composed=composed, validate=validate, sources=["reflection"])
        return guarded_generate(
            task="summary", backend=self.backend, model=self.model, composed=composed,
            validate=validate, schema=schema, merge=merge, max_tokens=30, sources=["reflection"],
            messages=lambda: self.prompts.render("summary_choose.j2", author_role=author_role,
                                                 numbered=numbered),
        )

    def _phrase(self, text, author_role, composed, reading: Reading, lower: int, upper: int,
                validate, supported, session_date, next_session) -> Guarded[dict[str, Any]]:
        trusted = reading.trusted
        numbered = "\n".join(f"{i}. {sentence}" for i, sentence in enumerate(trusted, 1))
        sentence = {"type": "integer", "minimum": 1, "maximum": max(1, len(trusted))}
        schema = {
            "type": "object",
            "properties": {
                "summary": {"type": "string", "minLength": 20, "maxLength": 700},
                "key_points": {"type": "array", "maxItems": 4,
                               "items": {"type": "string", "minLength": 3, "maxLength": 160}},
                "action_items": {"type": "array", "maxItems": 8, "items": {
                    "type": "object", "additionalProperties": False,
                    "required": ["text", "owner", "sentence"],
                    "properties": {"text": {"type": "string", "minLength": 3, "maxLength": 200},
                                   "owner": {"type": "string", "enum": ["mentor", "mentee"]},
                                   "sentence": sentence}}},
                "blockers": {"type": "array", "maxItems": 5, "items": {
                    "type": "object", "additionalProperties": False,
                    "required": ["text", "sentence"],
                    "properties": {"text": {"type": "string", "minLength": 3, "maxLength": 200},
                                   "sentence": sentence}}},
                "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
            },
            "required": ["summary", "key_points", "sentiment"],
            "additionalProperties": False,
        }

        def merge(data: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
            sentences = split_sentences(data["summary"])
            kept = [s for s in sentences
                    if not unsafe_to_repeat(s) and supported(s)][:upper]
            if len(kept) < lower:
                raise Rejected(f"only {len(kept)} of {len(sentences)} summary sentences are "
                               "supported by the reflection", FallbackReason.UNSUPPORTED)
            points = [p.strip() for p in data.get("key_points", [])
                      if p.strip() and not unsafe_to_repeat(p) and supported(p)]
            return dict(base, summary=" ".join(kept), key_points=points[:4] or base["key_points"],
                        **grounded_proposals(data, base, reading, session_date, next_session,
                                             supported))

        return guarded_generate(
            task="summary", backend=self.backend, model=self.model, composed=composed,
            validate=validate, schema=schema, merge=merge, max_tokens=400, sources=["reflection"],
            messages=lambda: self.prompts.render("summary.j2", author_role=author_role,
                                                 numbered=numbered),
        )


def grounded_proposals(data: dict[str, Any], base: dict[str, Any], reading: Reading,
                       session_date, next_session, supported) -> dict[str, Any]:
    """What the model proposed beyond the summary, each kept only when a sentence of the
    reflection grounds it: an item or blocker must be supported by the sentence it cites, and
    a sentiment by a sentence the reader reads as that evaluation (``supported(text, sources)``
    is the summariser's support check). Otherwise the reader's
    answer stands, field by field. Due dates are always the reader's, from the cited
    sentence."""
    from coach.text.dates import due_date

    trusted = [s for s in reading.sentences if s.trusted]
    out: dict[str, Any] = {}

    def cited(item) -> str | None:
        n = item.get("sentence")
        return trusted[n - 1].text if isinstance(n, int) and 1 <= n <= len(trusted) else None

    items = data.get("action_items")
    if items is not None:
        grounded = [(i, cited(i)) for i in items]
        if grounded and all(src and not unsafe_to_repeat(i["text"]) and
                            supported(i["text"], [src]) for i, src in grounded):
            out["action_items"] = [
                {"text": i["text"].strip(), "owner": i["owner"],
                 "due": (lambda d: d.isoformat() if d else None)(
                     due_date(src, session_date, next_session)[0])}
                for i, src in grounded]
    blockers = data.get("blockers")
    if blockers is not None:
        grounded = [(b, cited(b)) for b in blockers]
        if grounded and all(src and not unsafe_to_repeat(b["text"]) and
                            supported(b["text"], [src]) for b, src in grounded):
            out["blockers"] = [b["text"].strip() for b, _ in grounded]
    said = data.get("sentiment")
    if said and said != base["sentiment"]:
        evaluations = {s.text for s in trusted if said in s.labels}
        if said == "neutral" or evaluations:
            out["sentiment"] = said
    return out
