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
from coach.domain.records import HealthInput, ReflectionFact
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


def compute_health(pair: HealthInput, as_of: dt.date,
                   t: HealthThresholds = HealthThresholds()) -> PairHealth:
    reasons: list[dict[str, str]] = []
    penalty = 0
    stalled = False
    cadence = max(1, pair.cadence_days)

    if pair.status == "closed":
        return PairHealth(pair.pair_id, "healthy", 100,
                          [{"signal": "closed", "detail": "The pair is closed."}], [])

    past = sorted((s for s in pair.sessions if s.date <= as_of), key=lambda s: s.date)
    held = [s for s in past if s.status == SessionStatus.held]
    upcoming = sorted(s.date for s in pair.sessions if s.status == SessionStatus.scheduled and s.date > as_of)
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
    planned_break = announced and restart_booked
    age = (as_of - pair.starts_on).days
    is_new = age <= t.new_pair_grace_ratio * cadence and len(held) <= 1

    # -- inactivity ----------------------------------------------------------------------
    what = f"{since} days since the last held session" if last_held else \
        f"no session held in the {since} days since the pair started"
    if is_new:
        pass
    elif planned_break:
        reasons.append({"signal": "inactivity", "detail": f"{what}, on a break a shared "
                        f"reflection announced; the restart is booked for {next_booked.isoformat()}"})
    elif ratio > t.gap_stalled_ratio and since >= t.gap_stalled_min_days and not booked_soon:
        stalled = True
        penalty += 60
        reasons.append({"signal": "inactivity", "detail": f"{what}, over {t.gap_stalled_ratio:g}x "
                        f"the {cadence}-day cadence"})
    elif ratio > t.gap_warn_ratio:
        weight = 40 if ratio > t.gap_alarm_ratio else 25
        if booked_soon:
            weight = 25  # a booking shortens a gap (an announced break is handled above)
            reasons.append({"signal": "inactivity", "detail": f"{what} ({ratio:.1f}x the cadence), "
                            f"but the next session is booked for {next_booked.isoformat()}"})
        else:
            reasons.append({"signal": "inactivity",
                            "detail": f"{what}, {ratio:.1f}x the {cadence}-day cadence"})
        penalty += weight

    # -- missed sessions in a row ----------------------------------------------------------
    missed = 0
    for s in reversed(past):
        if s.status in (SessionStatus.cancelled, SessionStatus.no_show):
            missed += 1
        elif s.status == SessionStatus.held:
            break
    no_shows = sum(1 for s in past[len(past) - missed:] if s.status == SessionStatus.no_show) if missed else 0
    if missed >= t.missed_stalled and not booked_soon:
        stalled = True
        penalty += 45
        reasons.append({"signal": "missed_sessions", "detail": f"{missed} cancellations or no-shows "
                        f"in a row ({no_shows} no-shows) and nothing booked soon"})
    elif missed >= t.missed_warn:
        penalty += 25 if not booked_soon else 15
        reasons.append({"signal": "missed_sessions",
                        "detail": f"{missed} cancellations or no-shows in a row ({no_shows} no-shows)"})

    # -- an ending, a pause, doubt about the booking, disengagement ----------------------------
    if announced:
        if next_booked is None or doubtful:
            stalled = True
            penalty += 60
            booking = "the booked session is in doubt" if doubtful else "no session is booked"
            says = "suggests" if hinted else "says"
            reasons.append({"signal": "ending", "detail": f"a shared reflection {says} the "
                            f"pairing is ending, pausing or losing a member, and {booking}"})
        elif not planned_break:
            penalty += 30
            reasons.append({"signal": "ending", "detail": "a shared reflection says the pairing "
                            "is ending, pausing or losing a member, though a session is booked "
                            f"for {next_booked.isoformat()}"})
        else:
            reasons.append({"signal": "ending", "detail": "a shared reflection says the pairing "
                            f"is pausing; the restart is booked for {next_booked.isoformat()}"})
    elif doubtful and len(upcoming) == 1 and any(r.expects_next_dropped for r in news):
        # the one booked session will probably not happen, and nothing else is planned
        stalled = True
        penalty += 60
        reasons.append({"signal": "no_next_session", "detail": "a shared reflection expects "
                        f"the session booked for {next_booked.isoformat()} not to happen, "
                        "and no other is booked"})
    elif doubtful:
        penalty += 30
        reasons.append({"signal": "no_next_session", "detail": "a shared reflection doubts "
                        f"that the session booked for {next_booked.isoformat()} will happen"})
    recent = shared[-t.reflection_window:]
    overdue = [a for a in pair.action_items if a.due and a.due < as_of and
               (not a.done or (a.done_at is not None and a.done_at > as_of))]

    def quiet(r: ReflectionFact) -> bool:  # a hint counts once sessions are being missed
        return r.disengaged or (missed >= t.missed_warn and r.hints_disengaged)

    unheard = [r for r in recent if quiet(r)]
    if unheard and any(quiet(r) for r in news) and since > cadence and not is_new:
        # the latest word is that one side has gone quiet, and they have not met since
        stalled = True
        penalty += 45
        says = "says" if any(r.disengaged for r in news) else "suggests"
        reasons.append({"signal": "disengagement", "detail": f"the latest shared reflection "
                        f"{says} one side has disengaged, and no session has been held since"})
    elif len(unheard) >= 2 or any(quiet(r) for r in shared if r.date == shared[-1].date):
        # one bad session in a good run is no warning sign; a repeated or the latest one is
        penalty += 20
        reasons.append({"signal": "disengagement", "detail": f"{len(unheard)} of the last "
                        f"{len(recent)} shared reflections say one side is disengaged or "
                        "feels unheard"})
    elif overdue and any(r.hints_disengaged for r in recent):
        # going through the motions, borne out by work left undone
        penalty += 20
        reasons.append({"signal": "disengagement", "detail": "a recent shared reflection "
                        "suggests one side is disengaged or feels unheard, and an action item "
                        "is overdue"})

    # -- next session ----------------------------------------------------------------------
    if next_booked is None and not is_new and since > cadence:
        penalty += 10
        reasons.append({"signal": "no_next_session", "detail": "no next session is scheduled"})
    elif next_booked is not None and (next_booked - as_of).days > 2 * cadence:
        penalty += 5
        reasons.append({"signal": "no_next_session", "detail": f"the next session is not until "
                        f"{next_booked.isoformat()}"})

    # -- reflections -------------------------------------------------------------------------
    recent_held = held[-t.reflection_window:]
    if len(recent_held) >= 2:
        window_start = recent_held[0].date
        reflected = {r.date for r in pair.reflections}
        covered = sum(1 for s in recent_held
                      if any(0 <= (d - s.date).days <= max(7, cadence) for d in reflected))
        roles = {r.author_role for r in pair.reflections if r.date >= window_start}
        if covered / len(recent_held) < 0.5:
            penalty += 10
            reasons.append({"signal": "reflections", "detail": f"reflections for only {covered} of "
                            f"the last {len(recent_held)} held sessions"})
        elif len(roles) == 1 and len(recent_held) >= 3:
            missing = "mentee" if "mentor" in roles else "mentor"
            penalty += 10
            reasons.append({"signal": "reflections", "detail": f"no reflection from the {missing} "
                            f"in the last {len(recent_held)} held sessions"})

    # -- sentiment and blockers (non-private summaries only) ---------------------------------
    labelled = [r for r in sorted(pair.reflections, key=lambda r: r.date)
                if not r.private and r.sentiment and r.date <= as_of][-t.reflection_window:]
    if labelled:
        negative = sum(1 for r in labelled if r.sentiment == "negative")
        share = negative / len(labelled)
        if share >= t.negative_share_warn and negative >= 2 or (len(labelled) == 1 and negative == 1
                                                                 and len(held) >= 2):
            penalty += 20
            reasons.append({"signal": "sentiment", "detail": f"{negative} of the last "
                            f"{len(labelled)} summaries are negative"})
        elif len(labelled) >= 3 and labelled[-1].sentiment == "negative" and \
                labelled[0].sentiment == "positive":
            penalty += 10
            reasons.append({"signal": "sentiment", "detail": "sentiment fell from positive to "
                            "negative over the last summaries"})
        blockers = sum(r.blockers for r in labelled[-3:])
        if blockers >= t.blockers_warn:
            penalty += 10
            reasons.append({"signal": "blockers", "detail": f"{blockers} blockers flagged in the "
                            "last summaries"})

    # -- action items and goals --------------------------------------------------------------
    if len(overdue) >= t.overdue_warn:
        penalty += 30  # several overdue items are reason enough to step in
        oldest = max((as_of - a.due).days for a in overdue if a.due)
        reasons.append({"signal": "overdue_actions", "detail": f"{len(overdue)} action items "
                        f"overdue, the oldest by {oldest} days"})
    if len(held) >= t.goals_stalled_after and pair.goal_statuses and \
            all(g == "open" for g in pair.goal_statuses):
        penalty += 10
        reasons.append({"signal": "goal_progress", "detail": f"no goal has moved after "
                        f"{len(held)} held sessions"})
    elif pair.goal_statuses and all(g in ("achieved", "dropped") for g in pair.goal_statuses):
        reasons.append({"signal": "goal_progress", "detail": "every goal is achieved or dropped"})

    score = max(0, 100 - penalty)
    if stalled or score < t.stalled_below:
        status = "stalled"
    elif score < t.at_risk_below:
        status = "at_risk"
    else:
        status = "healthy"
    if not reasons:
        detail = "new pair, settling in" if is_new else f"last held {since} days ago, on cadence"
        reasons.append({"signal": "on_track", "detail": detail})
    actions = suggest_actions(reasons, status, ratio, cadence, missed, t)
    # Risk orders pairs within a status: lower score, longer gap first.
    risk = (100 - score) + min(ratio, 10)
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
