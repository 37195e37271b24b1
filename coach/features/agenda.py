"""Timed agendas for a pair's next session, grounded in the guidelines and the pair's records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from coach.domain.errors import InvalidInput
from coach.domain.records import ActionItemRecord, PairRecord, ReflectionRecord
from coach.domain.sources import action_item_source, goals_source, reflection_source
from coach.domain.vocabulary import SessionStatus
from coach.features.results import Agenda
from coach.features.topics import (
    Suggestion,
    TopicSuggester,
    active_goals,
    chosen_topics,
    serves_as_well,
    topic_choice_schema,
)
from coach.generation.guard import Guarded, guarded_generate
from coach.generation.prompts import PromptLibrary
from coach.ports import ChatModel
from coach.retrieval.hybrid import Hit, HybridRetriever
from coach.text.sentences import is_supported, split_sentences, unsafe_to_repeat
from coach.text.tokens import tokenize

MIN_MINUTES, MAX_MINUTES = 15, 120
KINDS = ("check_in", "follow_up", "open_point", "topic", "activity", "reflection", "wrap_up")
MAX_OPEN_POINTS = 2  # blockers from the last session's shared summaries picked up first
# What the mentor is offered to lead the session with instead of the coach's choice: the first
# ALTERNATIVES candidates and the goal. A fitting main segment is among the goal and the first
# three candidates in 0.885 of dev cases, against 0.769 for the coach's own choice
# (coach eval --suite agendas: ranking.fit_at_3, main_topic_fit); people choose well.
ALTERNATIVES = 3
CANDIDATES = 6  # topics ranked for the coach (or the model) to choose from
GOAL_LEAD = "goal"
TWO_TOPICS_FROM = 50  # minutes: a session this long takes a second main topic

GUIDE_QUERIES = {
    "check_in": "open the session with a short check-in on how things are going",
    "reflection": "reflection and commitments at the end of a session, agree action items",
    "wrap_up": "wrap-up, confirm the next session date",
}
# How much what the pair's records say comes next (open action items, and what the latest shared
# summaries left open or planned) adds to a topic's relevance to the goals: the topic's cosine
# similarity to the closest of those notes, times NEXT_STEP_WEIGHT. Chosen on the train agenda
# cases; a setting that only ties it there does not replace it (python -m evals.calibrate
# agenda: train 0.683, dev 0.769).
NEXT_STEP_WEIGHT = 0.5
# Below this cosine similarity between every candidate topic and every active goal, no catalogue
# topic serves the goals: the main segment is built from the goal itself (same calibration).
NO_TOPIC_FITS = 0.3
PREP_QUERIES = [
    "power balance between the junior mentor and the senior leader",
    "confidentiality and trust: what stays between the pair",
]


def _half_up(x: float) -> int:
    return int(x + 0.5)


def allocate(minutes: int, n_follow: int, n_topics: int) -> dict[str, Any]:
    """Minutes per item that add up exactly to ``minutes``."""
    check, wrap, refl = max(2, _half_up(minutes * 0.08)), max(2, _half_up(minutes * 0.06)), \
        max(2, _half_up(minutes * 0.1))
    per_follow = max(1, min(5, _half_up(minutes * 0.25) // n_follow)) if n_follow else 0
    need = 3 * n_topics + 2  # a topic needs 3 minutes, the activity 2
    while minutes - check - wrap - refl - per_follow * n_follow < need:
        if per_follow > 1:
            per_follow -= 1
        elif max(check, wrap, refl) > 1:
            biggest = max(("check", check), ("refl", refl), ("wrap", wrap), key=lambda x: x[1])[0]
            check -= biggest == "check"
            refl -= biggest == "refl"
            wrap -= biggest == "wrap"
        else:
            most = minutes - 3 - need
            raise InvalidInput(
                f"{n_follow} open action items do not fit a {minutes}-minute session; use at least "
                f"{3 + need + n_follow} minutes, or close some items first (at most {max(0, most)} fit)."
            )
    remaining = minutes - check - wrap - refl - per_follow * n_follow
    activity = max(2, _half_up(remaining * 0.35))
    topic_total = remaining - activity
    topics = [topic_total // n_topics] * n_topics
    topics[0] += topic_total - sum(topics)
    return {"check_in": check, "follow_up": per_follow, "topics": topics, "activity": activity,
            "reflection": refl, "wrap_up": wrap}


def best_sentences(text: str, query: str, n: int = 2) -> str:
    """The ``n`` sentences of ``text`` that share most words with ``query``, in text order."""
    sentences = [s for s in split_sentences(text) if "|" not in s and not s.endswith(":")]
    if not sentences:
        return text.strip()[:300]
    q = set(tokenize(query))
    scored = sorted(range(len(sentences)),
                    key=lambda i: (-len(q & set(tokenize(sentences[i]))), i))[:n]
    return " ".join(sentences[i] for i in sorted(scored))


def latest_shared(pair: PairRecord) -> list[ReflectionRecord]:
    """The reflections shared with the pair from the latest session that has any."""
    for session in sorted(pair.sessions, key=lambda s: s.date, reverse=True):
        shared = [r for r in session.reflections if r.shared_with_pair]
        if shared:
            return shared
    return []


def next_steps(pair: PairRecord) -> list[str]:
    """What the pair's records say comes next: the open action items, and the plans and
    blockers in the shared summaries of the latest session that has any."""
    notes = [a.text for a in pair.open_action_items]
    for summary in (r.summary or {} for r in latest_shared(pair)):
        notes += split_sentences(summary.get("summary") or "")
        notes += [str(b) for b in summary.get("blockers") or []]
        notes += [str(a.get("text", "")) for a in summary.get("action_items") or []]
    return [n for n in notes if n.strip()]


@dataclass(frozen=True)
class OpenPoint:
    """A blocker that the last session's shared summary left open."""

    text: str
    source: str  # pair:<id>/reflection/<id>, so unsharing the reflection removes it


