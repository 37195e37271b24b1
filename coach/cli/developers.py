"""Commands for developers of the coach: benchmarks, evaluations, a load test, and training
the reflection reader. Everything here runs in scratch stores, never on the programme's data,
except `reader retrain`, which an operator runs to fold a programme's corrections in.

Each command imports what it runs where it runs it: the evals, the tools and training load
models and libraries that the other commands must not wait for."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Column, Table

from coach.cli.common import JsonOpt, emit_json, err, get_container, initialised, out
from coach.domain.errors import InvalidInput

app = typer.Typer()
reader = typer.Typer(no_args_is_help=True, help="The reflection reader's classifiers.")
app.add_typer(reader, name="reader")


BENCH_PARTS = ("retrieval", "ingest", "generation", "features", "health", "dashboard", "reader", "cold-start")


@app.command()
def bench(
    backend: Annotated[list[str] | None, typer.Option(
        help="Backends to measure; repeat (default: none and embedded).")] = None,
    runs: Annotated[int, typer.Option(help="Runs per feature.")] = 20,
    only: Annotated[list[str] | None, typer.Option(
        help="Parts to run: " + ", ".join(BENCH_PARTS) + " (default: all).")] = None,
    retrieval_sizes: Annotated[list[int] | None, typer.Option(
        help="Collection sizes for the retrieval figures (default: 1000, 10000, 100000).")] = None,
    health_pairs: Annotated[int, typer.Option(
        help="Pairs in the synthetic programme for the health figure.")] = 10_000,
    dashboard_pairs: Annotated[list[int] | None, typer.Option(
        help="Synthetic programme sizes for the dashboard figure; 0 means the demo "
             "(default: 0 and 10000).")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write {\"figures\": [...]} here.")] = None,
) -> None:
    """Measure the coach beside the raw engines under it (in scratch stores, never your data)."""
    from tools import bench as b

    if not 1 <= runs <= 1000:
        raise InvalidInput("--runs must be between 1 and 1000.")
    parts = only or list(BENCH_PARTS)
    unknown = set(parts) - set(BENCH_PARTS)
    if unknown:
        raise InvalidInput(f"Unknown bench part {sorted(unknown)[0]!r}. Use: {', '.join(BENCH_PARTS)}.")
    log = (lambda m: err.print(m)) if sys.stderr.isatty() else (lambda _m: None)
    container = get_container()
    figures = []
    if "retrieval" in parts:
        figures += b.bench_retrieval(container, tuple(retrieval_sizes or (1_000, 10_000, 100_000)), log=log)
    if "ingest" in parts:
        figures += b.bench_ingest(container)
    if "generation" in parts:
        figures += b.bench_generation(container)
    if "features" in parts:
        figures += b.bench_features(container, backend or ["none", "embedded"], runs, log=log)
    if "health" in parts:
        figures += b.bench_health(container, health_pairs)
    if "dashboard" in parts:
        for size in dashboard_pairs or [0, 10_000]:
            figures += b.bench_dashboard(container, size or None)
    if "reader" in parts:
        figures += b.bench_reader()
    if "cold-start" in parts:
        figures += b.bench_cold_start(container)
    data = {"figures": [f.to_dict() for f in figures]}
    if json_file:
        json_file.write_text(json.dumps(data, indent=2), encoding="utf-8")
    table = Table(Column("figure", overflow="fold"), "value", "unit", "baseline", "ratio", "target", "met")
    for f in data["figures"]:
        target = b.target_for(f)
        table.add_row(f["name"], f"{f['value']:.3f}", f["unit"],
                      "" if f["baseline"] is None else f"{f['baseline']:.3f}",
                      "" if f["ratio"] is None else f"{f['ratio']:.3f}",
                      target[0] if target else "", ("yes" if target[1] else "NO") if target else "")
    out.print(table)


# -- the reader ----------------------------------------------------------------------------
def score_reader(container, model) -> dict[str, dict[str, float]]:
    """The reflections suite, backend none, on dev and test, with ``model`` reading."""
    import tempfile

    from coach.reader.reader import Reader
    from evals.datasets import DEV_DATASET, TEST_DATASET, load_cases
    from evals.reflections import run_reflections

    scores = {}
    with tempfile.TemporaryDirectory(prefix="coach-reader-") as tmp:
        scratch = container.scratch(Path(tmp))
        scratch.__dict__["reader"] = Reader(model, embed=container.reader.embed)
        for split, dataset in (("dev", DEV_DATASET), ("test", TEST_DATASET)):
            cases = load_cases(dataset, "reflections")
            scores[split] = run_reflections(cases, scratch, dataset, backend="none")["metrics"]
        scratch.close()
    return scores


@reader.command("encoder")
def reader_encoder(force: Annotated[bool, typer.Option(
        "--force", help="Build it even when the one there is up to date.")] = False) -> None:
    """Build the reader's MiniLM (fine-tuned on evals/datasets/train; about a minute), unless
    the one in coach/reader/encoder/ was made from the same data and settings."""
    from coach.reader.language import ENCODER
    from coach.reader.training import build_encoder

    built = build_encoder(force=force)
    out.print(f"{'Built' if built else 'Up to date:'} {ENCODER}")


@reader.command("train")
def reader_train(out_file: Annotated[Path | None, typer.Option(
        "--out", help="Where to write the model (default: the shipped coach/reader/model.json).")
        ] = None) -> None:
    """Train the shipped classifiers from evals/datasets/train, over the reader's MiniLM
    (built first when it is missing or stale)."""
    from coach.reader.model import PACKAGED
    from coach.reader.training import train_packaged

    model = train_packaged()
    model.save(out_file or PACKAGED)
    out.print(f"Wrote {out_file or PACKAGED}: thresholds {model.thresholds}")


@reader.command("retrain")
def reader_retrain(
    programme: Annotated[int | None, typer.Option(help="Only this programme's corrections.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fold authors' corrections into the classifiers, for this store only (opt-in). Prints
    dev and test before and after; refuses a model that is worse on test."""
    from coach.reader.training import RETRAIN_METRICS, retrain

    container = initialised()
    rows = container.store.reader_corrections(programme)
    if not rows:
        raise InvalidInput("There are no corrections yet: authors correct the action items, "
                           "blockers and sentiment on the reflect page before confirming.")
    result = retrain(container.reader.model, rows, lambda model: score_reader(container, model))
    target = container.settings.data_dir / "reader-model.json"
    if result.accepted:
        result.model.save(target)
    report = {"corrections": len(rows), "accepted": result.accepted, "reason": result.reason,
              "before": result.before, "after": result.after,
              "model": str(target) if result.accepted else None}
    if as_json:
        emit_json(report)
    else:
        table = Table("metric", "dev before", "dev after", "test before", "test after")
        for metric in RETRAIN_METRICS:
            table.add_row(metric, *(f"{result.before[s].get(metric, 0):.3f}" if w == "before"
                                    else f"{result.after[s].get(metric, 0):.3f}"
                                    for s in ("dev", "test") for w in ("before", "after")))
        out.print(table)
        if result.accepted:
            out.print(f"Saved {target}; restart the coach to read with it.")
        else:
            out.print(f"Refused: {result.reason}. The current model stays.")
    if not result.accepted:
        raise typer.Exit(1)


