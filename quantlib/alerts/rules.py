"""Alert rules and the alert policy: YAML under ``parameters/alerts/``, validated by pydantic.

A rule file holds ``rules:`` (a list of :class:`AlertRule`) and optional ``defaults:`` (owner,
recipients) for its rules; ``policy.yaml`` holds the :class:`AlertPolicy` (quiet hours, digest
time, escalation delay and the management team). Every problem is reported in one line naming
the file and the field.

>>> rules, policy = load_alerts("parameters/alerts")        # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from quantlib.config import validation_problems
from quantlib.errors import AlertLevel, QuantError
from quantlib.notify.twilio import is_e164

__all__ = ["AlertPolicy", "AlertRule", "AlertRuleError", "Comparison", "Escalation", "QuietHours", "Recipients",
           "CATEGORIES", "DEFAULT_LEVELS", "load_alerts", "load_policy", "load_rules"]

#: The spec's alert categories and the topics under each.
CATEGORIES = {
    "financial": ("cash flow", "profit margin", "collections", "revenue"),
    "operational": ("utilisation", "equipment downtime", "quality", "efficiency", "capacity"),
    "customer": ("satisfaction decline", "churn risk", "complaint spike"),
    "market": ("competitor activity", "demand changes", "pricing pressure"),
}
#: The spec's levels: info at 10 % variance, warning at 20 %, critical at 30 %.
DEFAULT_LEVELS = {AlertLevel.INFO: 0.10, AlertLevel.WARNING: 0.20, AlertLevel.CRITICAL: 0.30}
POLICY_FILE = "policy.yaml"


class AlertRuleError(QuantError, ValueError):
    """An alert rule or policy file is missing, unreadable or invalid (the message names file and field)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Recipients(_Model):
    """Who hears about an alert, per channel (addresses and numbers are not secrets; webhook URLs are,
    so Slack is named by its environment variable)."""

    email: tuple[str, ...] = ()
    sms: tuple[str, ...] = ()
    voice: tuple[str, ...] = ()
    whatsapp: tuple[str, ...] = ()
    slack_env: str | None = Field(None, description="name of the environment variable holding the webhook URL")

    @field_validator("sms", "voice", "whatsapp")
    @classmethod
    def _e164(cls, numbers):
        for number in numbers:
            if not is_e164(number):
                raise ValueError(f"{number!r} is not an E.164 phone number like +447700900123")
        return numbers

    def merged(self, other: "Recipients") -> "Recipients":
        """These recipients plus ``other``'s (order kept, no duplicates)."""
        def join(a, b):
            return tuple(dict.fromkeys((*a, *b)))
        return Recipients(email=join(self.email, other.email), sms=join(self.sms, other.sms),
                          voice=join(self.voice, other.voice), whatsapp=join(self.whatsapp, other.whatsapp),
                          slack_env=self.slack_env or other.slack_env)


class Comparison(_Model):
    """How a metric's value is judged.

    ``kind``
        ``target``: variance from the metric's target (a KPI's, or ``reference``);
        ``baseline``: variance from the same metric ``baseline_days`` earlier;
        ``forecast``: distance outside the metric's forecast interval, relative to the bound;
        ``threshold``: beyond a fixed ``value`` (``op`` says which side breaches), at ``level``.
    ``levels``
        For the variance kinds: the lowest bad-side variance of each level (a level fires at
        its threshold exactly; the highest crossed wins). Default the spec's 10 / 20 / 30 %.
    ``direction``
        Which side is better (``higher`` / ``lower``); default the metric's own.
    """

    kind: Literal["target", "baseline", "forecast", "threshold"] = "target"
    levels: dict[AlertLevel, float] = Field(default_factory=lambda: dict(DEFAULT_LEVELS))
    direction: Literal["higher", "lower"] | None = None
    reference: float | None = Field(None, description="target to compare with instead of the metric's own")
    baseline_days: int = Field(7, ge=1, le=3660)
    op: Literal["<", "<=", ">", ">="] | None = None
    value: float | None = None
    level: AlertLevel | None = None

    @model_validator(mode="after")
    def _consistent(self):
        if self.kind == "threshold":
            if self.op is None or self.value is None or self.level is None:
                raise ValueError("a threshold comparison needs op, value and level")
        else:
            if self.op is not None or self.value is not None or self.level is not None:
                raise ValueError(f"op, value and level belong to threshold comparisons, not {self.kind}")
            if not self.levels:
                raise ValueError("levels: at least one level")
            if any(v < 0 for v in self.levels.values()):
                raise ValueError("levels: variances are fractions >= 0 (0.10 is 10 %)")
        return self


