"""The online model: standardised features into a logistic regression (river), learnt from
analysts' verdicts one at a time.

Rules: the model says nothing (``ready`` is false) until it has seen ``min_per_class`` verdicts
of each class; its state is a plain JSON-able dict, so every replica rebuilds the same model;
each verdict it learns bumps its version, recorded on every score it makes.
"""

from __future__ import annotations

import math
from typing import Any

from river import linear_model, optim, preprocessing, utils

from fraud.domain.features import FEATURE_NAMES, Features


class OnlineModel:
    """A logistic regression over standardised features, updated one verdict at a time."""

    def __init__(self, *, learning_rate: float = 0.05, l2: float = 0.001) -> None:
        self.learning_rate = learning_rate
        self.l2 = l2
        self.version = 0
        self.positives = 0
        self.negatives = 0
        self._scaler = preprocessing.StandardScaler()
        self._lr = linear_model.LogisticRegression(optimizer=optim.SGD(learning_rate), l2=l2)

    def ready(self, min_per_class: int) -> bool:
        return self.positives >= min_per_class and self.negatives >= min_per_class

    def probability(self, features: Features) -> float:
        """Probability that the activity is fraud."""
        scaled = self._scaler.transform_one(_select(features))
        return float(self._lr.predict_proba_one(scaled)[True])

    def contributions(self, features: Features) -> dict[str, float]:
        """Each feature's term in the logit (weight times standardised value)."""
        scaled = self._scaler.transform_one(_select(features))
        weights = self._lr.weights
        return {name: weights.get(name, 0.0) * value for name, value in scaled.items()}

    def learn(self, features: Features, *, is_fraud: bool) -> None:
        x = _select(features)
        self._scaler.learn_one(x)
        self._lr.learn_one(self._scaler.transform_one(x), is_fraud)
        self.version += 1
        if is_fraud:
            self.positives += 1
        else:
            self.negatives += 1

    def to_state(self) -> dict[str, Any]:
        return {
            "learning_rate": self.learning_rate,
            "l2": self.l2,
            "version": self.version,
            "positives": self.positives,
            "negatives": self.negatives,
            "scaler": {
                "counts": dict(self._scaler.counts),
                "means": dict(self._scaler.means),
                "vars": dict(self._scaler.vars),
            },
            "weights": self._lr.weights,
            "intercept": self._lr.intercept,
            "iterations": self._lr.optimizer.n_iterations,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> OnlineModel:
        model = cls(learning_rate=float(state["learning_rate"]), l2=float(state["l2"]))
        model.version = int(state["version"])
        model.positives = int(state["positives"])
        model.negatives = int(state["negatives"])
        scaler = state["scaler"]
        model._scaler = preprocessing.StandardScaler._from_state(
            counts=scaler["counts"], means=scaler["means"], vars=scaler["vars"]
        )
        model._lr._weights = utils.VectorDict(dict(state["weights"]))
        model._lr.intercept = float(state["intercept"])
        model._lr.optimizer.n_iterations = int(state["iterations"])
        return model


def _select(features: Features) -> dict[str, float]:
    return {name: features[name] for name in FEATURE_NAMES if math.isfinite(features[name])}