# -- evaluation -------------------------------------------------------------------
@app.command("eval")
def eval_command(
    dataset: Annotated[Path | None, typer.Option(
        help="Dataset folder (default: evals/datasets/dev).")] = None,
    suite: Annotated[list[str] | None, typer.Option(
        help="retrieval, reflections, health, agendas, topics, chat, faithfulness; repeat.")] = None,
    backend: Annotated[list[str] | None, typer.Option(
        help="none, embedded or openai; repeat to compare.")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the JSON report here.")] = None,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report here.")] = None,
    thresholds: Annotated[Path | None, typer.Option(help="TOML of minimum values per metric.")] = None,
    judge_url: Annotated[str | None, typer.Option(
        help="OpenAI-compatible URL for an optional LLM judge.")] = None,
    judge_model: Annotated[str | None, typer.Option(help="The judge's model name.")] = None,
    judge_repeats: Annotated[int, typer.Option(help="Judgements per case (the spread is reported).")] = 3,
) -> None:
    """Score the coach on a dataset, offline and deterministically; optionally with a judge."""
    from evals.report import write_report
    from evals.runner import check_thresholds, load_thresholds, run_eval

    limits = load_thresholds(thresholds) if thresholds else None
    judge = None
    if judge_url or judge_model:
        if not (judge_url and judge_model):
            raise InvalidInput("An LLM judge needs both --judge-url and --judge-model.")
        from coach.adapters.openai_chat import OpenAIChatModel
        from evals.judge import Judge

        judge = Judge(OpenAIChatModel(judge_url, judge_model, get_container().settings.openai_api_key,
                                      temperature=0.7), repeats=judge_repeats)
    result = run_eval(get_container(), dataset, suite or [], backend or [], judge=judge,
                      log=lambda m: err.print(m) if sys.stderr.isatty() else None)
    misses = check_thresholds(result, limits) if limits else []
    if json_file:
        json_file.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    if report:
        write_report(result, report, misses)
    backends = [r["backend"] for r in result["runs"]]
    suites = list(dict.fromkeys(s for r in result["runs"] for s in r["suites"]))
    for name in suites:
        first = next(r["suites"][name] for r in result["runs"] if name in r["suites"])
        table = Table(title=f"{name} · {len(first['cases'])} cases")
        table.add_column("metric")
        for b in backends:
            table.add_column(b, justify="right")
        for metric in first["metrics"]:
            row = []
            for r in result["runs"]:
                value = r["suites"].get(name, {}).get("metrics", {}).get(metric)
                row.append("—" if value is None else f"{value:.3f}")
            table.add_row(metric, *row)
        out.print(table)
    for r in result["runs"]:
        for rubric, j in (r.get("judge") or {}).items():
            out.print(f"judge {r['backend']} {rubric}: mean {j['mean']}, spread {j['spread']}, "
                      f"{j['repeats']} repeats, {j['unparsed']} unparsed")
    if misses:
        for miss in misses:
            err.print(f"threshold missed: {miss}", markup=False)
        raise typer.Exit(1)


