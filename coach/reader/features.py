"""What the classifiers see of a sentence: its MiniLM vector, spaCy's own contextual token
vectors averaged over it (the tok2vec layer its tagger and parser read, so it carries tense,
negation and who does what), and a few facts from the parse (tense, modality, negation, who
the subject is) and from VADER. The parse facts are features of a learned model, never
decisions on their own."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from coach.reader.language import EMBEDDING_WIDTH, TENSOR_WIDTH, vader
from coach.text.dates import names_a_time

if TYPE_CHECKING:  # spaCy loads with the pipeline, not with this module
    from spacy.tokens import Span

PARSE_FEATURES = (
    "future", "commits", "past", "perfect", "negated", "question", "conditional", "tentative",
    "subject_self", "subject_we", "subject_other", "subject_name", "dated",
    "length", "vader_compound", "vader_positive", "vader_negative",
)


def future_verbs(sent: Span) -> list:
    """Verbs the sentence puts in the future: will/shall/'ll, going to, gonna."""
    out = []
    for token in sent:
        # not only VERB: the tagger sometimes misreads the verb ("will forward" as an adverb),
        # but a word that "will" hangs on is what the sentence will do
        if token.tag_ == "MD" or token.pos_ in ("PUNCT", "SPACE", "NOUN", "PROPN", "PRON"):
            continue
        for child in token.children:
            if child.dep_ in ("aux", "auxpass") and child.tag_ == "MD" and \
                    child.lemma_.lower() in ("will", "shall", "'ll", "’ll", "wo"):
                out.append(token)
                break
        else:
            head = token.head
            going_to = head.lemma_ == "go" and head.tag_ == "VBG" and \
                any(c.lower_ == "to" for c in token.children)
            if token.dep_ == "xcomp" and (going_to or head.lower_ in ("gon", "gonna")):
                out.append(token)
    return out


def subject_of(token):
    """The subject of a verb, inherited through xcomp ("promised to try") and conj."""
    seen = 0
    while token is not None and seen < 6:
        for child in token.children:
            if child.dep_ in ("nsubj", "nsubjpass", "expl"):
                return child
        if token.dep_ in ("xcomp", "conj") and token.head.i != token.i:
            token = token.head
        else:
            return None
        seen += 1
    return None


def is_command(sent: Span) -> bool:
    """A bare imperative: the sentence opens with its root verb and has no subject."""
    root = sent.root
    first = next((t for t in sent if not t.is_punct and not t.is_space), root)
    return first.i == root.i and root.tag_ == "VB" and subject_of(root) is None


def parse_features(sent: Span) -> list[float]:
    root = sent.root
    futures = future_verbs(sent)
    subject = subject_of(root) or (subject_of(futures[0]) if futures else None)
    lower = subject.lower_ if subject is not None else ""
    scores = vader().polarity_scores(sent.text)
    from coach.reader.phrasing import commits

    return [
        float(bool(futures)),
        float(commits(sent)),
        float(root.tag_ in ("VBD", "VBN") and not futures),
        float(any(c.dep_ == "aux" and c.lemma_ == "have" for c in root.children)
              and root.tag_ == "VBN"),
        float(any(t.dep_ == "neg" or t.lower_ in ("never", "no") for t in sent)),
        float(sent.text.rstrip().endswith("?")),
        float(any(t.dep_ == "mark" and t.lower_ in ("if", "unless", "whether") for t in sent)),
        float(any(t.tag_ == "MD" and t.lemma_.lower() in ("would", "could", "might", "may",
                                                           "should", "can") for t in sent)),
        float(lower in ("i", "me")),
        float(lower in ("we", "us")),
        float(lower in ("he", "she", "they", "him", "her", "them")),
        float(subject is not None and subject.pos_ == "PROPN"),
        float(names_a_time(sent.text)),
        math.log1p(len(sent)) / 4,
        scores["compound"], scores["pos"], scores["neg"],
    ]


FEATURE_WIDTH = EMBEDDING_WIDTH + TENSOR_WIDTH + len(PARSE_FEATURES)


def parser_vector(sent: Span) -> np.ndarray:
    """The mean of spaCy's contextual token vectors over the span, as a unit vector."""
    tensor = sent.doc.tensor
    if tensor is None or not len(tensor) or tensor.shape[1] != TENSOR_WIDTH:
        return np.zeros(TENSOR_WIDTH, dtype=np.float32)
    mean = np.asarray(tensor[sent.start:sent.end], dtype=np.float32).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm else mean


def feature_matrix(vectors: np.ndarray, sents: list[Span]) -> np.ndarray:
    """One row per sentence: MiniLM vector, parser vector, parse facts."""
    parsed = np.asarray([parse_features(s) for s in sents], dtype=np.float32).reshape(
        len(sents), len(PARSE_FEATURES))
    tensors = np.asarray([parser_vector(s) for s in sents], dtype=np.float32).reshape(
        len(sents), TENSOR_WIDTH)
    return np.hstack([vectors.astype(np.float32), tensors, parsed])