def open_points(pair: PairRecord) -> list[OpenPoint]:
    """The blockers in the shared summaries of the latest session that has any."""
    points = [OpenPoint(str(b).strip(), reflection_source(pair.id, r.id))
              for r in latest_shared(pair) for b in (r.summary or {}).get("blockers") or []
              if str(b).strip()]
    return list({p.text.casefold(): p for p in points}.values())[:MAX_OPEN_POINTS]


@dataclass(frozen=True)
class GoalSegment:
    """The main segment when no catalogue topic serves the pair's goals: built from the goal,
    with the guidance that bears on it."""

    goal: str
    guidance: Hit | None
    pair_id: int
    chosen: bool = False  # the mentor chose to lead with the goal; topics may serve it too

    @property
    def title(self) -> str:
        return f"Your goal: {self.goal}"

    @property
    def details(self) -> str:
        said = f" {best_sentences(self.guidance.text, self.goal, 2)}" if self.guidance else ""
        why = "You chose to lead with this goal" if self.chosen else \
            "No catalogue topic covers this goal"
        return f"{why}, so this segment works on it directly: pick one real task from it and " \
            f"do it together.{said}"

    @property
    def sources(self) -> list[str]:
        return [goals_source(self.pair_id)] + ([self.guidance.source] if self.guidance else [])

    @property
    def activity(self) -> str:
        return (f"Choose the smallest next step towards “{self.goal}”, try it in the session, "
                "and agree who does the rest before the next one.")

    @property
    def question(self) -> str:
        return f"What would progress on “{self.goal}” look like by our next session?"


@dataclass
class AgendaContext:
    pair: PairRecord
    minutes: int
    open_items: list[ActionItemRecord]
    candidates: list[Suggestion]
    guides: dict[str, Hit]
    prep: list[Hit]
    next_date: dt.date
    goal_segment: GoalSegment | None = None
    open_points: list[OpenPoint] = field(default_factory=list)