class AlertRule(_Model):
    """One alert rule: a metric, how it is compared, its category, owner and recipients."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    metric: str = Field(description="a registered metric source: kpi:<name> or an engine output")
    params: dict[str, Any] = Field(default_factory=dict, description="arguments of the metric source")
    comparison: Comparison = Field(default_factory=Comparison)
    category: Literal["financial", "operational", "customer", "market"]
    topic: str | None = None
    owner: str
    recipients: Recipients = Field(default_factory=Recipients)
    enabled: bool = True

    @model_validator(mode="after")
    def _topic(self):
        if self.topic is not None and self.topic not in CATEGORIES[self.category]:
            raise ValueError(f"topic {self.topic!r} is not one of {self.category}'s: "
                             f"{', '.join(CATEGORIES[self.category])}")
        return self


class QuietHours(_Model):
    """Local hours in which non-critical alerts are held back (critical ones always go)."""

    start: dt.time = dt.time(22, 0)
    end: dt.time = dt.time(7, 0)

    def contains(self, local: dt.time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # across midnight


class Escalation(_Model):
    """A critical alert nobody acknowledges within ``after_minutes`` goes to the management team."""

    after_minutes: float = Field(15, gt=0)
    recipients: Recipients = Field(default_factory=Recipients)


class AlertPolicy(_Model):
    """What every rule shares: time zone, quiet hours, the digest and escalation."""

    timezone: str = "UTC"
    quiet_hours: QuietHours | None = None
    digest_at: dt.time = Field(dt.time(8, 0), description="local time after which the daily digest goes out")
    digest_recipients: Recipients = Field(default_factory=Recipients)
    escalation: Escalation = Field(default_factory=Escalation)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name):
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}") from None
        return name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class _RuleFile(_Model):
    defaults: dict[str, Any] = Field(default_factory=dict)
    rules: list[dict[str, Any]]


def _read_yaml(path: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AlertRuleError(f"{path}: file not found") from None
    except (OSError, yaml.YAMLError) as exc:
        raise AlertRuleError(f"{path}: cannot read: {exc}") from None


def _validate(model, data, where: str, what: str):
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise AlertRuleError(f"{where}: {'; '.join(validation_problems(exc, root=what))}") from None


def load_rules(folder: str | Path) -> list[AlertRule]:
    """Every rule of every ``*.yaml`` in ``folder`` except ``policy.yaml``, in file then list order.

    Raises
    ------
    AlertRuleError
        For an invalid file or rule, or a rule name used twice.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise AlertRuleError(f"{folder}: no alert-rule folder")
    rules: list[AlertRule] = []
    seen: dict[str, Path] = {}
    for path in sorted(folder.glob("*.yaml")):
        if path.name == POLICY_FILE:
            continue
        data = _read_yaml(path)
        if not isinstance(data, dict):
            raise AlertRuleError(f"{path}: an alert-rule file is a mapping with 'rules:'")
        spec = _validate(_RuleFile, data, str(path), "file")
        for i, raw in enumerate(spec.rules):
            if not isinstance(raw, dict):
                raise AlertRuleError(f"{path}: rules.{i}: a rule is a mapping")
            rule = _validate(AlertRule, {**spec.defaults, **raw}, f"{path}: rules.{i}", "rule")
            if rule.name in seen:
                raise AlertRuleError(f"{path}: rule {rule.name!r} is already defined in {seen[rule.name]}")
            seen[rule.name] = path
            rules.append(rule)
    return rules


def load_policy(folder: str | Path) -> AlertPolicy:
    """``folder/policy.yaml``, or the default policy when there is none."""
    path = Path(folder) / POLICY_FILE
    if not path.exists():
        return AlertPolicy()
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise AlertRuleError(f"{path}: the alert policy is a mapping of fields")
    return _validate(AlertPolicy, data, str(path), "policy")


def load_alerts(folder: str | Path) -> tuple[list[AlertRule], AlertPolicy]:
    """The rules and the policy of an alert folder."""
    return load_rules(folder), load_policy(folder)
