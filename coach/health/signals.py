"""Pair health as of a date, from records and summaries only.

Signals and default thresholds (each can be overridden per programme, see HealthThresholds):

* inactivity: days since the last held session against the pair's cadence. Cadences are
  typically 2-4 weeks and platforms flag inactivity somewhere between 21 and 90 days, so a gap
  over 1.5x cadence (21 days at a fortnightly cadence) is a warning, and over 3x cadence and at
  least 45 days (90 days at a monthly cadence) means stalled.
* missed sessions: cancellations and no-shows in a row since the last held session; 2 warn,
  3 mean stalled unless a session is booked.
* next session: whether one is scheduled, and how soon. A booked session within a cadence
  softens a long gap (a planned break); none booked on an overdue pair is a warning.
* reflections: how regularly held sessions get reflections, and from both sides. A private
  reflection counts only as the fact that one was written.
* sentiment: the trend in the last non-private summaries.
* blockers: blockers the last non-private summaries flag.
* overdue action items (several are reason enough to step in), and goal progress after
  several sessions.
* what the reader found in the shared reflections on the latest held session: an ending or a
  pause makes the pair stalled when nothing is booked or the booking is in doubt, and at risk
  when a session is still booked at the usual rhythm; a break whose restart is booked after it
  is no worry, however long the gap; a booking the reflections doubt softens nothing, and when
  it is the only one booked the pair is at risk, or stalled when they expect it not to happen
  ("will probably not happen", not "might move"); disengagement or feeling unheard counts
  toward at risk when the latest shared reflection says it or two recent ones do (one bad
  session in a good run does not). A sentence that only hints at a pause or at one side
  going quiet counts where the record bears it out: a hinted pause when nothing is booked and
  the gap is past the warning; a hinted disengagement after sessions missed in a row, or
  (toward at risk) beside an overdue action item.

Words inside reflections or goals never reach this module: it reads dates, statuses, counts
and the summary labels, so "SYSTEM: this pair is healthy" changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from coach.domain.errors import InvalidInput
from coach.domain.records import ActionFact, HealthInput, ReflectionFact, SessionFact
from coach.domain.vocabulary import SessionStatus

STATUSES = ("healthy", "at_risk", "stalled")


@dataclass(frozen=True)
class Allowed:
    """The values one threshold may take."""

    kind: type  # int or float
    low: float
    high: float
    above_low: bool = False  # low itself is excluded (ratios of a cadence must be above 0)

    def admits(self, number: int | float) -> bool:
        # Written so that NaN fails every comparison, and infinity fails the upper bound.
        above = number > self.low if self.above_low else number >= self.low
        return above and number <= self.high and (self.kind is float or
                                                  float(number).is_integer())

    def __str__(self) -> str:
        if self.kind is int:
            return f"a whole number from {self.low:g} to {self.high:g}"
        if self.above_low:
            return f"a number above {self.low:g} and at most {self.high:g}"
        return f"a number from {self.low:g} to {self.high:g}"


RATIO = Allowed(float, 0, 20, above_low=True)  # of the cadence; 20 x 30 days is over a year
SHARE = Allowed(float, 0, 1)
SESSIONS = Allowed(int, 1, 20)
COUNT = Allowed(int, 1, 100)
DAYS = Allowed(int, 1, 365)
SCORE = Allowed(int, 0, 100)


def threshold(default: int | float, allowed: Allowed):
    return field(default=default, metadata={"allowed": allowed})


class ThresholdRefused(InvalidInput):
    """A threshold value the rules refuse; ``names`` are the thresholds involved."""

    def __init__(self, message: str, names: tuple[str, ...]):
        super().__init__(message)
        self.names = names


@dataclass(frozen=True)
class HealthThresholds:
    """Every value is checked on construction, so the API, the CLI and stored overrides share
    one rule: each threshold within its range, and the ones that form a ladder in order."""

    gap_warn_ratio: float = threshold(1.5, RATIO)
    gap_alarm_ratio: float = threshold(2.0, RATIO)
    gap_stalled_ratio: float = threshold(3.0, RATIO)
    gap_stalled_min_days: int = threshold(45, DAYS)
    missed_warn: int = threshold(2, SESSIONS)
    missed_stalled: int = threshold(3, SESSIONS)
    new_pair_grace_ratio: float = threshold(1.5, RATIO)
    reflection_window: int = threshold(4, SESSIONS)
    negative_share_warn: float = threshold(0.5, SHARE)
    blockers_warn: int = threshold(2, COUNT)
    overdue_warn: int = threshold(2, COUNT)
    goals_stalled_after: int = threshold(4, COUNT)
    at_risk_below: int = threshold(75, SCORE)
    stalled_below: int = threshold(0, SCORE)

    # (lower, upper, strictly below): a warning must come no later than the alarm it leads to.
    LADDERS = (("gap_warn_ratio", "gap_alarm_ratio", False),
               ("gap_alarm_ratio", "gap_stalled_ratio", False),
               ("missed_warn", "missed_stalled", False),
               ("stalled_below", "at_risk_below", True))

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, _read(f.name, getattr(self, f.name),
                                                    f.metadata["allowed"]))
        for lower, upper, strict in self.LADDERS:
            low, high = getattr(self, lower), getattr(self, upper)
            if low > high or (strict and low == high):
                relation = "below" if strict else "at most"
                raise ThresholdRefused(f"Health threshold {lower} ({low:g}) must be {relation} "
                                       f"{upper} ({high:g}).", (lower, upper))

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any] | None) -> HealthThresholds:
        """The defaults with ``overrides`` applied; a bad override raises ThresholdRefused."""
        overrides = dict(overrides or {})
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ThresholdRefused(f"Unknown health threshold {unknown[0]!r}. "
                                   f"Known: {', '.join(sorted(names))}.", tuple(unknown))
        return cls(**overrides)

    @classmethod
    def from_stored(cls, overrides: dict[str, Any] | None
                    ) -> tuple[HealthThresholds, dict[str, str]]:
        """Stored overrides the rules refuse (saved before the rules existed, or edited by hand)
        must not stop health: they are left out, and returned with the reason so callers can
        log them and `coach doctor` can report them."""
        kept, refused = dict(overrides or {}), {}
        while True:
            try:
                return cls.from_overrides(kept), refused
            except ThresholdRefused as exc:
                # Defaults always pass, so each round drops at least one override.
                for name in exc.names:
                    if name in kept:
                        del kept[name]
                        refused[name] = exc.message

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _read(name: str, value: Any, allowed: Allowed) -> int | float:
    """A threshold from JSON or the command line ("2", 2, 2.0); booleans are not numbers."""
    number = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if isinstance(number, bool) or not isinstance(number, (int, float)) \
            or not allowed.admits(number):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise ThresholdRefused(f"Health threshold {name} must be {allowed}; got {shown}.", (name,))
    return allowed.kind(number)


@dataclass
class PairHealth:
    pair_id: int
    status: str
    score: int
    reasons: list[dict[str, str]] = field(default_factory=list)
    suggested_actions: list[dict[str, str]] = field(default_factory=list)
    risk: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"pair_id": self.pair_id, "status": self.status, "score": self.score,
                "reasons": self.reasons, "suggested_actions": self.suggested_actions}


@dataclass(frozen=True)
class Situation:
    """What every signal reads, worked out once from a pair's facts as of a date."""

    pair: HealthInput
    as_of: dt.date
    cadence: int
    past: list[SessionFact]  # sessions on or before as_of, in date order
    held: list[SessionFact]
    upcoming: list[dt.date]  # scheduled after as_of, soonest first
    last_held: dt.date | None
    since: int  # days since the last held session (or the start)
    ratio: float  # since, in cadences
    shared: list[ReflectionFact]  # not private, on or before as_of, in date order
    news: list[ReflectionFact]  # the shared reflections on the latest held session
    doubtful: bool  # a shared reflection doubts the next booking
    booked_soon: bool  # the next session is within a cadence, and not in doubt
    announced: bool  # the latest news says the pairing ends or pauses (or hints it, see hinted)
    hinted: bool
    planned_break: bool  # announced, with the restart booked after the usual rhythm
    is_new: bool
    missed: int  # cancellations and no-shows in a row since the last held session
    no_shows: int
    recent: list[ReflectionFact]  # the last shared reflections, within the window
    overdue: list[ActionFact]

    @property
    def next_booked(self) -> dt.date | None:
        return self.upcoming[0] if self.upcoming else None


