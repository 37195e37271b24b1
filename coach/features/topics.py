"""Topic suggestions: catalogue topics that fit the pair's focus and goals, new to the pair, varied."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from coach.domain.errors import InvalidInput
from coach.domain.records import PairRecord
from coach.domain.sources import goals_source
from coach.domain.vocabulary import SessionStatus
from coach.features.catalogue import Topic, TopicCatalogue
from coach.features.topic_relevance import TopicRelevance
from coach.generation.guard import FallbackReason, Guarded, Rejected, guarded_generate
from coach.generation.prompts import PromptLibrary
from coach.ports import ChatModel
from coach.retrieval.hybrid import HybridRetriever
from coach.text.sentences import overlap

MAX_K = 10
GOAL_MATCH = 0.45  # relevance above which a topic is said to serve a goal
# Without the learned covered model (coach.features.covered_notes, used beside the embedder it
# was fitted with): the cosine similarity at which a note of what a pair covered ("did the
# captions thing") is taken to name its nearest catalogue topic, chosen on the dev topic cases'
# covered_ids.
COVERED_SIMILARITY = 0.4


# A model may reorder the ranked topics, but what it chooses must serve the goals nearly as
# well: its topics' mean relevance at least this share of the ranking's own choice.
SERVES_AS_WELL = 0.8


@dataclass(frozen=True)
class Suggestion:
    topic: Topic
    score: float
    relevance: float
    why: str
    cites: str  # the goal text or guideline source that ``why`` rests on
    reason: str = ""  # the short form of ``why``, without the topic's description

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.topic.id, "title": self.topic.title, "focus": self.topic.focus,
                "level": self.topic.level, "why": self.why,
                "starters": list(self.topic.starters), "activity": self.topic.activity,
                "source": self.topic.source, "cites": self.cites}


def serves_as_well(chosen: Iterable[Suggestion], ranked: Iterable[Suggestion]) -> bool:
    """Whether ``chosen`` serves the goals nearly as well as the ranking's choice ``ranked``."""
    mine, theirs = [s.relevance for s in chosen], [s.relevance for s in ranked]
    if not mine or not theirs:
        return True
    return sum(mine) / len(mine) + 1e-9 >= SERVES_AS_WELL * sum(theirs) / len(theirs)


def topic_choice_schema(candidates: Iterable[str], n: int) -> dict[str, Any]:
    """The JSON schema (the grammar on llama.cpp) of ``n`` distinct ids among ``candidates``:
    how a model chooses topics, for the agenda and for suggestions alike."""
    return {"type": "array", "items": {"type": "string", "enum": sorted(candidates) or [""]},
            "minItems": n, "maxItems": n, "uniqueItems": True}


def chosen_topics(ids: Sequence[str], candidates: Mapping[str, Suggestion]) -> list[Suggestion]:
    """The candidates a model chose, in its order; refused when it names one outside them."""
    chosen = [candidates[i] for i in ids if i in candidates]
    if len(chosen) != len(ids):
        raise Rejected("the model chose a topic outside the candidates", FallbackReason.MALFORMED)
    return chosen


def active_goals(pair: PairRecord) -> list[str]:
    return [g.text for g in pair.goals if g.status not in ("achieved", "dropped")] or \
        [g.text for g in pair.goals]


def covered_topic_ids(pair: PairRecord, catalogue: TopicCatalogue) -> set[str]:
    """Topics already used: in saved agendas of held sessions, or named in shared summaries."""
    by_title = catalogue.by_title()
    covered: set[str] = set()
    for session in pair.sessions:
        if session.status == SessionStatus.held and session.agenda:
            covered |= {i["topic_id"] for i in session.agenda.get("items", []) if i.get("topic_id")}
        for reflection in session.reflections:
            if not reflection.shared_with_pair:  # what a reflection names is its author's
                continue
            for name in (reflection.summary or {}).get("topics", []):
                topic = catalogue.get(name) or by_title.get(str(name).casefold())
                if topic:
                    covered.add(topic.id)
    return covered


