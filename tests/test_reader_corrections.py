"""The author corrects what the reader found; the corrections are kept, private, and can be
folded into the classifiers by an opt-in retrain that refuses to make test worse."""

from __future__ import annotations

import json
import re

import pytest

from tests.api_world import browser, build_world, sign_in

TEXT = ("Good session. Mia showed me how phishing emails copy supplier invoices. I will forward "
        "two odd invoices to Mia by Friday. The projector died halfway through, which cost us "
        "ten minutes.")


@pytest.fixture
def world(tmp_path):
    return build_world(tmp_path)


def submit(world):
    r = world.client.post(f"/api/v1/pairs/{world.ids['pair']}/reflections",
                          headers=world.headers("mentee"),
                          json={"text": TEXT, "visibility": "pair"})
    assert r.status_code == 201
    return r.json()


def rid_of(made):
    return made["reflection_id"]


def corrections_of(world, reflection_id):
    from sqlalchemy import text

    with world.container.db.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            text("SELECT label, sentence, value FROM reader_corrections WHERE reflection_id = :r"),
            {"r": reflection_id})]


def test_the_author_corrects_items_blockers_and_sentiment_api(world):
    made = submit(world)
    rid, path = made["reflection_id"], f"/api/v1/pairs/{world.ids['pair']}/reflections/{rid_of(made)}"
    other = next(s for s in ("negative", "neutral", "positive") if s != made["sentiment"])
    body = {"action_items": [{"text": "Forward two odd invoices to Mia", "owner": "mentee",
                              "due": "2026-12-04"},
                             {"text": "Book a room with a working projector", "owner": "mentor"}],
            "blockers": ["The projector died halfway through"], "sentiment": other,
            "confirmed": True}
    r = world.client.patch(path, headers=world.headers("mentee"), json=body)
    assert r.status_code == 200, r.text
    summary = r.json()["summary"]
    assert [a["text"] for a in summary["action_items"]] == [a["text"] for a in body["action_items"]]
    assert summary["sentiment"] == other and r.json()["summary_confirmed"]
    items = world.client.get(f"/api/v1/pairs/{world.ids['pair']}/action-items",
                             headers=world.headers("mentor")).json()["items"]
    assert any(i["text"] == "Book a room with a working projector" and i["owner"] == "mentor"
               for i in items)
    rows = corrections_of(world, rid)
    assert rows and {r["label"] for r in rows} <= {"commitment", "obstacle", "sentiment"}
    assert any(r["label"] == "sentiment" and r["value"] == other for r in rows)
    # the corrections hold the author's words: nobody else sees them, and they go with it
    for role in ("mentor", "coordinator", "admin"):
        for url in (f"/api/v1/pairs/{world.ids['pair']}/reflections", "/api/v1/me/export"):
            assert "projector died" not in world.client.get(url, headers=world.headers(role)).text \
                or role == "mentor" and url.endswith("reflections")
    world.client.delete(path, headers=world.headers("mentee"))
    assert corrections_of(world, rid) == []


def test_bad_corrections_get_a_clear_error(world):
    made = submit(world)
    path = f"/api/v1/pairs/{world.ids['pair']}/reflections/{made['reflection_id']}"
    r = world.client.patch(path, headers=world.headers("mentee"),
                           json={"action_items": [{"text": "x", "owner": "boss"}]})
    assert r.status_code == 422 and "owner" in r.json()["error"]["message"]
    r = world.client.patch(path, headers=world.headers("mentor"), json={"sentiment": "negative"})
    assert r.status_code == 404  # not the author


def test_the_reflect_page_edits_items_blockers_and_sentiment(world):
    sam = browser(world)
    assert sign_in(sam, "sam@example.org", world.tokens["mentee"]).status_code == 303
    page = sam.get(f"/pairs/{world.ids['pair']}/reflect")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    result = sam.post(f"/pairs/{world.ids['pair']}/reflect",
                      data={"text": TEXT, "visibility": "pair", "csrf_token": csrf})
    assert result.status_code == 200 and 'name="item_text"' in result.text
    rid = re.search(r'/reflections/(\d+)"', result.text).group(1)
    form = {"csrf_token": csrf, "corrections": "1", "confirm": "1", "visibility": "pair",
            "item_text": ["Forward two odd invoices to Mia", "Ask IT about the projector", ""],
            "item_owner": ["mentee", "mentee", "mentee"], "item_due": ["", "2026-12-11", ""],
            "blocker": ["The projector died halfway through", ""], "sentiment": "negative"}
    r = sam.post(f"/pairs/{world.ids['pair']}/reflections/{rid}", data=form,
                 follow_redirects=False)
    assert r.status_code == 303
    stored = world.container.store.get_pair(world.ids["pair"]).reflection(int(rid))
    assert stored.summary["sentiment"] == "negative" and stored.summary_confirmed
    assert [a["text"] for a in stored.summary["action_items"]] == form["item_text"][:2]
    assert stored.summary["action_items"][1]["due"] == "2026-12-11"
    assert corrections_of(world, int(rid))


