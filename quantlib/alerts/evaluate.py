"""Judging observations: the bad-side variance, the level it reaches, one finding per subject.

Boundary rule: a level fires when the bad-side variance is **at least** its threshold (10 %
exactly is info, 9.9 % is nothing). Variances are rounded to nine decimals first, so
``(1.0 - 0.9) / 1.0`` counts as the 10 % it is and not as 9.999...%.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

from quantlib.alerts.rules import AlertRule, Comparison
from quantlib.alerts.sources import Observation
from quantlib.errors import AlertLevel

__all__ = ["Finding", "bad_side_variance", "evaluate_observations", "level_for", "threshold_breached"]

_DIGITS = 9


@dataclass(frozen=True)
class Finding:
    """A rule breaching for one subject: its level, value, reference and message."""

    rule: str
    subject: str
    category: str
    level: AlertLevel
    value: float
    reference: float | None
    threshold: float | None
    variance: float | None
    message: str

    def as_dict(self) -> dict:
        return {"rule": self.rule, "subject": self.subject, "category": self.category, "level": self.level.value,
                "value": self.value, "reference": self.reference, "threshold": self.threshold,
                "variance": self.variance, "message": self.message}


def _finite(x) -> bool:
    return x is not None and math.isfinite(x)


def bad_side_variance(value: float, reference: float | None, direction: str) -> float | None:
    """How far ``value`` is from ``reference`` on the worse side, as a fraction of ``|reference|``.

    Positive on the bad side (below a ``higher`` reference, above a ``lower`` one), negative
    on the good side, ``None`` without a usable reference (missing or zero).
    """
    if not _finite(value) or not _finite(reference) or reference == 0:
        return None
    gap = reference - value if direction == "higher" else value - reference
    return round(gap / abs(reference), _DIGITS)


def level_for(variance: float | None, levels: dict[AlertLevel, float]) -> AlertLevel | None:
    """The most severe level whose threshold ``variance`` reaches; ``None`` when on the good side."""
    if variance is None or variance <= 0:
        return None
    reached = [lvl for lvl, threshold in levels.items() if variance >= round(threshold, _DIGITS)]
    return max(reached, key=lambda lvl: lvl.rank) if reached else None


_OPS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def threshold_breached(value: float, comparison: Comparison) -> bool:
    """Whether ``value`` is beyond a threshold comparison's ``value`` (compared after rounding)."""
    return _finite(value) and _OPS[comparison.op](round(value, _DIGITS), round(comparison.value, _DIGITS))


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ratio":
        return f"{value:.1%}"
    if unit == "currency":
        return f"{value:,.0f}"
    if unit in ("days", "hours", "count"):
        return f"{value:,.1f} {unit}"
    return f"{value:.3g}"


def _judge(rule: AlertRule, obs: Observation) -> Finding | None:
    c = rule.comparison
    direction = c.direction or obs.direction
    if c.kind == "threshold":
        if not threshold_breached(obs.value, c):
            return None
        variance = None if c.value == 0 else round((obs.value - c.value) / abs(c.value), _DIGITS)
        text = f"{_fmt(obs.value, obs.unit)} ({c.op} {_fmt(c.value, obs.unit)})"
        return Finding(rule.name, obs.subject, rule.category, c.level, obs.value, None, c.value, variance,
                       _message(rule, obs, c.level, text))
    if c.kind == "forecast":
        bound = obs.lo if direction == "higher" else obs.hi
        outside = _finite(bound) and ((obs.value < bound) if direction == "higher" else (obs.value > bound))
        variance = bad_side_variance(obs.value, bound, direction) if outside else None
        reference = bound
        what = "forecast interval bound"
    else:
        reference = obs.reference
        variance = bad_side_variance(obs.value, reference, direction)
        what = "target" if c.kind == "target" else f"{c.baseline_days} days earlier"
    level = level_for(variance, c.levels)
    if level is None:
        return None
    threshold = c.levels[level]
    text = f"{_fmt(obs.value, obs.unit)} vs {what} {_fmt(reference, obs.unit)} ({variance:.1%} on the bad side)"
    return Finding(rule.name, obs.subject, rule.category, level, obs.value, reference, threshold, variance,
                   _message(rule, obs, level, text))


def _message(rule: AlertRule, obs: Observation, level: AlertLevel, text: str) -> str:
    detail = f"; {obs.detail}" if obs.detail else ""
    return f"{level.value.upper()} {rule.title}: {obs.subject} {text}{detail}"


def evaluate_observations(rule: AlertRule, observations: Iterable[Observation]) -> list[Finding]:
    """One finding per breaching subject: the worst of that subject's observations.

    A storm of rows about the same subject (10,000 breaching readings of one machine) is one
    finding, at the most severe level any of them reached.
    """
    worst: dict[str, Finding] = {}
    for obs in observations:
        found = _judge(rule, obs)
        if found is None:
            continue
        held = worst.get(found.subject)
        if held is None or (found.level.rank, abs(found.variance or 0)) > (held.level.rank, abs(held.variance or 0)):
            worst[found.subject] = found
    return list(worst.values())
