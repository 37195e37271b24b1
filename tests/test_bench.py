"""`coach bench`: the JSON shape, the targets, and each part against the real engines."""

from __future__ import annotations

import json

import pytest

from tools.bench import bench_cold_start, bench_generation, bench_retrieval, target_for

FIELDS = {"name", "value", "unit", "baseline", "ratio"}


def test_bench_writes_figures_as_json_with_targets(run, tmp_path):
    out_file = tmp_path / "bench.json"
    code, out, _ = run("bench", "--only", "health", "--health-pairs", "300",
                       "--only", "dashboard", "--dashboard-pairs", "300", "--json", str(out_file))
    assert code == 0
    figures = json.loads(out_file.read_text())["figures"]
    assert all(set(f) == FIELDS for f in figures)
    names = {f["name"] for f in figures}
    assert {"health.300_pairs.p50", "dashboard.300_pairs.p50", "dashboard.300_pairs.first_request"} <= names
    assert all(f["value"] > 0 for f in figures)
    assert "dashboard.300_pairs.p50" in out


def test_bench_refuses_unknown_parts(run):
    code, _, err = run("bench", "--only", "everything")
    assert code != 0 and "Unknown bench part 'everything'" in err and "retrieval" in err


@pytest.mark.parametrize("figure, expected", [
    ({"name": "retrieval.10000_chunks.p50", "value": 9, "ratio": 1.2}, ("ratio <= 1.5", True)),
    ({"name": "retrieval.10001_chunks.p50", "value": 9, "ratio": 1.6}, ("ratio <= 1.5", False)),
    ({"name": "retrieval.10000_chunks.p95", "value": 9, "ratio": 1.6}, None),
    ({"name": "retrieval.100000_chunks.p50", "value": 9, "ratio": 3.0}, None),
    ({"name": "ingest.chunks_per_second", "value": 60, "ratio": 0.79}, ("ratio >= 0.8", False)),
    ({"name": "agenda.none.p50", "value": 150, "ratio": None}, ("value <= 150", True)),
    ({"name": "peak_rss.server.embedded", "value": 1600, "ratio": None}, ("value <= 1536", False)),
    ({"name": "topics.none.p50", "value": 5, "ratio": None}, None),
])
def test_targets(figure, expected):
    assert target_for(figure) == expected


@pytest.mark.integration
def test_retrieval_is_measured_beside_raw_encode_and_chroma(real_container):
    figures = {f.name: f for f in bench_retrieval(real_container, sizes=(800,), rounds=1)}
    p50 = next(f for name, f in figures.items() if name.endswith("_chunks.p50"))
    assert p50.baseline and p50.baseline > 0 and p50.ratio == pytest.approx(p50.value / p50.baseline)
    assert int(p50.name.split(".")[1].split("_")[0]) == 800


@pytest.mark.integration
@pytest.mark.llm
def test_generation_is_measured_beside_raw_llama_cpp(real_container):
    (figure,) = bench_generation(real_container, runs=1)
    assert figure.name == "generation.tokens_per_second"
    assert figure.value > 0 and figure.baseline > 0 and 0.5 < figure.ratio < 2


@pytest.mark.integration
@pytest.mark.llm
def test_cold_start_serves_and_reports_memory(real_container):
    figures = {f.name: f.value for f in bench_cold_start(real_container)}
    assert 0 < figures["cold_start.first_request"] < figures["cold_start.first_agenda.embedded"]
    assert figures["cold_start.first_agenda.embedded"] < figures["cold_start.first_summary.embedded"]
    assert 200 < figures["peak_rss.server.embedded"] < 4000
