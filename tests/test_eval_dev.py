"""The harness end to end: the dev set with committed thresholds (none; the embedded model's
rates are in tests/test_integration_llm.py), a user dataset with its own corpus, the HTML report
and the judge."""

import json
import shutil
from pathlib import Path

import pytest

from coach import cli
from coach.adapters.fakes import FakeChatModel
from evals.datasets import DEV_DATASET, SUITE_FILES, TEST_DATASET
from evals.judge import Judge
from evals.report import render_report
from evals.runner import check_thresholds, load_thresholds, run_eval

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"


@pytest.mark.integration
def test_dev_set_meets_the_committed_thresholds_with_none(real_container):
    report = run_eval(real_container, DEV_DATASET, backends=["none"])
    misses = check_thresholds(report, load_thresholds(REPO / "evals" / "thresholds.toml"))
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "eval-none.html").write_text(render_report(report, misses), encoding="utf-8")
    (ARTIFACTS / "eval-none.json").write_text(json.dumps(report, indent=2, default=str))
    assert not misses, misses
    suites = report["runs"][0]["suites"]
    assert set(suites) == set(SUITE_FILES)
    assert len(suites["retrieval"]["cases"]) >= 30 and len(suites["reflections"]["cases"]) >= 40
    assert len(suites["health"]["cases"]) >= 30 and len(suites["agendas"]["cases"]) >= 15
    assert len(suites["topics"]["cases"]) >= 15 and len(suites["chat"]["cases"]) >= 25
    assert len(suites["faithfulness"]["cases"]) >= 100
    # each gated metric beats its simple baseline where one is printed
    assert suites["agendas"]["metrics"]["main_topic_fit"] > \
        suites["agendas"]["metrics"]["baseline_first.main_topic_fit"]
    assert suites["topics"]["metrics"]["ndcg"] > suites["topics"]["metrics"]["baseline_first_k.ndcg"]


@pytest.mark.integration
@pytest.mark.llm
def test_test_split_meets_its_gates_on_both_backends(real_container):
    """The held-out test split, written blind and never tuned on, against
    evals/thresholds-test.toml: reflections on `none` and on the embedded model; health,
    agendas, topics, chat and the claims on `none` (health reads what the reader labelled; the
    model only words summaries, so an embedded health run would repeat this one). The
    sentiment is above both simple baselines."""
    plain = run_eval(real_container, TEST_DATASET,
                     suites=["reflections", "health", "agendas", "topics", "chat", "faithfulness"],
                     backends=["none"])
    embedded = run_eval(real_container, TEST_DATASET, suites=["reflections"],
                        backends=["embedded"])
    gates = load_thresholds(REPO / "evals" / "thresholds-test.toml")
    misses = check_thresholds(plain, gates) + check_thresholds(embedded, gates)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "eval-test.json").write_text(
        json.dumps({"none": plain, "embedded": embedded}, indent=2, default=str))
    assert not misses, misses
    suites = plain["runs"][0]["suites"]
    assert len(suites["health"]["cases"]) >= 30 and len(suites["agendas"]["cases"]) >= 20
    assert len(suites["topics"]["cases"]) >= 20 and len(suites["chat"]["cases"]) >= 30
    assert len(suites["faithfulness"]["cases"]) >= 200
    for run in plain["runs"] + embedded["runs"]:
        m = run["suites"]["reflections"]["metrics"]
        assert len(run["suites"]["reflections"]["cases"]) >= 40
        assert m["sentiment.macro_f1"] > max(m["sentiment.baseline_majority_macro_f1"],
                                             m["sentiment.baseline_vader_macro_f1"])


@pytest.mark.integration
def test_an_uploaded_corpus_is_found_alone_and_beside_knowledge(real_container):
    """The held-out queries over a corpus nobody here wrote (evals/datasets/uploaded-test: the
    TTS Handbook, CC0), against the [retrieval] gates of evals/thresholds-test.toml: hit@5
    with the corpus ingested alone, and beside knowledge/ as a programme's upload would be."""
    report = run_eval(real_container, REPO / "evals" / "datasets" / "uploaded-test",
                      suites=["retrieval"], backends=["none"])
    gates = load_thresholds(REPO / "evals" / "thresholds-test.toml")
    assert {"hit@5", "with_knowledge.hit@5"} <= set(gates["retrieval"])
    assert not check_thresholds(report, gates), check_thresholds(report, gates)
    assert len(report["runs"][0]["suites"]["retrieval"]["cases"]) >= 50


