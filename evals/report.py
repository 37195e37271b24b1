"""A self-contained HTML report: metrics side by side, a bar chart per metric, and every
case with its input, output and score, failures first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Coach evaluation report</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;color:#1b1f24;margin:0 auto;max-width:70rem;padding:1rem}
table{border-collapse:collapse;margin:.5rem 0}th,td{border-bottom:1px solid #d5d9de;padding:.3rem .6rem;text-align:left;vertical-align:top}
.fail{color:#a4262c;font-weight:600}.pass{color:#1e6b3a}.charts{display:flex;flex-wrap:wrap;gap:1rem}
figure{margin:0;border:1px solid #d5d9de;border-radius:6px;padding:.5rem}figcaption{font-size:.85rem;font-weight:600}
pre{white-space:pre-wrap;background:#f6f7f8;padding:.5rem;border-radius:4px;max-height:24rem;overflow:auto}
details{margin:.25rem 0}summary{cursor:pointer}.bar{fill:#1f4f8b}.label{font-size:10px;fill:#4a5563}
</style></head><body>
<h1>Coach evaluation report</h1>
<p>Dataset: <code>{{ report.dataset }}</code>. Backends: {{ backends | join(", ") }}.</p>
{% if misses %}<p class="fail">Thresholds missed: {{ misses | join("; ") }}</p>{% endif %}
{% for suite in suites %}
<section><h2>{{ suite }}</h2>
<table><thead><tr><th>metric</th>{% for b in backends %}<th>{{ b }}</th>{% endfor %}</tr></thead><tbody>
{% for metric in metrics[suite] %}<tr><td>{{ metric }}</td>{% for b in backends %}<td>{{ fmt(value(b, suite, metric)) }}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>
<div class="charts">
{% for metric in metrics[suite] %}{% set top = chart_top(suite, metric) %}
<figure><figcaption>{{ metric }}</figcaption>
<svg width="{{ 40 + 70 * backends | length }}" height="120" role="img" aria-label="{{ metric }} per backend">
{% for b in backends %}{% set v = value(b, suite, metric) or 0 %}{% set h = (90 * v / top) | round | int %}
<rect class="bar" x="{{ 20 + 70 * loop.index0 }}" y="{{ 95 - h }}" width="40" height="{{ h }}"><title>{{ b }}: {{ fmt(v) }}</title></rect>
<text class="label" x="{{ 40 + 70 * loop.index0 }}" y="110" text-anchor="middle">{{ b }}</text>
<text class="label" x="{{ 40 + 70 * loop.index0 }}" y="{{ 92 - h }}" text-anchor="middle">{{ fmt(v) }}</text>
{% endfor %}</svg></figure>
{% endfor %}
</div>
{% for b in backends %}{% set cases = sorted_cases(b, suite) %}
<h3>{{ suite }} cases · {{ b }} ({{ cases | selectattr("passed", "equalto", false) | list | length }} failed of {{ cases | length }})</h3>
{% for case in cases %}
<details{% if not case.passed %} open{% endif %}><summary class="{{ 'pass' if case.passed else 'fail' }}">{{ case.id }} · {{ "passed" if case.passed else "FAILED" }}</summary>
<pre>{{ pretty(case.details) }}</pre></details>
{% endfor %}{% endfor %}
</section>
{% endfor %}
{% if judged %}<section><h2>LLM judge (rubric scores, separate from the metrics above)</h2>
<table><thead><tr><th>backend</th><th>rubric</th><th>mean</th><th>spread (stdev)</th><th>repeats</th><th>cases</th></tr></thead><tbody>
{% for run in report.runs if run.judge %}{% for name, j in run.judge.items() %}<tr><td>{{ run.backend }}</td><td>{{ name }}</td><td>{{ fmt(j.mean) }}</td><td>{{ fmt(j.spread) }}</td><td>{{ j.repeats }}</td><td>{{ j.cases }}</td></tr>{% endfor %}{% endfor %}
</tbody></table></section>{% endif %}
</body></html>
"""


def render_report(report: dict[str, Any], misses: list[str] | None = None) -> str:
    env = Environment(autoescape=select_autoescape(default=True))
    backends = [r["backend"] for r in report["runs"]]
    suites = list(dict.fromkeys(s for r in report["runs"] for s in r["suites"]))
    metrics = {s: list(dict.fromkeys(m for r in report["runs"] if s in r["suites"]
                                     for m in r["suites"][s]["metrics"])) for s in suites}
    by_backend = {r["backend"]: r for r in report["runs"]}

    def value(backend, suite, metric):
        return by_backend[backend]["suites"].get(suite, {}).get("metrics", {}).get(metric)

    def chart_top(suite, metric):
        values = [value(b, suite, metric) or 0 for b in backends]
        return max(values + [1.0 if not metric.startswith("latency") else 1e-9]) or 1

    def sorted_cases(backend, suite):
        cases = by_backend[backend]["suites"].get(suite, {}).get("cases", [])
        return sorted(cases, key=lambda c: (c["passed"], str(c["id"])))

    def fmt(v):
        return "—" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

    return env.from_string(TEMPLATE).render(
        report=report, backends=backends, suites=suites, metrics=metrics, value=value,
        chart_top=chart_top, sorted_cases=sorted_cases, fmt=fmt, misses=misses or [],
        judged=any(r.get("judge") for r in report["runs"]),
        pretty=lambda d: json.dumps(d, indent=2, ensure_ascii=False, default=str))


def write_report(report: dict[str, Any], path: Path, misses: list[str] | None = None) -> None:
    Path(path).write_text(render_report(report, misses), encoding="utf-8")