# -- load test ----------------------------------------------------------------------
@app.command()
def loadtest(
    url: Annotated[str, typer.Option(help="The API's base URL, e.g. http://127.0.0.1:8000.")],
    tokens: Annotated[Path, typer.Option(help="JSON: a list of objects with a \"token\" (the "
                                         "output of `coach demo-signin --json`), or such objects "
                                         "one after another (`coach tokens create EMAIL --json` "
                                         "per person). Other keys are ignored: roles and pairs "
                                         "come from the API.")],
    users: Annotated[int, typer.Option(help="Simulated users; they share the tokens' identities.")] = 50,
    actions: Annotated[int, typer.Option(help="Actions per user.")] = 4,
    model_share: Annotated[float, typer.Option(help="Share of mentor and mentee actions that "
                                               "call the model (agendas, reflections).")] = 0.12,
    timeout: Annotated[float, typer.Option(help="Client timeout per request, seconds.")] = 900.0,
    seed: Annotated[int, typer.Option(help="Seed of the plan and the reflection texts.")] = 7,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the figures here.")] = None,
) -> None:
    """A bounded concurrent load test over HTTP: coordinators read the dashboard, mentors prepare
    agendas, mentees submit reflections. Fails on any error or lost write."""
    from tools.loadtest import LoadTest, read_tokens

    if not 1 <= users <= 1000 or not 1 <= actions <= 1000:
        raise InvalidInput("--users and --actions must be between 1 and 1000.")
    try:
        test = LoadTest(url, read_tokens(tokens), users=users, actions=actions,
                        model_share=model_share, timeout_s=timeout, seed=seed,
                        log=lambda m: err.print(m, markup=False))
        result = test.run()
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    data = result.to_dict()
    if json_file:
        json_file.write_text(json.dumps(data, indent=2), encoding="utf-8")
    table = Table("action", "count", "errors", "p50 ms", "p95 ms", "max ms")
    for kind, k in data["by_kind"].items():
        table.add_row(kind, str(k["count"]), str(k["errors"]), f"{k['p50_ms']:.0f}",
                      f"{k['p95_ms']:.0f}", f"{k['max_ms']:.0f}")
    out.print(table)
    w = data["writes"]
    out.print(f"{data['requests']} requests in {data['wall_s']} s ({data['throughput_rps']} req/s), "
              f"{data['errors']} errors; reflections {w['reflections_acknowledged']} acknowledged, "
              f"{w['reflections_lost']} lost; agendas {w['agendas_acknowledged']} saved, "
              f"{w['agendas_lost']} lost.")
    for e in data["error_examples"]:
        err.print(f"error {e['kind']} {e['method']} {e['url']}: {e['error']}", markup=False)
    if not result.ok:
        raise typer.Exit(1)