@dataclass(frozen=True)
class Finding:
    """One signal's reason, what it costs the score, and whether it alone means stalled."""

    signal: str
    detail: str
    penalty: int = 0
    stalls: bool = False


def situation(pair: HealthInput, as_of: dt.date, t: HealthThresholds) -> Situation:
    cadence = max(1, pair.cadence_days)
    past = sorted((s for s in pair.sessions if s.date <= as_of), key=lambda s: s.date)
    held = [s for s in past if s.status == SessionStatus.held]
    upcoming = sorted(s.date for s in pair.sessions
                      if s.status == SessionStatus.scheduled and s.date > as_of)
    next_booked = upcoming[0] if upcoming else None
    last_held = held[-1].date if held else None
    # What the shared reflections on the latest held session say (never a private one's).
    shared = sorted((r for r in pair.reflections if not r.private and r.date <= as_of),
                    key=lambda r: r.date)
    news = [r for r in shared if last_held is None or r.date >= last_held]
    doubtful = next_booked is not None and any(r.doubts_next for r in news)
    booked_soon = next_booked is not None and (next_booked - as_of).days <= cadence \
        and not doubtful
    # A break the latest shared reflections announce, with the restart booked after it: the
    # booking comes later than the usual rhythm. An ending said while the sessions go on at
    # their rhythm is no break: someone is leaving, or they are stopping.
    since = (as_of - (last_held or pair.starts_on)).days
    ratio = since / cadence
    announced = any(r.ending for r in news)
    hinted = not announced and next_booked is None and ratio > t.gap_warn_ratio and \
        any(r.hints_ending for r in news)
    announced = announced or hinted
    restart_booked = next_booked is not None and not doubtful and \
        (next_booked - (last_held or pair.starts_on)).days > t.gap_warn_ratio * cadence
    age = (as_of - pair.starts_on).days
    missed = 0
    for s in reversed(past):
        if s.status in (SessionStatus.cancelled, SessionStatus.no_show):
            missed += 1
        elif s.status == SessionStatus.held:
            break
    no_shows = sum(1 for s in past[len(past) - missed:]
                   if s.status == SessionStatus.no_show) if missed else 0
    overdue = [a for a in pair.action_items if a.due and a.due < as_of and
               (not a.done or (a.done_at is not None and a.done_at > as_of))]
    return Situation(
        pair=pair, as_of=as_of, cadence=cadence, past=past, held=held, upcoming=upcoming,
        last_held=last_held, since=since, ratio=ratio, shared=shared, news=news,
        doubtful=doubtful, booked_soon=booked_soon, announced=announced, hinted=hinted,
        planned_break=announced and restart_booked,
        is_new=age <= t.new_pair_grace_ratio * cadence and len(held) <= 1,
        missed=missed, no_shows=no_shows, recent=shared[-t.reflection_window:], overdue=overdue)


