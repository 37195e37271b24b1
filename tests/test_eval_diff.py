"""tools.eval_diff: two eval reports compared apart from their timings."""

from __future__ import annotations

import copy
import json

from tools.eval_diff import differences, main

REPORT = {"dataset": "dev", "runs": [{"backend": "none", "suites": {"agendas": {
    "metrics": {"main_topic_fit": 0.769, "latency_ms.p50": 12.0},
    "cases": [{"id": "a01", "passed": True, "details": {"output": {"title": "Phishing"},
                                                        "elapsed_ms": 3.1}}]}}}]}


def test_timings_alone_are_no_difference():
    after = copy.deepcopy(REPORT)
    suite = after["runs"][0]["suites"]["agendas"]
    suite["metrics"]["latency_ms.p50"] = 99.0
    suite["cases"][0]["details"]["elapsed_ms"] = 7.7
    assert differences(REPORT, after) == []


def test_a_metric_a_case_and_a_missing_suite_are_each_named():
    after = copy.deepcopy(REPORT)
    suite = after["runs"][0]["suites"]["agendas"]
    suite["metrics"]["main_topic_fit"] = 0.808
    suite["cases"][0]["details"]["output"]["title"] = "Captions"
    after["runs"][0]["suites"]["topics"] = {"metrics": {}, "cases": []}
    assert differences(REPORT, after) == [
        "none agendas main_topic_fit: 0.769 -> 0.808",
        "none agendas case a01: differs",
        "none topics: only in after",
    ]


def test_the_command_exits_1_on_a_difference(tmp_path, capsys):
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(json.dumps(REPORT))
    changed = copy.deepcopy(REPORT)
    changed["runs"][0]["suites"]["agendas"]["metrics"]["main_topic_fit"] = 0.5
    after.write_text(json.dumps(changed))
    assert main([str(before), str(before)]) == 0
    assert main([str(before), str(after)]) == 1
    assert "1 differences" in capsys.readouterr().out