class AgendaPlanner:
    def __init__(self, retriever: HybridRetriever, suggester: TopicSuggester,
                 prompts: PromptLibrary, model: ChatModel | None, backend: str):
        self.retriever = retriever
        self.suggester = suggester
        self.prompts = prompts
        self.model = model
        self.backend = backend

    def context(self, pair: PairRecord, minutes: int, today: dt.date,
                covered: Iterable[str] = ()) -> AgendaContext:
        """``covered``: notes of what the pair has already covered, in their own words."""
        if not MIN_MINUTES <= minutes <= MAX_MINUTES:
            raise InvalidInput(f"Minutes must be between {MIN_MINUTES} and {MAX_MINUTES}; got {minutes}.")
        open_items = sorted(pair.open_action_items,
                            key=lambda a: (a.due is None, a.due or dt.date.max, a.id))
        guides = {}
        for kind, query in GUIDE_QUERIES.items():
            hits = self.retriever.search(query, 1, kinds=["guideline"])
            if hits:
                guides[kind] = hits[0]
        prep_queries = list(PREP_QUERIES)
        prep_queries += [f"{f} focus: pitfalls and tips for the pair" for f in pair.focus]
        held = [s for s in pair.sessions if s.status == SessionStatus.held]
        if len(held) < 2:
            prep_queries.append("agree ground rules in the first session")
        if any(a.due and a.due < today for a in open_items):
            prep_queries.append("follow up on action items that slipped without blame")
        prep, seen = [], set()
        for query in prep_queries:
            for hit in self.retriever.search(query, 2, kinds=["guideline"],
                                             focus=None):
                if hit.chunk_id not in seen:
                    seen.add(hit.chunk_id)
                    prep.append(Hit(best_sentences(hit.text, query), hit.source, hit.heading,
                                    hit.score, hit.chunk_id, hit.metadata))
                    break
        last = held[-1].date if held else None
        next_date = max(today, (last + dt.timedelta(days=pair.cadence_days)) if last else today)
        candidates = self.suggester.rank(pair, exclude=self.suggester.covered_by_notes(covered),
                                         n=CANDIDATES, boost=self.next_step_boost(pair))
        goal_segment = self.goal_segment(pair, candidates)
        if not candidates and goal_segment is None:
            raise InvalidInput("Every catalogue topic for this pair's focus has been covered; "
                               "add topics to knowledge/topics or widen the focus.")
        return AgendaContext(pair, minutes, open_items, candidates, guides, prep, next_date,
                             goal_segment, open_points(pair))

    def next_step_boost(self, pair: PairRecord) -> dict[str, float]:
        """What each topic gains from the pair's records saying it comes next."""
        coming = self.suggester.closeness(next_steps(pair))
        return {topic: NEXT_STEP_WEIGHT * similarity for topic, similarity in coming.items()}

    def goal_segment(self, pair: PairRecord, candidates: list[Suggestion]) -> GoalSegment | None:
        """A segment built from the goal when no candidate topic comes close to any goal."""
        goals = [g for g in active_goals(pair) if g.strip()]
        if not goals:
            return None
        ids = {s.topic.id for s in candidates}
        closest = {goal: max((sim for t, sim in self.suggester.closeness([goal]).items()
                              if t in ids), default=0.0) for goal in goals}
        if max(closest.values()) >= NO_TOPIC_FITS:
            return None
        return self.segment_from_goal(pair)

    def segment_from_goal(self, pair: PairRecord, chosen: bool = False) -> GoalSegment | None:
        """The main segment built from the leading goal, with the guidance on it."""
        goal = leading_goal(pair)
        if goal is None:
            return None
        hits = self.retriever.search(goal, 1, kinds=["guideline"])
        return GoalSegment(goal, hits[0] if hits else None, pair.id, chosen)

    @staticmethod
    def alternatives(ctx: AgendaContext) -> list[dict[str, str]]:
        """What the mentor may lead the session with: the first candidates, and the goal."""
        out = [{"lead": s.topic.id, "title": s.topic.title} for s in ctx.candidates[:ALTERNATIVES]]
        goal = leading_goal(ctx.pair)
        if goal is not None:
            out.append({"lead": GOAL_LEAD, "title": GoalSegment(goal, None, ctx.pair.id).title})
        return out

    # -- deterministic composer --------------------------------------------------------
    def build(self, ctx: AgendaContext, topics: list[Suggestion | GoalSegment],
              opening_questions: list[str] | None = None) -> dict[str, Any]:
        pair = ctx.pair
        times = allocate(ctx.minutes, len(ctx.open_items) + len(ctx.open_points), len(topics))
        goals = active_goals(pair)

        def guide(kind: str, fallback: str) -> tuple[str, list[str]]:
            hit = ctx.guides.get(kind)
            if not hit:
                return fallback, []
            return best_sentences(hit.text, GUIDE_QUERIES[kind], 1), [hit.source]

        items: list[dict[str, Any]] = []
        details, sources = guide("check_in", "A few minutes on how each of you is doing.")
        if goals:
            details += " Quick update on each goal: " + "; ".join(goals) + "."
        items.append(_item("check_in", "Check-in", times["check_in"], details,
                           sources + ([goals_source(pair.id)] if goals else [])))
        for a in ctx.open_items:
            due = f", due {a.due.isoformat()}" if a.due else ""
            late = " (overdue)" if a.due and a.due < ctx.next_date else ""
            items.append(_item("follow_up", f"Follow up: {a.text}", times["follow_up"],
                               f"Owner: the {a.owner}{due}{late}. What happened, and what is next?",
                               [action_item_source(pair.id, a.id)], action_item_id=a.id))
        for point in ctx.open_points:
            items.append(_item("open_point", f"Left open: {point.text}", times["follow_up"],
                               "From the last session's shared reflection: where does this stand?",
                               [point.source]))
        for s, minutes in zip(topics, times["topics"], strict=True):
            if isinstance(s, GoalSegment):
                items.append(_item("topic", s.title, minutes, s.details, s.sources))
            else:
                items.append(_item("topic", s.topic.title, minutes,
                                   f"{s.topic.description} Why now: {s.reason or s.why}",
                                   [s.topic.source, s.cites], topic_id=s.topic.id))
        lead = topics[0]
        if isinstance(lead, GoalSegment):
            items.append(_item("activity", f"Activity: {lead.goal}", times["activity"],
                               lead.activity, [goals_source(pair.id)]))
        else:
            items.append(_item("activity", f"Activity: {lead.topic.title}", times["activity"],
                               lead.topic.activity, [lead.topic.source], topic_id=lead.topic.id))
        details, sources = guide("reflection", "What did each of you learn, and what will you do?")
        items.append(_item("reflection", "Reflection and commitments", times["reflection"],
                           details, sources))
        details, sources = guide("wrap_up", "Agree the next date.")
        items.append(_item("wrap_up", "Wrap-up and next date", times["wrap_up"],
                           f"{details} Next session due around {ctx.next_date.isoformat()} "
                           f"(every {pair.cadence_days} days).", sources))
        questions = opening_questions if opening_questions is not None else [
            s.question if isinstance(s, GoalSegment) else s.topic.starters[0]
            for s in topics if isinstance(s, GoalSegment) or s.topic.starters][:3]
        return {
            "pair_id": pair.id,
            "minutes": ctx.minutes,
            "items": items,
            "opening_questions": questions,
            "prep_notes": [{"note": h.text, "source": h.source, "heading": h.heading}
                           for h in ctx.prep],
        }

    def validate(self, ctx: AgendaContext, agenda: dict[str, Any]) -> list[str]:
        problems: list[str] = []
        items = agenda["items"]
        total = sum(i["minutes"] for i in items)
        if total != ctx.minutes:
            problems.append(f"minutes add up to {total}, not {ctx.minutes}")
        if any(i["minutes"] < 1 for i in items):
            problems.append("an item has less than one minute")
        if [i["kind"] for i in items if i["kind"] not in ("follow_up", "open_point", "topic")] != \
                ["check_in", "activity", "reflection", "wrap_up"]:
            problems.append("items are missing or out of order")
        followed = {i["action_item_id"] for i in items if i["kind"] == "follow_up"}
        if followed != {a.id for a in ctx.open_items}:
            problems.append("not every open action item has a follow-up")
        if [i["title"] for i in items if i["kind"] == "open_point"] != \
                [f"Left open: {p.text}" for p in ctx.open_points]:
            problems.append("the points left open last time are not all picked up")
        topic_items = [i for i in items if i["kind"] == "topic"]
        if not 1 <= len(topic_items) <= 2:
            problems.append("an agenda needs one or two main topics")
        known = {s.topic.id: s for s in ctx.candidates}
        for n, i in enumerate(topic_items):
            if i["topic_id"] is None:
                if ctx.goal_segment is None or n or i["title"] != ctx.goal_segment.title:
                    problems.append("only the main segment may be built from a goal, and only "
                                    "when no topic serves the goals")
            elif i["topic_id"] not in known:
                problems.append(f"topic {i['topic_id']} is not a candidate for this pair")
        if ctx.goal_segment is not None and (not topic_items or topic_items[0]["topic_id"]):
            problems.append("no catalogue topic serves the goals, but the agenda borrows one")
        if len({i["topic_id"] for i in topic_items}) != len(topic_items):
            problems.append("a topic appears twice")
        chosen = [known[i["topic_id"]] for i in topic_items if i["topic_id"] in known]
        ranked = ctx.candidates[:len(chosen)]
        if not (serves_as_well(chosen[:1], ranked[:1]) and serves_as_well(chosen, ranked)):
            problems.append("the chosen topics serve the goals less well than the ranking's")
        allowed_sources = (
            {h.source for h in ctx.guides.values()}
            | {s.topic.source for s in ctx.candidates} | {s.cites for s in ctx.candidates}
            | {goals_source(ctx.pair.id)}
            | {action_item_source(ctx.pair.id, a.id) for a in ctx.open_items}
            | {p.source for p in ctx.open_points}
            | set(ctx.goal_segment.sources if ctx.goal_segment else []))
        for i in items:
            if not i["sources"] and i["kind"] not in ("check_in", "reflection", "wrap_up"):
                problems.append(f"{i['kind']} item has no source")
            unknown = [s for s in i["sources"] if s not in allowed_sources]
            if unknown:
                problems.append(f"unknown source {unknown[0]}")
        grounding = [s.topic.text for s in ctx.candidates] + active_goals(ctx.pair) + (
            [ctx.goal_segment.question] if ctx.goal_segment else [])
        questions = agenda["opening_questions"]
        if len(questions) > 3 or len(set(q.casefold() for q in questions)) != len(questions):
            problems.append("opening questions repeat or are too many")
        for q in questions:
            if not q.strip().endswith("?") or not 10 <= len(q) <= 220:
                problems.append(f"not a usable question: {q[:60]!r}")
            elif unsafe_to_repeat(q) or not is_supported(q, grounding):
                problems.append(f"question not grounded in the topics or goals: {q[:60]!r}")
        return problems

    def plan(self, pair: PairRecord, minutes: int, *, today: dt.date | None = None,
             covered: Iterable[str] = (), lead: str | None = None) -> Guarded[dict]:
        """``lead``: what the mentor chose to lead the session with, one of ``alternatives``
        (a candidate topic's id, or GOAL_LEAD); None lets the coach choose."""
        ctx = self.context(pair, minutes, today or dt.date.today(), covered)
        if lead is not None:
            return self._finish(ctx, self._led_by(ctx, lead), lead)
        fixed: list[Suggestion | GoalSegment] = [ctx.goal_segment] if ctx.goal_segment else []
        n_topics = topics_for(minutes, len(fixed) + len(ctx.candidates))
        n_chosen = n_topics - len(fixed)  # how many catalogue topics the agenda takes
        composed = self.build(ctx, fixed + ctx.candidates[:n_chosen])
        by_id = {s.topic.id: s for s in ctx.candidates}

        def merge(data: dict, _composed: dict) -> dict:
            chosen = chosen_topics(data["topic_ids"], by_id)
            questions = [q.strip() for q in data.get("opening_questions", []) if q.strip()]
            return self.build(ctx, fixed + chosen, questions or None)

        schema = {
            "type": "object",
            "properties": {
                "topic_ids": topic_choice_schema(by_id, n_chosen),
                "opening_questions": {"type": "array", "maxItems": 3,
                                      "items": {"type": "string", "minLength": 10, "maxLength": 200}},
            },
            "required": ["topic_ids", "opening_questions"],
            "additionalProperties": False,
        }
        sources = sorted({s for i in composed["items"] for s in i["sources"]} |
                         {n["source"] for n in composed["prep_notes"]})
        result = guarded_generate(
            task="agenda", backend=self.backend, model=self.model, composed=composed,
            validate=lambda a: self.validate(ctx, a), schema=schema, merge=merge,
            max_tokens=160, sources=sources,
            messages=lambda: self.prompts.render(
                "agenda.j2", focus=", ".join(pair.focus), goals="\n".join(active_goals(pair)),
                candidates=[s.topic for s in ctx.candidates], n_topics=n_chosen),
        )
        return self._finish(ctx, result, None)

    def _led_by(self, ctx: AgendaContext, lead: str) -> Guarded[dict]:
        """The agenda led by what the mentor chose; the model is not asked to choose again."""
        by_id = {s.topic.id: s for s in ctx.candidates}
        first: Suggestion | GoalSegment | None
        if lead == GOAL_LEAD:
            first = self.segment_from_goal(ctx.pair, chosen=True)
            if first is None:
                raise InvalidInput("This pair has no goals to lead the session with; "
                                   "choose a topic instead.")
            ctx = replace(ctx, goal_segment=first)
        else:
            first = by_id.get(lead)
            if first is None:
                raise InvalidInput(f"Cannot lead the session with {lead[:80]!r}: choose one of "
                                   f"this pair's candidate topics ({', '.join(by_id)}) or "
                                   f"{GOAL_LEAD!r}.")
            ctx = replace(ctx, goal_segment=None)
        others = [s for s in ctx.candidates if s is not first]
        composed = self.build(ctx, [first, *others][:topics_for(ctx.minutes, 1 + len(others))])
        return guarded_generate(task="agenda", backend=self.backend, model=None,
                                composed=composed, validate=lambda a: self.validate(ctx, a))

    def _finish(self, ctx: AgendaContext, result: Guarded[dict], lead: str | None
                ) -> Guarded[dict]:
        result.provenance.sources = sorted(
            {s for i in result.value["items"] for s in i["sources"]} |
            {n["source"] for n in result.value["prep_notes"]})
        result.value["provenance"] = result.provenance.to_dict()
        result.value["next_date"] = ctx.next_date.isoformat()
        result.value["lead"] = lead
        result.value["alternatives"] = self.alternatives(ctx)
        return result


