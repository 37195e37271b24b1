"""The reader's trained classifiers, as plain arrays: one logistic regression per sentence label
and one for a reflection's sentiment. Trained by coach/reader/training.py (scikit-learn), saved
as JSON, and run here with numpy alone."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from coach.reader.language import EMBEDDING_WIDTH

LABELS = ("commitment", "obstacle", "ending", "disengaged", "positive", "negative", "key_point")
SENTIMENTS = ("negative", "neutral", "positive")
PACKAGED = Path(__file__).resolve().parent / "model.json"
# The model format: 2 since a clause names a blocker by its own obstacle probability
# (blocker_threshold) instead of a second model over the label probabilities. A programme's
# model of another format reads features this reader does not give it.
FORMAT = 2


@dataclass
class LabelModel:
    labels: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # labels x features
    intercept: np.ndarray
    thresholds: dict[str, float]
    sentiment_features: tuple[str, ...]
    sentiment_coef: np.ndarray  # classes x (sentiment features + the projected mean vector)
    sentiment_intercept: np.ndarray
    sentiment_classes: tuple[str, ...] = SENTIMENTS
    meta: dict[str, Any] = field(default_factory=dict)
    # A reflection says it (ending, disengaged) when one of its sentences is at least this
    # likely: stricter than a sentence's own threshold, since any of many sentences counts.
    reflection_thresholds: dict[str, float] = field(default_factory=dict)
    # the reflection's mean MiniLM vector, projected on its main directions in the training
    # reflections (PCA), then all sentiment inputs standardised
    sentiment_center: np.ndarray | None = None
    sentiment_projection: np.ndarray | None = None  # directions x EMBEDDING_WIDTH
    sentiment_mean: np.ndarray | None = None
    sentiment_scale: np.ndarray | None = None
    # a clause names a blocker when its obstacle probability is at least this: stricter than
    # the sentence threshold, since a blocker is shown to the author as found
    blocker_threshold: float = 0.5
    format: int = FORMAT

    def reads_current_features(self, feature_width: int) -> bool:
        """Whether this model reads what today's reader gives it (an older programme model
        may not)."""
        return (self.format == FORMAT and self.width == feature_width
                and self.sentiment_projection is not None
                and self.sentiment_projection.shape[1] == EMBEDDING_WIDTH)

    @property
    def width(self) -> int:
        """How many features a sentence's row must have (coach.reader.features)."""
        return int(self.coef.shape[1])

    def says(self, label: str, scores: list[float]) -> bool:
        bound = self.reflection_thresholds.get(label, self.thresholds[label])
        return any(s >= bound for s in scores)

    def hints(self, label: str, scores: list[float]) -> bool:
        """Whether one sentence reads as ``label`` by its own threshold: weaker than says(),
        which a whole reflection must clear, and worth something only with other evidence."""
        return self.says(label, scores) or any(s >= self.thresholds[label] for s in scores)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """One probability per sentence and label."""
        if not len(features):
            return np.zeros((0, len(self.labels)))
        z = ((features - self.mean) / self.scale) @ self.coef.T + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def sentiment(self, values: dict[str, float], vector: np.ndarray
                  ) -> tuple[str, dict[str, float]]:
        x = np.asarray([values[name] for name in self.sentiment_features])
        if self.sentiment_projection is not None:
            x = np.concatenate([x, (vector - self.sentiment_center) @ self.sentiment_projection.T])
            x = (x - self.sentiment_mean) / self.sentiment_scale
        z = self.sentiment_coef @ x + self.sentiment_intercept
        p = np.exp(z - z.max())
        p /= p.sum()
        return self.sentiment_classes[int(p.argmax())], dict(zip(self.sentiment_classes,
                                                                  p.round(4).tolist()))

    def to_dict(self) -> dict[str, Any]:
        def arr(a):
            return np.round(np.asarray(a, dtype=float), 6).tolist()

        def opt(a):
            return None if a is None else arr(a)

        return {"labels": list(self.labels), "mean": arr(self.mean), "scale": arr(self.scale),
                "coef": arr(self.coef), "intercept": arr(self.intercept),
                "thresholds": {k: round(v, 4) for k, v in self.thresholds.items()},
                "sentiment_features": list(self.sentiment_features),
                "sentiment_coef": arr(self.sentiment_coef),
                "sentiment_intercept": arr(self.sentiment_intercept),
                "sentiment_classes": list(self.sentiment_classes), "meta": self.meta,
                "reflection_thresholds": {k: round(v, 4)
                                          for k, v in self.reflection_thresholds.items()},
                "sentiment_center": opt(self.sentiment_center),
                "sentiment_projection": opt(self.sentiment_projection),
                "sentiment_mean": opt(self.sentiment_mean),
                "sentiment_scale": opt(self.sentiment_scale),
                "blocker_threshold": round(float(self.blocker_threshold), 4),
                "format": self.format}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelModel:
        return cls(tuple(data["labels"]), np.asarray(data["mean"]), np.asarray(data["scale"]),
                   np.asarray(data["coef"]), np.asarray(data["intercept"]),
                   dict(data["thresholds"]), tuple(data["sentiment_features"]),
                   np.asarray(data["sentiment_coef"]), np.asarray(data["sentiment_intercept"]),
                   tuple(data["sentiment_classes"]), dict(data.get("meta", {})),
                   dict(data.get("reflection_thresholds", {})),
                   _array(data.get("sentiment_center")), _array(data.get("sentiment_projection")),
                   _array(data.get("sentiment_mean")), _array(data.get("sentiment_scale")),
                   float(data.get("blocker_threshold", 0.5)), int(data.get("format", 1)))

    def save(self, path: Path) -> None:
        tmp = Path(path).with_suffix(".part")
        tmp.write_text(json.dumps(self.to_dict(), separators=(",", ":")), encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path = PACKAGED) -> LabelModel:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _array(value) -> np.ndarray | None:
    return None if value is None else np.asarray(value)
