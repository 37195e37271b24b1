"""A logistic regression over named features, the way the coach's learned checks ship one: the
features' standardisation, the weights and the decision threshold, in a JSON file that names
the features it was fitted on. A file fitted on other features is refused with the command
that fits it again."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np


@dataclass(frozen=True)
class LogisticModel:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float

    FEATURES: ClassVar[tuple[str, ...]] = ()
    FIT_COMMAND: ClassVar[str] = ""

    @classmethod
    def load(cls, path: Path):
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if tuple(data["features"]) != cls.FEATURES:
            raise ValueError(f"{path} was fitted on other features: run `{cls.FIT_COMMAND}`")
        return cls(np.array(data["mean"]), np.array(data["scale"]), np.array(data["coef"]),
                   float(data["intercept"]), float(data["threshold"]), **cls._read_extra(data))

    def save(self, path: Path, meta: Mapping[str, object]) -> None:
        Path(path).write_text(json.dumps({
            "features": list(self.FEATURES), "mean": self.mean.round(6).tolist(),
            "scale": self.scale.round(6).tolist(), "coef": self.coef.round(6).tolist(),
            "intercept": round(self.intercept, 6), "threshold": self.threshold,
            "meta": dict(meta), **self._extra()}, indent=1) + "\n", encoding="utf-8")

    def probability(self, features: np.ndarray) -> np.ndarray:
        """P(positive) for each row of ``features`` (the last axis holds the features)."""
        z = ((np.atleast_2d(features) - self.mean) / self.scale) @ self.coef + self.intercept
        return 1 / (1 + np.exp(-z))

    @classmethod
    def _read_extra(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        """Fields a subclass keeps beside the weights, read from the file."""
        return {}

    def _extra(self) -> dict[str, Any]:
        """Fields a subclass keeps beside the weights, as written to the file."""
        return {}