def test_retrain_folds_corrections_in_and_refuses_a_worse_model(monkeypatch):
    from coach.reader import training
    from coach.reader.model import LabelModel

    small = [training.Example(t, frozenset(labels)) for t, labels in [
        ("I will send the notes by Friday.", {"commitment"}),
        ("She'll book the room for next time.", {"commitment"}),
        ("We'll both read the policy.", {"commitment"}),
        ("The wifi dropped twice.", {"obstacle"}),
        ("He was late again.", {"obstacle"}),
        ("We lost twenty minutes to the fire drill.", {"obstacle"}),
        ("Great session.", {"positive"}), ("Really useful hour.", {"positive"}),
        ("I loved it.", {"positive"}), ("A waste of time.", {"negative"}),
        ("Frustrating hour.", {"negative"}), ("Pointless today.", {"negative"}),
        ("She is leaving in May.", {"ending"}), ("We agreed to stop.", {"ending"}),
        ("This was our last session.", {"ending"}), ("He never listens.", {"disengaged"}),
        ("She ignored everything I said.", {"disengaged"}), ("He just checks his phone.", {"disengaged"}),
        ("We looked at dashboards.", {"key_point"}), ("She explained the budget.", {"key_point"}),
        ("We covered passkeys.", {"key_point"}), ("Thanks!", set()), ("We met at 3.", set()),
        ("Hello.", set()), ("See you.", set())]]
    reflections = [{"text": t, "gold": {"sentiment": s}} for t, s in [
        ("Great session. I loved it.", "positive"), ("A waste of time.", "negative"),
        ("We met at 3. We covered passkeys.", "neutral")] * 2]
    monkeypatch.setattr(training, "domain_examples", lambda: small)
    monkeypatch.setattr(training, "read_jsonl", lambda _path: reflections)
    monkeypatch.setattr(training, "FOLDS", 2)
    rows = [{"label": "commitment", "sentence": "Priya to book the room.", "value": "yes",
             "detail": None}, {"label": "sentiment", "sentence": "Fine, I suppose.",
                               "value": "neutral", "detail": None}]
    current = LabelModel.load()
    better = {"test": {"action_items.f1": 0.8}, "dev": {}}
    worse = {"test": {"action_items.f1": 0.7}, "dev": {}}
    scores = iter([worse, better])
    accepted = training.retrain(current, rows, lambda _m: next(scores))
    assert accepted.accepted and accepted.model.meta["corrections"] == 2
    scores = iter([better, worse])
    refused = training.retrain(current, rows, lambda _m: next(scores))
    assert not refused.accepted and "worse on the test split" in refused.reason


def test_retrain_without_corrections_is_a_clear_error(world, run):
    code, _, err = run("reader", "retrain")
    assert code != 0 and "no corrections yet" in err.lower()


def test_a_programme_model_of_an_older_format_gives_way_to_the_shipped_one(settings, caplog):
    from coach.container import Container
    from coach.reader.model import FORMAT, PACKAGED

    older = json.loads(PACKAGED.read_text(encoding="utf-8"))
    older.pop("format")  # format 1: blockers came from a second model over label probabilities
    settings.ensure_data_dir()
    (settings.data_dir / "reader-model.json").write_text(json.dumps(older), encoding="utf-8")
    container = Container(settings)
    try:
        assert container.reader.model.format == FORMAT
        assert "older reader" in caplog.text
        current = dict(older, format=FORMAT)
        (settings.data_dir / "reader-model.json").write_text(json.dumps(current), encoding="utf-8")
        own = Container(settings)
        assert own.reader._model is not None  # its own model is read
        own.close()
    finally:
        container.close()