class TopicSuggester:
    def __init__(self, catalogue: TopicCatalogue, retriever: HybridRetriever,
                 prompts: PromptLibrary, model: ChatModel | None, backend: str,
                 relevance: TopicRelevance | None = None):
        """``relevance``: the fitted topic relevance model (Container.topic_relevance), or
        None to rank by the search score."""
        self.catalogue = catalogue
        self.retriever = retriever
        self.prompts = prompts
        self.model = model
        self.backend = backend
        self.fitted = relevance

    # -- deterministic composer ------------------------------------------------------
    def covered_by_notes(self, notes: Iterable[str]) -> set[str]:
        """The catalogue topics that notes of what a pair covered name, as people write them:
        a title or id, or a note that means the same as a topic."""
        by_title = self.catalogue.by_title()
        ids: set[str] = set()
        loose: list[str] = []
        for note in (str(n).strip() for n in notes):
            if not note:
                continue
            exact = self.catalogue.get(note) or by_title.get(note.casefold())
            if exact:
                ids.add(exact.id)
            else:
                loose.append(note)
        # in catalogue order, as rank() asks, so the topics' vectors are computed once
        learned = self.fitted.named_by_notes(loose, list(self.catalogue.all().values())) \
            if self.fitted else None
        if learned is not None:
            return (ids | learned) - {""}
        for note in loose:
            nearest = self.nearest_topic(note)
            if nearest is not None and nearest[1] >= COVERED_SIMILARITY:
                ids.add(nearest[0])
        return ids - {""}

    def search_topics(self, query: str, k: int):
        return self.retriever.search(query, k, kinds=["topic"])

    def nearest_topic(self, note: str) -> tuple[str, float] | None:
        """The catalogue topic whose text is nearest in meaning to ``note``, and how near."""
        best = max(self.search_topics(note, 3), key=lambda h: h.similarity, default=None)
        return (str(best.metadata.get("topic_id", "")), best.similarity) if best else None

    def relevance(self, goals: list[str], topics: list[Topic]) -> dict[str, tuple[float, str]]:
        """Each topic's relevance to the goals (0..1) and the goal it is closest to: the fitted
        model (coach.features.topic_relevance) where there is one, else the
        keyword-and-vector search score."""
        if self.fitted is not None:
            return self.fitted.scores(goals, topics, self.search_topics)
        found: dict[str, tuple[float, str]] = {}
        for goal in goals:
            for hit in self.search_topics(goal, 40):
                tid = str(hit.metadata.get("topic_id", ""))
                if hit.score > found.get(tid, (0.0, ""))[0]:
                    found[tid] = (hit.score, goal)
        return found

    def closeness(self, texts: Iterable[str], k: int = 12) -> dict[str, float]:
        """Each topic's highest cosine similarity to any of ``texts`` (topics far from all of
        them are left out)."""
        best: dict[str, float] = {}
        for text in dict.fromkeys(t.strip() for t in texts if t and t.strip()):
            for hit in self.search_topics(text, k):
                tid = str(hit.metadata.get("topic_id", ""))
                best[tid] = max(best.get(tid, 0.0), hit.similarity)
        return best

    def rank(self, pair: PairRecord, *, exclude: Iterable[str] = (), n: int = 10,
             boost: Mapping[str, float] | None = None) -> list[Suggestion]:
        """The best ``n`` new topics for the pair, varied, each with a reason. ``boost``: an
        amount added to some topics' relevance (what the pair's records say comes next)."""
        topics = self.catalogue.all()
        if not topics:
            raise InvalidInput("The topic catalogue is empty. Run `coach init` to ingest knowledge/.")
        skip = set(exclude) | covered_topic_ids(pair, self.catalogue)
        candidates = [t for t in topics.values() if t.focus in pair.focus and t.id not in skip]
        goals = active_goals(pair)
        relevance = self.relevance(goals, list(topics.values()))

        def base(t: Topic) -> float:
            # A topic's level (intro or deeper) is not weighed: on the dev cases, preferring
            # intro topics early in a pairing cost fit (main topic 0.577 -> 0.500).
            return relevance.get(t.id, (0.0, ""))[0] + (boost or {}).get(t.id, 0.0)

        picked: list[Suggestion] = []
        pool = sorted(candidates, key=lambda t: (-base(t), t.id))
        while pool and len(picked) < n:
            def adjusted(t: Topic) -> float:
                penalty = 0.0
                for s in picked:
                    if t.id in s.topic.related or s.topic.id in t.related:
                        penalty += 0.12
                    penalty += 0.25 * overlap(t.title, s.topic.title)
                per_focus = sum(1 for s in picked if s.topic.focus == t.focus)
                return base(t) - penalty - 0.06 * per_focus
            best = max(pool, key=lambda t: (adjusted(t), -ord(t.id[0]), t.id))
            pool.remove(best)
            picked.append(self._explain(pair, best, *relevance.get(best.id, (0.0, ""))))
        return picked

    def _explain(self, pair: PairRecord, topic: Topic, score: float, goal: str) -> Suggestion:
        first = topic.description.split(". ")[0].rstrip(".") + "."
        if goal and score >= GOAL_MATCH:
            reason = f"Serves your goal “{goal}”."
            cites = goals_source(pair.id)
        else:
            reason = f"Fits the pair's {topic.focus} focus and is new to you."
            cites = f"knowledge/focus-{topic.focus}.md"
        return Suggestion(topic, round(score, 3), round(score, 3), f"{reason} {first}", cites,
                          reason)

    # -- guarded ---------------------------------------------------------------------
    def suggest(self, pair: PairRecord, k: int = 3, *, exclude: Iterable[str] = (),
                covered: Iterable[str] = ()) -> Guarded[list[Suggestion]]:
        """``exclude``: topic ids not to offer; ``covered``: notes of what the pair has covered,
        in their own words, matched to topics by meaning."""
        if not 1 <= k <= MAX_K:
            raise InvalidInput(f"k must be between 1 and {MAX_K}.")
        exclude = set(exclude) | self.covered_by_notes(covered)
        ranked = self.rank(pair, exclude=exclude, n=min(2 * k, 12))
        composed = ranked[:k]
        by_id = {s.topic.id: s for s in ranked}
        covered = covered_topic_ids(pair, self.catalogue) | exclude

        def validate(result: list[Suggestion]) -> list[str]:
            problems = []
            ids = [s.topic.id for s in result]
            if len(ids) != len(set(ids)):
                problems.append("a topic is suggested twice")
            if len(ids) != min(k, len(ranked)):
                problems.append(f"expected {min(k, len(ranked))} topics, got {len(ids)}")
            for s in result:
                if self.catalogue.get(s.topic.id) is None:
                    problems.append(f"unknown topic id {s.topic.id}")
                elif s.topic.focus not in pair.focus:
                    problems.append(f"{s.topic.id} does not fit the pair's focus")
                elif s.topic.id in covered:
                    problems.append(f"{s.topic.id} was already covered")
            if not serves_as_well(result, composed):
                problems.append("the chosen topics serve the goals less well than the ranking")
            return problems

        def merge(data: dict, _composed: list[Suggestion]) -> list[Suggestion]:
            return chosen_topics(data["topic_ids"], by_id)

        schema = {
            "type": "object",
            "properties": {"topic_ids": topic_choice_schema(by_id, len(composed))},
            "required": ["topic_ids"], "additionalProperties": False,
        }
        return guarded_generate(
            task="topics", backend=self.backend, model=self.model if ranked else None,
            composed=composed, validate=validate, schema=schema, merge=merge, max_tokens=24 * k + 16,
            messages=lambda: self.prompts.render(
                "topics.j2", focus=", ".join(pair.focus), goals="\n".join(active_goals(pair)),
                candidates=[s.topic for s in ranked], k=len(composed)),
            sources=[s.topic.source for s in composed],
        )


def with_sources(result: Guarded[list[Suggestion]]) -> dict[str, Any]:
    provenance = replace(result.provenance)
    provenance.sources = [s.topic.source for s in result.value] + [s.cites for s in result.value]
    return {"topics": [s.to_dict() for s in result.value], "provenance": provenance.to_dict()}
