"""Can the embedded model choose the agenda's main topic better than the ranker does?

For each train and dev agenda case the coach ranks six candidate topics (each train case left
out of the train cases' vote, as in ``python -m evals.calibrate agenda``). SmolLM2 then scores
each candidate's title as the continuation of a prompt that lists the pair's goals, by its mean
log-probability per token, less the same title's log-probability after a prompt with no goals
(so that a title the model finds likely anywhere does not win). Its choice replaces the
ranker's first candidate wherever the coach does not build the main segment from the goal.

Printed per split: the coach's main topic fit, the model's, and ranking.fit_at_6 (a chooser
reading the candidates as people do: the goal segment or one of the six would fit).

    python -m evals.model_chooser        # about five minutes on two cores

Not a suite of ``coach eval``: the model is scored against the ranker, not gated.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from coach.adapters.llama_cpp_chat import packaged_gguf
from coach.container import Container
from coach.features.agenda import CANDIDATES
from coach.settings import Settings
from evals.agendas import fits_within, grades_of, topic_fit
from evals.builders import build_pair
from evals.calibrate import _remembered_embeddings
from evals.datasets import DEV_DATASET, TRAIN_DATASET, load_cases, load_file

PROMPT = ("<|im_start|>user\nA senior leader is being mentored by a junior colleague. The "
          "leader's goals:\n{goals}\nWhich session topic would serve these goals best?<|im_end|>\n"
          "<|im_start|>assistant\nThe best topic is: ")


class TitleScorer:
    """Mean log-probability per token of a continuation after a prompt, under SmolLM2."""

    def __init__(self) -> None:
        from llama_cpp import Llama

        self.llm = Llama(model_path=str(packaged_gguf()), n_ctx=1024, n_threads=2,
                         logits_all=True, verbose=False)

    def _tokens(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode(), add_bos=False, special=True)

    def scores(self, prompt: str, continuations: list[str]) -> list[float]:
        prefix = self._tokens(prompt)
        self.llm.reset()
        self.llm.eval(prefix)
        out = []
        for text in continuations:
            tokens = self._tokens(text)
            self.llm.n_tokens = len(prefix)  # roll back to the prompt; eval drops the rest
            self.llm.eval(tokens)
            rows = np.asarray(self.llm.scores[len(prefix) - 1:len(prefix) + len(tokens) - 1],
                              dtype=np.float64)
            top = rows.max(1, keepdims=True)
            log_softmax = rows - top - np.log(np.exp(rows - top).sum(1, keepdims=True))
            out.append(float(np.mean(log_softmax[np.arange(len(tokens)), tokens])))
        return out


def main() -> None:
    splits = {"train": [c for p in sorted(TRAIN_DATASET.glob("agendas*.jsonl"))
                        for c in load_file(p, "agendas")],
              "dev": load_cases(DEV_DATASET, "agendas")}
    scorer = TitleScorer()
    with Container(Settings()).scratch_store() as scratch, \
            _remembered_embeddings(scratch.embedder):
        coach = scratch.features("none")
        relevance, catalogue = scratch.topic_relevance, scratch.catalogue.all()
        for split, cases in splits.items():
            ranker = model = within = 0
            for case in cases:
                pair = build_pair(scratch, case, coach=coach)
                if relevance is not None:
                    relevance.held_out = {case["id"]} if split == "train" else set()
                ctx = coach.planner.context(pair, int(case["duration_minutes"]),
                                            dt.date.fromisoformat(case["as_of"]),
                                            case.get("covered_topics", []))
                grades, ranked = grades_of(case), [s.topic.id for s in ctx.candidates]
                within += fits_within(ranked, grades, CANDIDATES)
                if ctx.goal_segment is not None or not ranked:
                    fit = topic_fit({"topic_id": None}, grades)
                    ranker, model = ranker + fit, model + fit
                    continue
                titles = [catalogue[t].title for t in ranked]
                goals = "\n".join(f"- {g}" for g in case["pair"].get("goals") or [])
                given = scorer.scores(PROMPT.format(goals=goals), titles)
                alone = scorer.scores(PROMPT.format(goals="- (none given)"), titles)
                choice = ranked[int(np.argmax(np.subtract(given, alone)))]
                ranker += topic_fit({"topic_id": ranked[0]}, grades)
                model += topic_fit({"topic_id": choice}, grades)
            n = len(cases)
            print(f"{split}: main topic fit, ranker {ranker / n:.3f} ({ranker}/{n}); "
                  f"SmolLM2 choosing {model / n:.3f} ({model}/{n}); "
                  f"ranking.fit_at_6 {within / n:.3f}", flush=True)


if __name__ == "__main__":
    main()
