"""A bounded concurrent load test over HTTP against a running coach API.

N simulated users (default 50) share the identities of a tokens file. Each one signs in with its
token, then does a fixed number of actions with short think times, as its role would:

* coordinators read the dashboard page, the programme overview, pair health and summaries;
* mentors look at their pair and its sessions and timeline, and prepare agendas (model call);
* mentees read their reflections and the timeline, and submit reflections (model call).

The plan is drawn from a seeded random generator, so a run is reproducible; exactly
``round(model_share * member actions)`` actions call the model, because the model server is
what bounds a run's length. Every request is timed; any non-2xx answer or exception is an error
(with examples kept). Afterwards every reflection the server acknowledged is read back through
the API, with the author's token, and compared with what was sent: a missing or different one is
a lost write. Every agenda the server said it saved must show on its session.

The tokens file is JSON: a list of objects with at least a ``token`` (``coach demo-signin
--json`` prints one), or such objects one after another (``coach tokens create EMAIL --json``
run once per person). The role and pairs of each token are read from the API (``/api/v1/me``,
``/api/v1/pairs``), so any other keys are ignored.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from coach.store.credentials import SETUP_PREFIX
from tools.stats import percentile

MEMBER_ROLES = ("mentor", "mentee")
ROLES = ("coordinator", "mentor", "mentee")

# Read actions per role, with their weights; the model action is mixed in separately.
READS: dict[str, list[tuple[str, float]]] = {
    "coordinator": [("dashboard", 0.4), ("overview", 0.3), ("health", 0.2), ("summaries", 0.1)],
    "mentor": [("pair", 0.3), ("sessions", 0.4), ("timeline", 0.3)],
    "mentee": [("reflections", 0.5), ("pair", 0.2), ("timeline", 0.3)],
}
MODEL_ACTION = {"mentor": "agenda", "mentee": "reflect"}

OPENERS = [
    "Today {mentor} walked me through {topic}.",
    "We spent most of the session on {topic}.",
    "{mentor} showed me how their team uses {topic}.",
    "Our conversation started with {topic} and went further than I expected.",
    "I came in sceptical about {topic}, and {mentor} was patient with my questions.",
]
MIDDLES = [
    "I realised I had been avoiding it because I did not want to look slow in front of my team.",
    "It was useful to hear how younger colleagues see our meetings and our tone on chat.",
    "We disagreed about how much to rely on it, which made the discussion better.",
    "The examples from the customer support team made it concrete for me.",
    "I felt more confident by the end, although I still have questions about privacy.",
    "We talked about how decisions get made in my department and who is left out of them.",
    "{mentor} was honest that the tool gets things wrong, and showed me how to check it.",
]
ACTIONS = [
    "I will try it on two of my own meetings before our next session.",
    "Next step: I will ask my team which of our rituals feel outdated to them.",
    "I will read the guideline {mentor} sent and bring one question next time.",
    "I agreed to shadow {mentor} at their team's stand-up next week.",
    "I will set up the shared folder and invite {mentor} by Friday.",
]
BLOCKERS = [
    "",
    "The security review for the tool is still pending, which blocks me from using it on "
    "client work.",
    "Finding time is hard this month because of the budget cycle.",
    "",
]
TOPICS = ["the meeting-notes assistant", "prompting a chat assistant", "our hybrid-work habits",
          "inclusive language in job adverts", "spotting phishing emails", "short-form video",
          "collaborative documents", "feedback across generations", "accessibility checks"]


def reflection_text(rng: random.Random, mentor_first_name: str) -> str:
    """A realistic, varied reflection of three to five sentences."""
    parts = [rng.choice(OPENERS), *rng.sample(MIDDLES, rng.randint(1, 2)), rng.choice(ACTIONS),
             rng.choice(BLOCKERS)]
    text = " ".join(p for p in parts if p)
    return text.format(mentor=mentor_first_name, topic=rng.choice(TOPICS))


@dataclass
class Identity:
    token: str
    role: str
    person_id: int
    name: str
    pairs: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Sample:
    kind: str
    ms: float
    ok: bool


@dataclass
class LoadTestResult:
    users: int
    actions_per_user: int
    identities: dict[str, int]
    wall_s: float
    requests: int
    errors: int
    throughput_rps: float
    by_kind: dict[str, dict[str, Any]]
    error_examples: list[dict[str, Any]]
    writes: dict[str, Any]

    @property
    def lost_writes(self) -> int:
        return int(self.writes["reflections_lost"]) + int(self.writes["agendas_lost"])

    @property
    def ok(self) -> bool:
        return self.errors == 0 and self.lost_writes == 0

    def to_dict(self) -> dict[str, Any]:
        return {"users": self.users, "actions_per_user": self.actions_per_user,
                "identities": self.identities, "wall_s": round(self.wall_s, 2),
                "requests": self.requests, "errors": self.errors,
                "throughput_rps": round(self.throughput_rps, 2), "by_kind": self.by_kind,
                "error_examples": self.error_examples, "writes": self.writes,
                "lost_writes": self.lost_writes, "ok": self.ok}


def read_tokens(path: Path) -> list[str]:
    """Tokens from a JSON list of objects with a ``token`` key, or from JSON objects one after
    another (what a shell loop of ``coach tokens create EMAIL --json`` writes)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"Cannot read the tokens file {path}: {exc}") from None
    decoder, items, pos = json.JSONDecoder(), [], 0
    try:
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                break
            value, pos = decoder.raw_decode(text, pos)
            items.extend(value if isinstance(value, list) else [value])
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON: {exc}") from None
    tokens = [item if isinstance(item, str) else item.get("token") if isinstance(item, dict)
              else None for item in items]
    if not tokens or not all(isinstance(t, str) and t for t in tokens):
        raise ValueError(f"{path} is not a JSON list of objects with a 'token'.")
    return list(dict.fromkeys(tokens))


