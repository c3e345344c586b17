"""Early warning before equipment failures on a generated company (issue 15).

    python -m benchmarks.maintenance [--company mixed_trades] [--scale 3] [--seed 11] [--train-days 365]
        [--window-days 60] [--only usage] [--spectral] [--out FILE.json]

A company is generated in memory; its daily telemetry (vibration, temperature, pressure) and
the ground truth of its failures (``equipment_failures``) are used. Features and detectors
learn on the first ``--train-days``; every later day is scored. Per detector: the failures
warned (an alert starting in the ``--window-days`` before a failure), the median lead time,
the share warned at least 7 days ahead, false alarms per 100 unit-months (alerts followed by
no failure of the unit within the window), and fit / predict seconds. The baseline is the
platforms' rule, fixed per-kind limits on the raw readings (``FixedThresholdDetector``).
Failures in the first window after the split are not scored (their warning window is not
fully observed) but still excuse the alerts before them.

Time to failure: the landmark Cox model (``TimeToFailureModel``, age and telemetry features)
and the age-only Weibull (``AgeWeibullModel``) learn on the training period (failures after it
unseen) and predict, every 14 days after it, each unit's survival over the next 60 days:
concordance of the 30-day survival with the observed time to the next failure, the integrated
Brier score over days 1-60, and the predicted against the observed 30-day failure rate per
quintile of the prediction.

Per failure mode of the truth (``equipment_failures.failure_mode``), each detector's failures,
recall and share warned a week ahead (``by_mode``): bearings and refrigerant leaks drift for
weeks, electrical faults for days to weeks, control boards give little warning.

Failure types: the failure-mode classifiers (``FailureModeClassifier``) trained on the failures
before the split, scored on the later ones, against each kind's most common mode.

``--spectral`` adds the weekly spectral peaks (``vibration_snapshots``): ``SpectralTrend``
learns on the snapshots before the split, each unit's baseline restarting after each recorded
failure (the repair renews the part); its alarms (a bearing-defect peak, BPFO or BPFI,
4 robust standard deviations above the unit's own baseline on two snapshots running) are
scored like the detectors' (episodes merged across the week between snapshots), per failure
mode, with the truth's bearing growth at each bearing failure's first alarm; the bearing
failures' lead times of every daily detector are listed next to them. The failure-type
classifiers are trained a second time with the spectral trend's features carried to days
(``spectral_daily``) as extra inputs (rows ``<model> + spectral``); the rows without them are
the figures above. ``waveforms``: the raw waveforms kept (each unit's last 8 weekly snapshots)
through ``waveform_features``, each feature's ROC AUC for the snapshots of a growing bearing
defect (the truth's ``bearing_growth > 0``) against the rest.

Usage drift (``usage``; ``--only usage`` runs just this): ``UsageChain`` (``quantlib.maintenance.usage``)
learns the fleet's operating-state matrix on the training period and scores every later unit-day,
its recent week's hourly transitions against the unit's own 90 days before (restarted at each
failure, from ``maintenance_events``): the AUC of each feature for "a failure within the
next 14 days", the rejection rate of the drift test at its nominal 1 % and 5 % on healthy
unit-days (outside every truth window ``drift_start`` .. ``failure_date``), and per failure mode
the share of failures with an alarm (1 %) in the 14 days before.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from quantlib.data.generate import generate_company
from quantlib.data.profile import load_profile
from quantlib.maintenance.failure_modes import FailureModeClassifier, failure_mode_report, failure_windows
from quantlib.maintenance.failure_time import (
    AgeWeibullModel,
    TimeToFailureModel,
    evaluate_time_to_failure,
    failure_events,
)
from quantlib.maintenance.health import health_features
from quantlib.maintenance.sensors import (
    ControlChartDetector,
    FixedThresholdDetector,
    IsolationForestDetector,
    SensorFeatures,
    alert_episodes,
    alert_lead_times,
    daily_readings,
)
from quantlib.maintenance.usage import UsageChain
from quantlib.maintenance.vibration import (
    SPECTRAL_PEAKS,
    SpectralTrend,
    spectral_alarms,
    spectral_daily,
    waveform_features,
)

PROFILES = Path(__file__).resolve().parents[1] / "parameters" / "companies"


def detectors() -> dict:
    """Name -> (detector, whether it reads the features or the raw readings)."""
    return {
        "cusum": (ControlChartDetector(method="cusum"), True),
        "ewma": (ControlChartDetector(method="ewma"), True),
        "isolation_forest": (IsolationForestDetector(), True),
        "fixed_threshold (baseline)": (FixedThresholdDetector(), False),
    }


def by_mode(per_failure: pd.DataFrame, mode: pd.Series, warned_days: int = 7) -> dict:
    """Per failure mode (the truth's): failures, recall and the share warned ``warned_days`` ahead."""
    out = {}
    for name, group in per_failure.groupby(mode.reindex(per_failure.index).to_numpy()):
        out[str(name)] = {"failures": int(len(group)), "recall": round(float(group["lead_days"].notna().mean()), 4),
                          "warned_share": round(float((group["lead_days"] >= warned_days).mean()), 4)}
    return out


def run(company, train_days: int = 365, window_days: int = 60, spectral: bool = False) -> dict:
    t = company.tables
    tic = time.perf_counter()
    readings = daily_readings(t["telemetry"], t["equipment"], t["weather"])
    split = readings["date"].min() + pd.Timedelta(days=train_days)
    features = SensorFeatures().fit(readings[readings["date"] < split]).transform(readings)
    feature_seconds = time.perf_counter() - tic
    failures = company.truth_tables["equipment_failures"]
    failures = failures[pd.to_datetime(failures["failure_date"]) >= split]
    scored_days = int((readings["date"] >= split).sum())
    results, per_failures = {}, {}
    for name, (detector, on_features) in detectors().items():
        data = features if on_features else readings
        tic = time.perf_counter()
        detector.fit(data[data["date"] < split])
        fit_seconds = time.perf_counter() - tic
        tic = time.perf_counter()
        alarms = detector.predict(data[data["date"] >= split])
        predict_seconds = time.perf_counter() - tic
        summary, per_failure = alert_lead_times(alert_episodes(alarms), failures, scored_days,
                                                window_days=window_days, observed_from=split)
        per_failures[name] = per_failure
        lead = per_failure["lead_days"].dropna()
        if "failure_mode" in failures:
            summary["by_mode"] = by_mode(per_failure, failures["failure_mode"])
        summary.update({
            "lead_days_quartiles": [float(q) for q in lead.quantile([0.25, 0.5, 0.75])] if len(lead) else None,
            "fit_seconds": round(fit_seconds, 3), "predict_seconds": round(predict_seconds, 3),
        })
        results[name] = summary
    all_failures = company.tables["maintenance_events"]
    all_failures = failure_events(all_failures)
    seen = all_failures[pd.to_datetime(all_failures["failure_date"]) < split]
    dates = pd.date_range(split, readings["date"].max() - pd.Timedelta(days=60), freq="14D")
    survival = {}
    fit_end = split - pd.Timedelta(days=1)
    variants = [("landmark_cox", features, ())]
    for label, sources in (("usage", ("usage",)), ("spectral", ("spectral",)), ("usage + spectral",
                                                                                 ("usage", "spectral"))):
        data, extra = health_features(features, all_failures, t.get("equipment_states"), fit_end=fit_end,
                                      snapshots=t.get("vibration_snapshots"), sources=sources)
        if len(extra):
            variants.append((f"landmark_cox + {label}", data, extra))
    models = [(name, TimeToFailureModel(horizon_days=90, extra_features=extra), data)
              for name, data, extra in variants]
    for name, model, data in (*models, ("age_weibull (baseline)", AgeWeibullModel(), features)):
        tic = time.perf_counter()
        if isinstance(model, TimeToFailureModel):
            model.fit(data[data["date"] < split], seen, end=split - pd.Timedelta(days=1))
        else:
            model.fit(data[data["date"] < split], seen)
        fit_seconds = time.perf_counter() - tic
        tic = time.perf_counter()
        scores = evaluate_time_to_failure(model, data, all_failures, dates, horizon_days=30, grid_days=60)
        survival[name] = {**scores, "fit_seconds": round(fit_seconds, 3),
                          "predict_seconds": round(time.perf_counter() - tic, 3)}
    failure_types = _failure_types(features, all_failures, split)
    usage = usage_drift(company, train_days)
    out = {
        "units": int(readings["equipment_id"].nunique()), "unit_days_scored": scored_days,
        "telemetry_rows": int(len(t["telemetry"])), "jobs": int(len(t["jobs"])),
        "split": str(split.date()), "window_days": window_days,
        "feature_seconds": round(feature_seconds, 2), "detectors": results, "time_to_failure": survival,
        "failure_types": failure_types, "usage": usage,
    }
    if spectral and len(t.get("vibration_snapshots", [])):
        out["spectral"] = _spectral(company, features, failures, all_failures, split, scored_days, window_days,
                                    per_failures)
    return out


def usage_drift(company, train_days: int = 365, horizon_days: int = 14) -> dict:
    """``UsageChain`` scored against the truth's failures and drift windows (see the module docstring)."""
    from sklearn.metrics import roc_auc_score

    states = company.tables["equipment_states"]
    split = states["date"].min() + pd.Timedelta(days=train_days)
    # Each failure restarts the unit's chain: the repaired unit is not judged against its pre-failure drift.
    resets = failure_events(company.tables["maintenance_events"]).rename(columns={"failure_date": "date"})
    tic = time.perf_counter()
    model = UsageChain().fit(states[states["date"] < split])
    scored = model.transform(states, resets=resets)
    seconds = time.perf_counter() - tic
    truth = company.truth_tables["equipment_failures"].sort_values("failure_date")
    # The next failure of the unit on or after each day (its drift window and date).
    days = scored.sort_values("date")
    nxt = pd.merge_asof(days, truth[["equipment_id", "failure_date", "drift_start", "failure_mode"]],
                        left_on="date", right_on="failure_date", by="equipment_id", direction="forward")
    ahead = (nxt["failure_date"] - nxt["date"]).dt.days
    nxt["soon"] = (ahead >= 1) & (ahead <= horizon_days)
    nxt["drifting"] = nxt["drift_start"].notna() & (nxt["date"] >= nxt["drift_start"])
    test = nxt[(nxt["date"] >= split) & nxt["drift_z"].notna()]
    healthy = test[~test["drifting"]]
    out = {"unit_days_scored": int(len(test)), "soon_unit_days": int(test["soon"].sum()),
           "fit_transform_seconds": round(seconds, 2),
           "auc": {c: round(float(roc_auc_score(test["soon"], test[c].fillna(0))), 4)
                   for c in ("drift_z", "fault_entry", "fault_share", "heavy_share", "hours_to_idle")},
           "false_alarm_rate": {"alpha_0.01": round(float((healthy["drift_p"] < 0.01).mean()), 4),
                                "alpha_0.05": round(float((healthy["drift_p"] < 0.05).mean()), 4)},
           "healthy_drift_z": {"mean": round(float(healthy["drift_z"].mean()), 3),
                               "sd": round(float(healthy["drift_z"].std()), 3)},
           "soon_drift_z_median": round(float(test.loc[test["soon"], "drift_z"].median()), 3)}
    warned = test[test["soon"]].groupby(["equipment_id", "failure_date"]).agg(
        mode=("failure_mode", "first"), alarm=("alarm", "any"))
    out["failures_warned_14d"] = {str(m): {"failures": int(len(g)), "warned": round(float(g["alarm"].mean()), 3)}
                                  for m, g in warned.groupby("mode")}
    return out


def _bearing_leads(per_failure: pd.DataFrame, mode: pd.Series) -> dict:
    """Bearing failures: warned, median lead and its quartiles."""
    bearing = per_failure[mode.reindex(per_failure.index).to_numpy() == "bearing"]
    lead = bearing["lead_days"].dropna()
    return {"failures": int(len(bearing)), "detected": int(len(lead)),
            "median_lead_days": float(lead.median()) if len(lead) else None,
            "lead_days_quartiles": [float(q) for q in lead.quantile([0.25, 0.5, 0.75])] if len(lead) else None}


def _spectral(company, features, failures, all_failures, split, scored_days, window_days, per_failures) -> dict:
    """The spectral trend's alarms against the daily detectors', and the classifiers with its features."""
    snaps = company.tables["vibration_snapshots"]
    # the failures recorded in maintenance_events renew the part: each restarts the unit's baseline
    resets = all_failures[["equipment_id", "failure_date"]].rename(columns={"failure_date": "date"})
    tic = time.perf_counter()
    trend_model = SpectralTrend().fit(snaps[snaps["ts"] < split], resets=resets[resets["date"] < split])
    trend = trend_model.transform(snaps, resets=resets)
    seconds = time.perf_counter() - tic
    alarms = spectral_alarms(trend)
    alarms = alarms[alarms["date"] >= split]
    # weekly snapshots: an alarm held over consecutive snapshots is one episode
    summary, per_failure = alert_lead_times(alert_episodes(alarms, merge_gap_days=8), failures, scored_days,
                                            window_days=window_days, observed_from=split)
    mode = failures["failure_mode"]
    summary["by_mode"] = by_mode(per_failure, mode)
    summary["bearing"] = _bearing_leads(per_failure, mode)
    truth = company.truth_tables.get("vibration_snapshots")
    if truth is not None:
        # how far the true defect had grown (0 to 1 at the failure) when the first alarm fired
        first = per_failure.dropna(subset=["first_alert"])
        first = first[mode.reindex(first.index).to_numpy() == "bearing"]
        grown = truth.assign(date=truth["ts"].dt.normalize())[["equipment_id", "date", "bearing_growth"]]
        at = first.merge(grown, left_on=["equipment_id", "first_alert"], right_on=["equipment_id", "date"],
                         how="left")["bearing_growth"]
        summary["bearing"]["true_growth_at_first_alarm_median"] = float(at.median()) if at.notna().any() else None
    summary["fit_transform_seconds"] = round(seconds, 3)
    daily = {name: _bearing_leads(pf, mode) for name, pf in per_failures.items()}
    days = spectral_daily(trend, features[["equipment_id", "date"]])
    extra = tuple(f"{p}_z" for p in SPECTRAL_PEAKS)
    with_spectral = features.merge(days[["equipment_id", "date", *extra]], on=["equipment_id", "date"], how="left")
    types = _failure_types(with_spectral, all_failures, split, extra=extra)
    return {"spectral_trend": summary, "daily_detectors_on_bearings": daily,
            "failure_types_with_spectral": types, "waveforms": _waveforms(company)}


def _waveforms(company) -> dict | None:
    """How well each waveform feature separates the kept snapshots of a growing bearing defect (the
    truth's bearing growth > 0) from the others: ROC AUC and the medians of both groups."""
    from sklearn.metrics import roc_auc_score

    waves = company.tables.get("vibration_waveforms")
    if waves is None or waves.empty:
        return None
    tic = time.perf_counter()
    features = waveform_features(waves, running_speed=company.tables["vibration_snapshots"])
    seconds = time.perf_counter() - tic
    truth = company.truth_tables["vibration_snapshots"][["equipment_id", "ts", "bearing_growth"]]
    features = features.merge(truth, on=["equipment_id", "ts"], how="left")
    growing = features["bearing_growth"] > 0
    out = {"snapshots": int(len(features)), "growing_defect": int(growing.sum()), "seconds": round(seconds, 3)}
    if 0 < growing.sum() < len(features):
        columns = ["rms", "crest_factor", "kurtosis", "kurtosis_high", "band_1x", "band_2x", "band_bpfo",
                   "band_bpfi", "band_high"]
        out["features"] = {c: {"auc": round(float(roc_auc_score(growing, features[c])), 3),
                               "median_growing": round(float(features.loc[growing, c].median()), 4),
                               "median_other": round(float(features.loc[~growing, c].median()), 4)}
                           for c in columns}
    return out


def _failure_types(features, failures, split, extra: tuple[str, ...] = ()) -> dict | None:
    """Failure-mode classifiers trained on the failures before ``split``, scored on those after."""
    if "failure_mode" not in failures or failures["failure_mode"].isna().all():
        return None
    windows = failure_windows(features, failures[failures["failure_mode"].notna()], extra=extra)
    before = windows["failure_date"] < split
    train, test = windows[before], windows[~before]
    out = {"train_failures": int(len(train)), "test_failures": int(len(test))}
    # baseline: each kind's most common mode in training
    usual = train.groupby("kind")["failure_mode"].agg(lambda m: m.value_counts().index[0])
    guess = test["kind"].map(usual).fillna(train["failure_mode"].value_counts().index[0])
    recalls = {m: float((guess[test["failure_mode"] == m] == m).mean()) for m in sorted(test["failure_mode"].unique())}
    out["kind_majority (baseline)"] = {"macro_recall": round(float(np.mean(list(recalls.values()))), 4),
                                       "recall": {m: round(r, 4) for m, r in recalls.items()}}
    for name in ("random_forest", "gradient_boosting"):
        tic = time.perf_counter()
        model = FailureModeClassifier(model=name, extra_features=extra).fit(train)
        report = failure_mode_report(model, test)
        out[name + (" + spectral" if extra else "")] = {
            "macro_recall": report["macro_recall"], "accuracy": report["accuracy"], "recall": report["recall"],
            "confusion": report["confusion"].to_dict(orient="index"),
            "fit_seconds": round(time.perf_counter() - tic, 3)}
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--company", default="mixed_trades")
    parser.add_argument("--scale", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--train-days", type=int, default=365)
    parser.add_argument("--window-days", type=int, default=60)
    parser.add_argument("--spectral", action="store_true",
                        help="add the spectral trend of the weekly vibration snapshots (alarms, classifier inputs)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--only", choices=["usage"], default=None, help="run one section only")
    args = parser.parse_args(argv)
    company = generate_company(load_profile(PROFILES / f"{args.company}.yaml"), seed=args.seed, scale=args.scale)
    if args.only == "usage":
        result = {"usage": usage_drift(company, args.train_days)}
    else:
        result = run(company, args.train_days, args.window_days, spectral=args.spectral)
    result.update({"company": args.company, "scale": args.scale, "seed": args.seed})
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
