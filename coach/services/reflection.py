"""Faithful summaries of a mentee's or mentor's reflection."""

from __future__ import annotations

import datetime as dt
from typing import Any

from coach.errors import InvalidInput
from coach.ports import ChatModel
from coach.prompts import PromptLibrary
from coach.records import PairRecord
from coach.services.catalogue import TopicCatalogue
from coach.services.extract import Extraction, extract, label_sentiment, sentiment_of
from coach.services.guard import FallbackReason, Guarded, Rejected, guarded_generate
from coach.services.text import is_supported, split_sentences, unsafe_to_repeat
from coach.retrieval.text import tokenize
from coach.store.repository import MAX_REFLECTION_CHARS, clean_text

MIN_SUMMARY, MAX_SUMMARY = 2, 4


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
    """``phrase``: the model writes the summary, and unsupported sentences are dropped.
    ``choose``: the model picks the summary's sentences from the reflection by number, under a
    grammar, so the summary is faithful by construction and the reply is a few tokens. The
    embedded SmolLM2-135M uses ``choose``: its own phrasing is almost never supported, and
    writing it took 4 s for nothing. Larger models behind the openai backend phrase."""

    def __init__(self, catalogue: TopicCatalogue, prompts: PromptLibrary,
                 model: ChatModel | None, backend: str, mode: str | None = None):
        self.catalogue = catalogue
        self.prompts = prompts
        self.model = model
        self.backend = backend
        self.mode = mode or ("choose" if backend == "embedded" else "phrase")
        if self.mode not in ("phrase", "choose"):
            raise InvalidInput(f"Unknown summary mode {self.mode!r}. Use phrase or choose.")

    def compose(self, text: str, author_role: str, ex: Extraction, focus) -> dict[str, Any]:
        return {
            "summary": " ".join(ex.summary_sentences),
            "key_points": ex.key_points,
            "action_items": ex.action_items,
            "blockers": ex.blockers,
            "sentiment": ex.sentiment,
            "engagement": ex.engagement,
            "topics": reflection_topics(text, focus, self.catalogue),
        }

    def summarise(self, text: str, author_role: str, *, focus=(), written: dt.date | None = None,
                  names: dict[str, str] | None = None) -> Guarded[dict[str, Any]]:
        text = clean_text(text, "reflection", max_chars=MAX_REFLECTION_CHARS)
        if author_role not in ("mentor", "mentee"):
            raise InvalidInput("The author of a reflection is the pair's mentor or mentee.")
        ex = extract(text, author_role, written=written, names=names)
        composed = self.compose(text, author_role, ex, focus)
        trusted = [s for s in ex.sentences if not unsafe_to_repeat(s)]
        lexicon = sentiment_of(trusted)
        source_words = len(text.split())
        lower = MIN_SUMMARY if len(trusted) >= MIN_SUMMARY else 1  # fewest summary sentences

        def settle_sentiment(said: str, base: dict[str, Any]) -> str:
            if abs(lexicon) >= 0.5 and said != label_sentiment(lexicon) and said != "neutral":
                return base["sentiment"]  # the text's own words decide a clear case
            return said

        def validate(result: dict[str, Any]) -> list[str]:
            problems = []
            sentences = split_sentences(result["summary"])
            if not lower <= len(sentences) <= MAX_SUMMARY:
                problems.append(f"the summary has {len(sentences)} sentences, not {lower}-{MAX_SUMMARY}")
            for s in sentences:
                if unsafe_to_repeat(s) or not is_supported(s, trusted):
                    problems.append(f"unsupported summary sentence: {s[:60]!r}")
            for p in result["key_points"]:
                if not is_supported(p, trusted):
                    problems.append(f"unsupported key point: {p[:60]!r}")
            if source_words > 80 and len(result["summary"].split()) > 0.7 * source_words:
                problems.append("the summary is nearly as long as the reflection")
            return problems

        def merge(data: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
            sentences = split_sentences(data["summary"])
            kept = [s for s in sentences
                    if not unsafe_to_repeat(s) and is_supported(s, trusted)][:MAX_SUMMARY]
            if len(kept) < lower:
                raise Rejected(f"only {len(kept)} of {len(sentences)} summary sentences are "
                               "supported by the reflection", FallbackReason.UNSUPPORTED)
            points = [p.strip() for p in data.get("key_points", [])
                      if p.strip() and not unsafe_to_repeat(p) and is_supported(p, trusted)]
            return dict(base, summary=" ".join(kept), key_points=points[:4] or base["key_points"],
                        sentiment=settle_sentiment(data["sentiment"], base))

        if self.mode == "choose":
            result = self._choose(author_role, composed, trusted, lower, source_words,
                                  settle_sentiment, validate)
        else:
            result = self._phrase(text, author_role, composed, validate, merge)
        result.value["provenance"] = result.provenance.to_dict()
        if ex.ignored:
            result.value["provenance"]["ignored_instructions"] = len(ex.ignored)
        return result

    def _choose(self, author_role, composed, trusted: list[str], lower: int, source_words: int,
                settle_sentiment, validate) -> Guarded[dict[str, Any]]:
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
            if not lower <= len(picked) <= MAX_SUMMARY:
                raise Rejected(f"{len(picked)} different sentences picked, not {lower}-{MAX_SUMMARY}")
            picked.sort()
            return dict(base, summary=" ".join(trusted[i - 1] for i in picked),
                        sentiment=settle_sentiment(data["sentiment"], base))

        schema = {
            "type": "object",
            "properties": {
                "sentences": {"type": "array", "minItems": lower, "maxItems": MAX_SUMMARY,
                              "items": {"type": "integer", "enum": list(range(1, len(trusted) + 1))}},
                "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
            },
            "required": ["sentences", "sentiment"],
            "additionalProperties": False,
        }
        if not trusted:  # nothing to choose from: the composer's result stands
            return guarded_generate(task="summary", backend=self.backend, model=None,
                                    composed=composed, validate=validate, sources=["reflection"])
        return guarded_generate(
            task="summary", backend=self.backend, model=self.model, composed=composed,
            validate=validate, schema=schema, merge=merge, max_tokens=40, sources=["reflection"],
            messages=lambda: self.prompts.render("summary_choose.j2", author_role=author_role,
                                                 numbered=numbered),
        )

    def _phrase(self, text, author_role, composed, validate, merge) -> Guarded[dict[str, Any]]:
        schema = {
            "type": "object",
            "properties": {
                "summary": {"type": "string", "minLength": 20, "maxLength": 700},
                "key_points": {"type": "array", "maxItems": 4,
                               "items": {"type": "string", "minLength": 3, "maxLength": 160}},
                "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
            },
            "required": ["summary", "key_points", "sentiment"],
            "additionalProperties": False,
        }
        return guarded_generate(
            task="summary", backend=self.backend, model=self.model, composed=composed,
            validate=validate, schema=schema, merge=merge, max_tokens=220, sources=["reflection"],
            messages=lambda: self.prompts.render("summary.j2", author_role=author_role, text=text),
        )


def names_for(pair: PairRecord) -> dict[str, str]:
    """First names and full names of the pair, mapped to their role, to find action owners."""
    names = {}
    for person, role in ((pair.mentor, "mentor"), (pair.mentee, "mentee")):
        names[person.name] = role
        names[person.name.split()[0]] = role
    return names