class LoadTest:
    def __init__(self, base_url: str, tokens: list[str], *, users: int = 50, actions: int = 4,
                 model_share: float = 0.12, think_s: tuple[float, float] = (0.1, 0.6),
                 ramp_s: float = 2.0, timeout_s: float = 900.0, seed: int = 7,
                 log: Callable[[str], None] | None = None):
        if users < 1 or actions < 1:
            raise ValueError("users and actions must be at least 1")
        if not 0 <= model_share <= 1:
            raise ValueError("model_share must be between 0 and 1")
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.users, self.actions, self.model_share = users, actions, model_share
        self.think_s, self.ramp_s, self.timeout_s = think_s, ramp_s, timeout_s
        self.seed = seed
        self.log = log or (lambda _m: None)
        self.samples: list[Sample] = []
        self.errors: list[dict[str, Any]] = []
        self.reflections: list[dict[str, Any]] = []  # acknowledged: pair, id, token, text
        self.agendas: list[dict[str, Any]] = []  # acknowledged: pair, session_id, token

    # -- setup ------------------------------------------------------------------------------
    async def identities(self, client: httpx.AsyncClient) -> list[Identity]:
        found = []
        for token in self.tokens:
            try:
                if token.startswith(SETUP_PREFIX):  # what `coach tokens create` prints
                    swap = await client.post("/api/v1/tokens/exchange",
                                             json={"token": token, "label": "load test"})
                    if swap.status_code != 201:
                        raise ValueError(f"A one-time token from the file was refused "
                                         f"({swap.status_code}): {token[:12]}…")
                    token = swap.json()["token"]
                headers = {"Authorization": f"Bearer {token}"}
                me = await client.get("/api/v1/me", headers=headers)
            except httpx.HTTPError as exc:
                raise ValueError(f"Cannot reach {self.base_url} "
                                 f"({exc.__class__.__name__}).") from None
            if me.status_code != 200:
                raise ValueError(f"A token from the file was refused ({me.status_code}): "
                                 f"{token[:6]}…")
            person = me.json()
            if person["role"] not in ROLES:
                continue
            ident = Identity(token, person["role"], person["id"], person["name"])
            if ident.role in MEMBER_ROLES:
                pairs = await client.get("/api/v1/pairs", params={"status": "active"},
                                         headers=headers)
                if pairs.status_code != 200:
                    raise ValueError(f"Listing the pairs of {ident.name} failed "
                                     f"({pairs.status_code}).")
                ident.pairs = pairs.json()["items"]
                if not ident.pairs:
                    continue
            found.append(ident)
        if not found:
            raise ValueError("None of the tokens belongs to a coordinator, or to a mentor or "
                             "mentee with an active pair.")
        return found

    def plan(self, identities: list[Identity]) -> list[tuple[Identity, list[str]]]:
        """Users take identities round-robin, each with ``actions`` action kinds."""
        rng = random.Random(self.seed)
        ordered = sorted(identities, key=lambda i: (ROLES.index(i.role), i.person_id))
        users: list[tuple[Identity, list[str]]] = [(ordered[n % len(ordered)], [])
                                                   for n in range(self.users)]
        slots: dict[str, list[tuple[int, int]]] = {role: [] for role in MEMBER_ROLES}
        for u, (ident, kinds) in enumerate(users):
            names, weights = zip(*READS[ident.role], strict=True)
            kinds.extend(rng.choices(names, weights, k=self.actions))
            if ident.role in MEMBER_ROLES:
                slots[ident.role] += [(u, a) for a in range(self.actions)]
        for role, role_slots in slots.items():  # the same share of each role's actions
            for u, a in rng.sample(role_slots, round(self.model_share * len(role_slots))):
                users[u][1][a] = MODEL_ACTION[role]
        return users

    # -- one request --------------------------------------------------------------------------
    async def request(self, client: httpx.AsyncClient, kind: str, method: str, url: str,
                      token: str, **kwargs) -> httpx.Response | None:
        started = time.perf_counter()
        response = None
        problem = None
        try:
            response = await client.request(method, url, headers={
                "Authorization": f"Bearer {token}"}, **kwargs)
            if not 200 <= response.status_code < 300:
                problem = f"HTTP {response.status_code}: {response.text[:300]}"
        except Exception as exc:  # timeouts, resets: all count as errors
            problem = f"{exc.__class__.__name__}: {exc}"[:300]
        ms = (time.perf_counter() - started) * 1000
        self.samples.append(Sample(kind, ms, problem is None))
        if problem is not None:
            self.errors.append({"kind": kind, "method": method, "url": url, "error": problem})
            return None
        return response

    async def act(self, client: httpx.AsyncClient, rng: random.Random, ident: Identity,
                  kind: str) -> None:
        pair = rng.choice(ident.pairs) if ident.pairs else None
        api = "/api/v1"
        if kind == "dashboard":
            await self.request(client, kind, "GET", "/dashboard", ident.token)
        elif kind == "overview":
            await self.request(client, kind, "GET", f"{api}/health/overview", ident.token)
        elif kind == "health":
            await self.request(client, kind, "GET", f"{api}/health", ident.token,
                               params={"limit": 20})
        elif kind == "summaries":
            await self.request(client, kind, "GET", f"{api}/summaries", ident.token,
                               params={"limit": 20})
        elif kind == "pair":
            await self.request(client, kind, "GET", f"{api}/pairs/{pair['id']}", ident.token)
        elif kind == "sessions":
            await self.request(client, kind, "GET", f"{api}/pairs/{pair['id']}/sessions",
                               ident.token)
        elif kind == "timeline":
            await self.request(client, kind, "GET", f"{api}/pairs/{pair['id']}/timeline",
                               ident.token, params={"limit": 20})
        elif kind == "reflections":
            await self.request(client, kind, "GET", f"{api}/pairs/{pair['id']}/reflections",
                               ident.token)
        elif kind == "agenda":
            r = await self.request(client, kind, "POST", f"{api}/pairs/{pair['id']}/agenda",
                                   ident.token, json={"save": True})
            if r is not None:
                body = r.json()
                self.agendas.append({"pair_id": pair["id"], "session_id": body.get("session_id"),
                                     "token": ident.token,
                                     "provenance": body.get("provenance", {})})
        elif kind == "reflect":
            held = [p for p in ident.pairs if p.get("sessions_held")]
            if not held:  # nothing to reflect on yet: read instead
                await self.act(client, rng, ident, "reflections")
                return
            pair = rng.choice(held)
            text = reflection_text(rng, str(pair.get("mentor") or "My mentor").split()[0])
            visibility = rng.choice(["private", "pair", "programme"])
            r = await self.request(client, kind, "POST", f"{api}/pairs/{pair['id']}/reflections",
                                   ident.token, json={"text": text, "visibility": visibility})
            if r is not None:
                body = r.json()
                self.reflections.append({"pair_id": pair["id"], "id": body["reflection_id"],
                                         "token": ident.token, "text": text,
                                         "provenance": body.get("provenance", {})})
        else:  # pragma: no cover - plan() only draws known kinds
            raise ValueError(kind)

    async def user(self, client: httpx.AsyncClient, n: int, ident: Identity,
                   kinds: list[str]) -> None:
        rng = random.Random(f"{self.seed}-{n}")
        await asyncio.sleep(rng.uniform(0, self.ramp_s))
        for kind in kinds:
            await self.act(client, rng, ident, kind)
            await asyncio.sleep(rng.uniform(*self.think_s))

    # -- after the run --------------------------------------------------------------------------
    async def verify(self, client: httpx.AsyncClient) -> dict[str, Any]:
        lost: list[dict[str, Any]] = []
        for r in self.reflections:
            got = await client.get(f"/api/v1/pairs/{r['pair_id']}/reflections/{r['id']}",
                                   headers={"Authorization": f"Bearer {r['token']}"})
            if got.status_code != 200:
                lost.append({"reflection": r["id"], "status": got.status_code})
            elif " ".join((got.json().get("text") or "").split()) != " ".join(r["text"].split()):
                lost.append({"reflection": r["id"], "problem": "text differs"})
        agendas_lost = 0
        for a in self.agendas:
            got = await client.get(f"/api/v1/pairs/{a['pair_id']}/sessions",
                                   params={"limit": 200},
                                   headers={"Authorization": f"Bearer {a['token']}"})
            sessions = {s["id"]: s for s in got.json()["items"]} if got.status_code == 200 else {}
            if not sessions.get(a["session_id"], {}).get("has_agenda"):
                agendas_lost += 1
                lost.append({"agenda_session": a["session_id"], "pair": a["pair_id"]})
        fallbacks = {}
        for what, items in (("agenda", self.agendas), ("reflect", self.reflections)):
            reasons = [i["provenance"].get("fallback_reason") for i in items
                       if i["provenance"].get("fallback")]
            fallbacks[what] = {"count": len(reasons), "of": len(items),
                               "examples": sorted(set(map(str, reasons)))[:3]}
        return {"reflections_acknowledged": len(self.reflections),
                "reflections_lost": len(lost) - agendas_lost,
                "agendas_acknowledged": len(self.agendas), "agendas_lost": agendas_lost,
                "lost_examples": lost[:10], "model_fallbacks": fallbacks}

    async def run_async(self) -> LoadTestResult:
        limits = httpx.Limits(max_connections=self.users + 10,
                              max_keepalive_connections=self.users + 10)
        timeout = httpx.Timeout(self.timeout_s, connect=30.0)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=timeout,
                                     limits=limits) as client:
            identities = await self.identities(client)
            users = self.plan(identities)
            counts = {role: sum(1 for i, _ in users if i.role == role) for role in ROLES}
            self.log(f"{self.users} users ({counts}), {self.actions} actions each, on "
                     f"{len(identities)} identities")
            started = time.perf_counter()
            await asyncio.gather(*(self.user(client, n, ident, kinds)
                                   for n, (ident, kinds) in enumerate(users)))
            wall = time.perf_counter() - started
            writes = await self.verify(client)
        by_kind: dict[str, dict[str, Any]] = {}
        for kind in sorted({s.kind for s in self.samples}):
            ms = [s.ms for s in self.samples if s.kind == kind]
            by_kind[kind] = {"count": len(ms),
                             "errors": sum(1 for s in self.samples if s.kind == kind and not s.ok),
                             "p50_ms": round(percentile(ms, 50), 1),
                             "p95_ms": round(percentile(ms, 95), 1),
                             "max_ms": round(max(ms), 1)}
        examples: list[dict[str, Any]] = []
        for e in self.errors:  # at most three examples of each kind
            if sum(1 for x in examples if x["kind"] == e["kind"]) < 3:
                examples.append(e)
        return LoadTestResult(
            users=self.users, actions_per_user=self.actions,
            identities={role: sum(1 for i in identities if i.role == role) for role in ROLES},
            wall_s=wall, requests=len(self.samples), errors=len(self.errors),
            throughput_rps=len(self.samples) / wall if wall else 0.0, by_kind=by_kind,
            error_examples=examples, writes=writes)

    def run(self) -> LoadTestResult:
        return asyncio.run(self.run_async())