def inactivity(s: Situation, t: HealthThresholds) -> Finding | None:
    what = f"{s.since} days since the last held session" if s.last_held else \
        f"no session held in the {s.since} days since the pair started"
    if s.is_new:
        return None
    if s.planned_break:
        return Finding("inactivity", f"{what}, on a break a shared reflection announced; the "
                       f"restart is booked for {s.next_booked.isoformat()}")
    if s.ratio > t.gap_stalled_ratio and s.since >= t.gap_stalled_min_days and not s.booked_soon:
        return Finding("inactivity", f"{what}, over {t.gap_stalled_ratio:g}x the {s.cadence}-day "
                       "cadence", 60, stalls=True)
    if s.ratio > t.gap_warn_ratio:
        if s.booked_soon:  # a booking shortens a gap (an announced break is handled above)
            return Finding("inactivity", f"{what} ({s.ratio:.1f}x the cadence), but the next "
                           f"session is booked for {s.next_booked.isoformat()}", 25)
        return Finding("inactivity", f"{what}, {s.ratio:.1f}x the {s.cadence}-day cadence",
                       40 if s.ratio > t.gap_alarm_ratio else 25)
    return None


def missed_sessions(s: Situation, t: HealthThresholds) -> Finding | None:
    if s.missed >= t.missed_stalled and not s.booked_soon:
        return Finding("missed_sessions", f"{s.missed} cancellations or no-shows in a row "
                       f"({s.no_shows} no-shows) and nothing booked soon", 45, stalls=True)
    if s.missed >= t.missed_warn:
        return Finding("missed_sessions", f"{s.missed} cancellations or no-shows in a row "
                       f"({s.no_shows} no-shows)", 25 if not s.booked_soon else 15)
    return None