def topics_for(minutes: int, available: int) -> int:
    """How many main topics a session of ``minutes`` takes, of ``available``."""
    return 1 if minutes < TWO_TOPICS_FROM else min(2, available)


def leading_goal(pair: PairRecord) -> str | None:
    """The active goal that what comes next names most (the first such goal on a tie)."""
    goals = [g for g in active_goals(pair) if g.strip()]
    if not goals:
        return None
    coming = set(tokenize(" ".join(next_steps(pair))))
    return min(goals, key=lambda g: (-len(set(tokenize(g)) & coming), goals.index(g)))


def _item(kind: str, title: str, minutes: int, details: str, sources: list[str], *,
          topic_id: str | None = None, action_item_id: int | None = None) -> dict[str, Any]:
    return {"kind": kind, "title": title, "minutes": minutes, "details": details,
            "topic_id": topic_id, "action_item_id": action_item_id,
            "sources": list(dict.fromkeys(s for s in sources if s))}


def agenda_markdown(agenda: Agenda, pair: PairRecord | None = None) -> str:
    """The agenda as a mentor reads it: timed items with their sources, the opening
    questions, what else the session may be led with, prep notes, and how it was made."""
    who = f" — {pair.mentor.name} and {pair.mentee.name}" if pair else ""
    lines = [f"# Session agenda, {agenda.minutes} minutes{who}", ""]
    clock = 0
    for item in agenda.items:
        lines.append(f"**{clock:>3}–{clock + item.minutes} min · {item.title}** "
                     f"({item.minutes} min)")
        clock += item.minutes
        lines.append(item.details)
        if item.sources:
            lines.append(f"_Sources: {', '.join(item.sources)}_")
        lines.append("")
    if agenda.opening_questions:
        lines += ["## Opening questions", *[f"- {q}" for q in agenda.opening_questions], ""]
    if agenda.alternatives:
        lines.append("## Other ways to lead this session")
        lines += [f"- `{a.lead}`: {a.title}" for a in agenda.alternatives]
        lines.append("")
    if agenda.prep_notes:
        lines.append("## Prep notes for the mentor")
        lines += [f"- {n.note} _({n.source} › {n.heading.split(' > ')[-1]})_"
                  for n in agenda.prep_notes]
    p = agenda.provenance
    lines += ["", f"_Backend {p.backend}; fallback: {p.fallback}"
              + (f" ({p.fallback_reason})" if p.fallback_reason else "")
              + f"; {p.latency_ms} ms._"]
    return "\n".join(lines)
