"""Alerts: rules over KPIs, risk indicators and engine outputs; one channel for every later sender.

Rules are YAML under ``parameters/alerts/`` (:mod:`quantlib.alerts.rules`); a rule's metric is
read through a registry of sources (:mod:`quantlib.alerts.sources`), judged against a target,
a baseline, a forecast interval or a fixed threshold (:mod:`quantlib.alerts.evaluate`), and the
resulting alerts are kept in the operational store (:mod:`quantlib.data.opstore`) by the engine
(:mod:`quantlib.alerts.engine`: dedup, digest, acknowledge / snooze / resolve, escalation,
quiet hours), which sends through the channels of :mod:`quantlib.alerts.channels` (dashboard,
e-mail, Slack, SMS and voice through Twilio). ``quant alerts`` is the command line.

>>> from quantlib.alerts import check_lake
>>> outcome = check_lake("data/demo/mixed_trades/lake", dry_run=True)     # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from quantlib.alerts.engine import AlertEngine, AlertError, CheckOutcome, Delivery, parse_duration
from quantlib.alerts.evaluate import Finding, bad_side_variance, evaluate_observations, level_for
from quantlib.alerts.rules import AlertPolicy, AlertRule, AlertRuleError, load_alerts, load_policy, load_rules
from quantlib.alerts.sources import MetricContext, MetricUnavailable, Observation, metric_source

__all__ = ["AlertEngine", "AlertError", "AlertPolicy", "AlertRule", "AlertRuleError", "CheckOutcome", "Delivery",
           "Finding", "MetricContext", "MetricUnavailable", "Observation", "bad_side_variance", "check_lake",
           "default_rules_folder", "evaluate_observations", "level_for", "load_alerts", "load_policy", "load_rules",
           "metric_source", "parse_duration"]


def default_rules_folder() -> Path:
    """``<project root>/parameters/alerts``."""
    from quantlib.config import project_root

    return project_root() / "parameters" / "alerts"


def check_lake(lake, *, as_of=None, rules_folder=None, store=None, dry_run: bool = False, now=None,
               channels=None, env=None) -> CheckOutcome:
    """Evaluate the rules of ``rules_folder`` on a lake's gold and apply them to ``store``.

    Parameters
    ----------
    lake : Lake, path or DuckDB connection
        Anything :func:`~quantlib.data.gold.open_gold` takes.
    as_of : date-like, optional
        Default gold's as-of date.
    rules_folder : path, optional
        Default :func:`default_rules_folder`.
    store : OpsStore, optional
        Default :func:`~quantlib.data.opstore.open_ops_store`.
    """
    from quantlib.data.gold import open_gold, to_date
    from quantlib.data.opstore import open_ops_store

    rules, policy = load_alerts(rules_folder or default_rules_folder())
    store = store or open_ops_store()
    engine = AlertEngine(store, rules, policy, channels=channels, now=now, env=env)
    with open_gold(lake) as con:
        context = MetricContext(con, None if as_of is None else to_date(as_of))
        return engine.check(context, dry_run=dry_run)