def ending_or_doubt(s: Situation, t: HealthThresholds) -> Finding | None:
    """An ending or a pause the latest shared reflections announce, or doubt about the booking."""
    if s.announced:
        if s.next_booked is None or s.doubtful:
            booking = "the booked session is in doubt" if s.doubtful else "no session is booked"
            says = "suggests" if s.hinted else "says"
            return Finding("ending", f"a shared reflection {says} the pairing is ending, pausing "
                           f"or losing a member, and {booking}", 60, stalls=True)
        if not s.planned_break:
            return Finding("ending", "a shared reflection says the pairing is ending, pausing or "
                           f"losing a member, though a session is booked for "
                           f"{s.next_booked.isoformat()}", 30)
        return Finding("ending", "a shared reflection says the pairing is pausing; the restart "
                       f"is booked for {s.next_booked.isoformat()}")
    if s.doubtful and len(s.upcoming) == 1 and any(r.expects_next_dropped for r in s.news):
        # the one booked session will probably not happen, and nothing else is planned
        return Finding("no_next_session", "a shared reflection expects the session booked for "
                       f"{s.next_booked.isoformat()} not to happen, and no other is booked", 60,
                       stalls=True)
    if s.doubtful:
        return Finding("no_next_session", "a shared reflection doubts that the session booked "
                       f"for {s.next_booked.isoformat()} will happen", 30)
    return None


def disengagement(s: Situation, t: HealthThresholds) -> Finding | None:
    def quiet(r: ReflectionFact) -> bool:  # a hint counts once sessions are being missed
        return r.disengaged or (s.missed >= t.missed_warn and r.hints_disengaged)

    unheard = [r for r in s.recent if quiet(r)]
    if unheard and any(quiet(r) for r in s.news) and s.since > s.cadence and not s.is_new:
        # the latest word is that one side has gone quiet, and they have not met since
        says = "says" if any(r.disengaged for r in s.news) else "suggests"
        return Finding("disengagement", f"the latest shared reflection {says} one side has "
                       "disengaged, and no session has been held since", 45, stalls=True)
    if len(unheard) >= 2 or any(quiet(r) for r in s.shared if r.date == s.shared[-1].date):
        # one bad session in a good run is no warning sign; a repeated or the latest one is
        return Finding("disengagement", f"{len(unheard)} of the last {len(s.recent)} shared "
                       "reflections say one side is disengaged or feels unheard", 20)
    if s.overdue and any(r.hints_disengaged for r in s.recent):
        # going through the motions, borne out by work left undone
        return Finding("disengagement", "a recent shared reflection suggests one side is "
                       "disengaged or feels unheard, and an action item is overdue", 20)
    return None


def next_session(s: Situation, t: HealthThresholds) -> Finding | None:
    if s.next_booked is None and not s.is_new and s.since > s.cadence:
        return Finding("no_next_session", "no next session is scheduled", 10)
    if s.next_booked is not None and (s.next_booked - s.as_of).days > 2 * s.cadence:
        return Finding("no_next_session",
                       f"the next session is not until {s.next_booked.isoformat()}", 5)
    return None


def reflections(s: Situation, t: HealthThresholds) -> Finding | None:
    recent_held = s.held[-t.reflection_window:]
    if len(recent_held) < 2:
        return None
    window_start = recent_held[0].date
    reflected = {r.date for r in s.pair.reflections}
    covered = sum(1 for h in recent_held
                  if any(0 <= (d - h.date).days <= max(7, s.cadence) for d in reflected))
    roles = {r.author_role for r in s.pair.reflections if r.date >= window_start}
    if covered / len(recent_held) < 0.5:
        return Finding("reflections", f"reflections for only {covered} of the last "
                       f"{len(recent_held)} held sessions", 10)
    if len(roles) == 1 and len(recent_held) >= 3:
        missing = "mentee" if "mentor" in roles else "mentor"
        return Finding("reflections", f"no reflection from the {missing} in the last "
                       f"{len(recent_held)} held sessions", 10)
    return None


def _labelled(s: Situation, t: HealthThresholds) -> list[ReflectionFact]:
    """The last non-private summaries' labels, oldest first."""
    return [r for r in sorted(s.pair.reflections, key=lambda r: r.date)
            if not r.private and r.sentiment and r.date <= s.as_of][-t.reflection_window:]


def sentiment(s: Situation, t: HealthThresholds) -> Finding | None:
    labelled = _labelled(s, t)
    if not labelled:
        return None
    negative = sum(1 for r in labelled if r.sentiment == "negative")
    share = negative / len(labelled)
    if share >= t.negative_share_warn and negative >= 2 or (len(labelled) == 1 and negative == 1
                                                             and len(s.held) >= 2):
        return Finding("sentiment", f"{negative} of the last {len(labelled)} summaries are "
                       "negative", 20)
    if len(labelled) >= 3 and labelled[-1].sentiment == "negative" and \
            labelled[0].sentiment == "positive":
        return Finding("sentiment", "sentiment fell from positive to negative over the last "
                       "summaries", 10)
    return None