@pytest.mark.parametrize("suite_file, case, named", [
    ("reflections.jsonl", {"id": "r7", "text": "We met.", "gold": {"sentiment": "happy"}},
     "gold.sentiment"),
    ("reflections.jsonl", {"id": "r7", "text": "We met."}, "gold is missing"),
    ("reflections.jsonl", {"id": "r7", "text": "We met.", "gold": {
        "action_items": [{"text": "Send the deck", "due": "next Friday"}]}},
     "gold.action_items.0.due"),
    ("pairs.jsonl", {"id": "p7", "as_of": "2026-03-01", "sessions": [
        {"date": "2026-02-01", "status": "postponed"}], "gold": {"status": "stalled"}},
     "sessions.0.status"),
    ("pairs.jsonl", {"id": "p7", "gold": {"status": "stalled"}}, "as_of is missing"),
    ("agendas.jsonl", {"id": "a7", "as_of": "2026-03-01"}, "duration_minutes is missing"),
    ("topics.jsonl", {"id": "t7", "pair": {"cadence_days": "often"}}, "pair.cadence_days"),
    ("retrieval.jsonl", {"id": "q7", "query": "where?", "answer_contains": []},
     "answer_contains"),
])
def test_a_malformed_case_is_named_in_one_line(fake_container, tmp_path, capsys, suite_file,
                                               case, named):
    """`coach eval` on a dataset with a bad case names the file, the line, the case and the
    field, in one line, and exits non-zero before any suite runs."""
    dataset = tmp_path / "mine"
    dataset.mkdir()
    good = {"reflections.jsonl": {"id": "ok", "text": "Good session.", "gold": {}},
            "pairs.jsonl": {"id": "ok", "as_of": "2026-03-01", "gold": {"status": "healthy"}},
            "agendas.jsonl": {"id": "ok", "as_of": "2026-03-01", "duration_minutes": 45},
            "topics.jsonl": {"id": "ok"},
            "retrieval.jsonl": {"id": "ok", "query": "q", "answer_contains": ["a"]}}[suite_file]
    (dataset / suite_file).write_text(json.dumps(good) + "\n\n" + json.dumps(case) + "\n")
    cli.set_container(fake_container)
    try:
        code = cli.run(["eval", "--dataset", str(dataset), "--backend", "none"])
    finally:
        cli.set_container(None)
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert len(err.splitlines()) == 1, err
    assert f"{suite_file}:3: case {case['id']}: {named}" in err


def test_user_dataset_with_its_own_corpus_and_cli(fake_container, tmp_path, capsys):
    dataset = tmp_path / "mine"
    (dataset / "corpus").mkdir(parents=True)
    (dataset / "corpus" / "policy.md").write_text(
        "# Travel policy\n\n## Booking trains\n\nBook trains through the travel desk two weeks ahead.\n")
    (dataset / "corpus" / "office.txt").write_text("The office closes at six on Fridays.")
    (dataset / "retrieval.jsonl").write_text("\n".join(json.dumps(c) for c in [
        {"id": "q1", "query": "how early should I book a train", "focus": None,
         "answer_contains": ["travel desk two weeks ahead"]},
        {"id": "q2", "query": "when does the office close on friday", "focus": None,
         "answer_contains": ["closes at six"]},
    ]) + "\n")
    (dataset / "thresholds.toml").write_text('[retrieval]\n"hit@5" = 1.0\nmrr = 1.01\n')
    cli.set_container(fake_container)
    try:
        code = cli.run(["eval", "--dataset", str(dataset), "--json", str(tmp_path / "r.json"),
                        "--report", str(tmp_path / "r.html"), "--thresholds",
                        str(dataset / "thresholds.toml"), "--backend", "none"])
    finally:
        cli.set_container(None)
    captured = capsys.readouterr()
    assert code == 1 and "retrieval mrr" in captured.err  # 1.01 cannot be met
    report = json.loads((tmp_path / "r.json").read_text())
    assert set(report) == {"dataset", "runs"}
    retrieval = report["runs"][0]["suites"]["retrieval"]
    assert retrieval["metrics"]["hit@5"] == 1.0  # scored on the corpus alone
    assert set(retrieval["cases"][0]) == {"id", "passed", "details"}
    html = (tmp_path / "r.html").read_text()
    assert "<svg" in html and "q1" in html and "Thresholds missed" in html
    assert fake_container.index.count() == 0, "the user's index was not touched"


def test_several_backends_side_by_side_and_the_judge(fake_container, tmp_path):
    folder = tmp_path / "refl"
    folder.mkdir()
    shutil.copy(DEV_DATASET / "reflections.jsonl", folder / "reflections.jsonl")
    judge = Judge(FakeChatModel(default='{"score": 4}'), repeats=2, max_cases=3)
    report = run_eval(fake_container, folder, suites=["reflections"], backends=["none", "none"],
                      judge=judge)
    assert [r["backend"] for r in report["runs"]] == ["none"]  # duplicates collapse
    scores = report["runs"][0]["judge"]["summary_quality"]
    assert scores == {"mean": 4, "spread": 0.0, "repeats": 2, "cases": 3, "unparsed": 0}
    noisy = Judge(FakeChatModel(["{\"score\": 2}", "not json", "{\"score\": 4}"] * 3), repeats=3,
                  max_cases=3)
    out = noisy.score(report["runs"][0]["suites"])["summary_quality"]
    assert out["unparsed"] == 3 and out["mean"] == 3 and out["spread"] == 1.0
