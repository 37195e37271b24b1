"""One definition of "summarise and save": every path that summarises a reflection (the live
reflect, the demo loader, the doctor's repair, the evaluation's pair builder) reads it with the
pair's names, so a named person owns the same action items whichever path made the summary."""

import datetime as dt

from coach.operations.demo import summariser_for
from coach.operations.doctor import run_doctor
from evals.builders import build_pair

TEXT = ("Mia will send me her checklist for spotting made-up numbers by Friday. "
        "I will try the assistant on the March board pack.")


def owners(summary) -> list[tuple[str, str]]:
    return sorted((i["owner"], i["text"]) for i in summary["action_items"])


def test_every_path_reads_a_reflection_with_the_pairs_names(fake_container, programme):
    c, (_, people) = fake_container, programme
    pair = c.writes.add_pair(people["mia"].id, people["sam"].id, ["technology"],
                                goals=["Use AI on board packs"],
                                starts_on=dt.date.today() - dt.timedelta(days=30)).pair
    held = c.store.log_session(pair.id, dt.date.today() - dt.timedelta(days=1), "held")
    coach = c.features("none")
    live = owners(coach.reflect(pair.id, held.id, people["sam"].id, TEXT, visibility="pair"))
    assert ("mentor", next(t for o, t in live if "checklist" in t)) in live, live
    assert any(o == "mentee" and "board pack" in t for o, t in live), live

    def saved(pair_id):
        return [r for s in c.store.get_pair(pair_id).sessions for r in s.reflections]

    # the demo loader's summariser, on a reflection saved without a summary
    bare = c.store.add_reflection(pair.id, held.id, people["sam"].id, TEXT, visibility="pair")
    summariser_for(c.store, coach)(pair.id, bare)
    demo = next(r for r in saved(pair.id) if r.id == bare.id)
    assert owners(demo.summary) == live

    # the doctor's repair of a reflection that has no summary
    missing = c.store.add_reflection(pair.id, held.id, people["sam"].id, TEXT, visibility="pair")
    run_doctor(c, repair=True)
    doctor = next(r for r in saved(pair.id) if r.id == missing.id)
    assert owners(doctor.summary) == live

    # the evaluation's pair builder, on a case that names the pair
    case = {"id": "paths", "as_of": dt.date.today().isoformat(),
            "pair": {"mentor": "Mia Chen", "mentee": "Sam Okoro", "cadence_days": 14,
                     "started_on": (dt.date.today() - dt.timedelta(days=30)).isoformat()},
            "sessions": [{"date": (dt.date.today() - dt.timedelta(days=1)).isoformat(),
                          "status": "held"}],
            "reflections": [{"date": dt.date.today().isoformat(), "author_role": "mentee",
                             "text": TEXT}]}
    built = build_pair(c, case, coach=coach)
    (evaluated,) = saved(built.id)
    assert owners(evaluated.summary) == live