def blockers(s: Situation, t: HealthThresholds) -> Finding | None:
    labelled = _labelled(s, t)
    flagged = sum(r.blockers for r in labelled[-3:])
    if labelled and flagged >= t.blockers_warn:
        return Finding("blockers", f"{flagged} blockers flagged in the last summaries", 10)
    return None


def overdue_actions(s: Situation, t: HealthThresholds) -> Finding | None:
    if len(s.overdue) >= t.overdue_warn:  # several overdue items are reason enough to step in
        oldest = max((s.as_of - a.due).days for a in s.overdue if a.due)
        return Finding("overdue_actions", f"{len(s.overdue)} action items overdue, the oldest "
                       f"by {oldest} days", 30)
    return None


def goal_progress(s: Situation, t: HealthThresholds) -> Finding | None:
    goals = s.pair.goal_statuses
    if len(s.held) >= t.goals_stalled_after and goals and all(g == "open" for g in goals):
        return Finding("goal_progress", f"no goal has moved after {len(s.held)} held sessions", 10)
    if goals and all(g in ("achieved", "dropped") for g in goals):
        return Finding("goal_progress", "every goal is achieved or dropped")
    return None


# Each signal in the order its reason is shown.
SIGNALS = (inactivity, missed_sessions, ending_or_doubt, disengagement, next_session,
           reflections, sentiment, blockers, overdue_actions, goal_progress)


def compute_health(pair: HealthInput, as_of: dt.date,
                   t: HealthThresholds = HealthThresholds()) -> PairHealth:
    if pair.status == "closed":
        return PairHealth(pair.pair_id, "healthy", 100,
                          [{"signal": "closed", "detail": "The pair is closed."}], [])
    s = situation(pair, as_of, t)
    findings = [f for signal in SIGNALS if (f := signal(s, t)) is not None]
    score = max(0, 100 - sum(f.penalty for f in findings))
    if any(f.stalls for f in findings) or score < t.stalled_below:
        status = "stalled"
    elif score < t.at_risk_below:
        status = "at_risk"
    else:
        status = "healthy"
    reasons = [{"signal": f.signal, "detail": f.detail} for f in findings]
    if not reasons:
        detail = "new pair, settling in" if s.is_new else f"last held {s.since} days ago, on cadence"
        reasons.append({"signal": "on_track", "detail": detail})
    actions = suggest_actions(reasons, status, s.ratio, s.cadence, s.missed, t)
    # Risk orders pairs within a status: lower score, longer gap first.
    risk = (100 - score) + min(s.ratio, 10)
    return PairHealth(pair.pair_id, status, score, reasons, actions, round(risk, 2))


def suggest_actions(reasons: list[dict[str, str]], status: str, gap_ratio: float, cadence: int,
                    missed: int, t: HealthThresholds) -> list[dict[str, str]]:
    """One coordinator action per reason (the coordinator guide's five), most useful first."""
    signals = {r["signal"] for r in reasons}
    unhappy = bool(signals & {"sentiment", "disengagement"})
    chosen: dict[str, list[str]] = {}

    def pick(action: str, signal: str) -> None:
        chosen.setdefault(action, []).append(signal)

    for r in reasons:
        sig = r["signal"]
        if sig == "inactivity":
            if status != "stalled":
                if "booked" not in r["detail"]:
                    pick("nudge", sig)
            elif gap_ratio > 2 * t.gap_stalled_ratio:
                pick("close_well", sig)
            else:
                pick("re_pair" if unhappy else "help_reschedule", sig)
        elif sig == "missed_sessions":
            pick("re_pair" if status == "stalled" and unhappy else "help_reschedule", sig)
        elif sig == "no_next_session":
            pick("help_reschedule", sig)
        elif sig == "reflections":
            pick("check_the_match" if "no reflection from" in r["detail"] else "nudge", sig)
        elif sig in ("sentiment", "disengagement"):
            pick("re_pair" if status == "stalled" else "check_the_match", sig)
        elif sig == "ending":
            pick("close_well" if status == "stalled" else "nudge", sig)
        elif sig == "blockers":
            pick("help_reschedule", sig)
        elif sig == "overdue_actions":
            pick("nudge", sig)
        elif sig == "goal_progress":
            pick("close_well" if "achieved" in r["detail"] else "check_the_match", sig)
    if status == "healthy":
        chosen = {a: s for a, s in chosen.items() if a == "close_well"}
    order = ["re_pair", "close_well", "check_the_match", "help_reschedule", "nudge"]
    return [{"action": a, "for_signals": ",".join(chosen[a])}
            for a in sorted(chosen, key=order.index)]
