"""The estimator contract, checked on every frame-based estimator in quantlib.

scikit-learn's conventions, as the project holds them (the base ``Forecaster`` of
``quantlib.forecast.base`` states them for forecasters):

* ``__init__`` only stores its parameters: constructing does no work and sets exactly the
  attributes ``get_params`` returns;
* ``get_params`` / ``set_params`` / :func:`sklearn.base.clone` round-trip the parameters;
* ``fit`` returns ``self``, leaves the parameters as they were, and every attribute it adds
  ends in ``_`` (or is private, with a leading ``_``);
* using an estimator before ``fit`` raises :class:`sklearn.exceptions.NotFittedError`.

The data are tiny: this checks the interface, not the models. Estimators that sample with
PyMC (``HierarchicalDemandModel``, ``BayesianBetaGeoModel``) are checked without a fit,
which would take minutes here. Estimators on numeric arrays also pass scikit-learn's own
``check_estimator`` (``test_sklearn_estimator_checks`` at the end).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from quantlib.customers.churn import (
    LearnedChurnModel,
    RuleChurnScorer,
    TabularChurnClassifier,
)
from quantlib.customers.clv import (
    BayesianBetaGeoModel,
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    simulate_bgnbd,
)
from quantlib.customers.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from quantlib.customers.recommend import (
    ContentScorer,
    HybridRecommender,
    ItemCFScorer,
    PopularityScorer,
)
from quantlib.customers.segments import (
    CLUSTER_FEATURES,
    HierarchicalSegmenter,
    KMeansSegmenter,
    OnlineSegmenter,
)
from quantlib.data.contracts import TRANSITION_COLUMNS
from quantlib.errors import QuantError
from quantlib.forecast import (
    AutoARIMA,
    AutoETS,
    AutoForecaster,
    CapacityPlanner,
    CashFlowSimulator,
    DemandForecaster,
    Drift,
    Ensemble,
    ForecastInputError,
    HierarchicalDemandModel,
    Naive,
    QuoteConversionModel,
    RevenueModel,
    SeasonalNaive,
    Theta,
)
from quantlib.forecast.models import Comb
from quantlib.maintenance import (
    AgeReplacementPolicy,
    AgeWeibullModel,
    ControlChartDetector,
    FailureModeClassifier,
    FixedThresholdDetector,
    IsolationForestDetector,
    SensorFeatures,
    SpectralTrend,
    TimeToFailureModel,
    UsageChain,
    WeibullLifeModel,
)
from quantlib.maintenance.failure_time import unit_ages
from tests.forecast.test_capacity import tiny as tiny_capacity_snapshot
from tests.forecast.test_cashflow import tiny_company
from tests.forecast.test_pipeline import _quotes

RNG_SEED = 0


# ----------------------------------------------------------------------------- small data

def _long_series() -> pd.DataFrame:
    """Two monthly series of 30 points: seasonal, positive."""
    ds = pd.date_range("2021-01-01", periods=30, freq="MS")
    t = np.arange(30)
    frames = [pd.DataFrame({"series_id": sid, "ds": ds, "y": 100 + k * 10 + 10 * np.sin(2 * np.pi * t / 12) + t})
              for k, sid in enumerate(["a", "b"])]
    return pd.concat(frames, ignore_index=True)


def _demand() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Weekly job counts of two series in two regions, and their regressors."""
    rng = np.random.default_rng(RNG_SEED)
    ds = pd.date_range("2022-01-03", periods=80, freq="W-MON")
    series = pd.concat([pd.DataFrame({"series_id": f"hvac/{r}", "ds": ds, "y": rng.poisson(20, len(ds)),
                                      "service_line": "hvac", "region": r}) for r in ("north", "south")],
                       ignore_index=True)
    factors = pd.concat([pd.DataFrame({"region": r, "ds": ds, "storm_window": rng.uniform(0, 0.3, len(ds)),
                                       "holiday": rng.choice([0.0, 1 / 7], len(ds)),
                                       "consumer_confidence": 100 + rng.normal(0, 2, len(ds))})
                         for r in ("north", "south")], ignore_index=True)
    return series, factors


def _churn_snapshot(n: int = 240) -> tuple[pd.DataFrame, np.ndarray]:
    """A customer snapshot with every model feature, and churn labels that follow the rules."""
    rng = np.random.default_rng(RNG_SEED)
    X = pd.DataFrame({c: rng.uniform(0, 1, n) for c in NUMERIC_FEATURES})
    X["avg_rating"] = rng.uniform(3, 10, n)
    X["last_contact_days"] = rng.integers(0, 120, n).astype(float)
    X["disputes"] = rng.integers(0, 2, n).astype(float)
    for c in CATEGORICAL_FEATURES:
        X[c] = rng.choice(["x", "y", "z"], n)
    X.insert(0, "customer_id", [f"C{i}" for i in range(n)])
    X["frequency_lifetime"] = rng.integers(0, 10, n)
    X.loc[0, "frequency_lifetime"] = 1
    y = ((X["frequency_trend"] < 0.4) | (X["late_payment_share"] > 0.7)).to_numpy().astype(int)
    return X, y


def _segment_features(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(RNG_SEED)
    f = pd.DataFrame({c: rng.normal(0, 1, n) for c in CLUSTER_FEATURES})
    f["recency_days"] = rng.integers(0, 300, n).astype(float)
    f.insert(0, "customer_id", [f"C{i}" for i in range(n)])
    f["n_jobs"] = rng.integers(1, 10, n)
    for c in ("spend_lifetime", "inbound_contacts", "quotes_decided"):  # profile columns
        f[c] = rng.uniform(0, 10, n)
    return f


def _rfm() -> pd.DataFrame:
    rfm = simulate_bgnbd(300, r=0.243, alpha=4.414, a=0.793, b=2.426, T=39.0, seed=RNG_SEED)
    spend = np.random.default_rng(RNG_SEED).gamma(6.0, 5.0, len(rfm))
    return rfm.assign(monetary_value=np.where(rfm["frequency"] > 0, spend, 0.0))


def _history(n: int = 300) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Completed jobs in the format of ``recommend.service_history``."""
    rng = np.random.default_rng(RNG_SEED)
    lines = rng.choice(["hvac", "plumbing"], n)
    types = rng.choice(["repair", "install", "maintenance"], n)
    history = pd.DataFrame({
        "customer_id": rng.choice([f"C{i}" for i in range(40)], n), "service_line": lines, "job_type": types,
        "item": [f"{a}/{b}" for a, b in zip(lines, types)],
        "date": pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D"),
        "on_contract": rng.random(n) < 0.2, "customer_type": rng.choice(["residential", "commercial"], n),
    })
    return history.sort_values("date").reset_index(drop=True), pd.Timestamp("2023-10-01")


def _segmented_quotes():
    q = _quotes()
    return q.assign(segment=np.where(np.arange(len(q)) % 3 == 0, "volume", "standard"))


# ----------------------------------------------------------------------------- the cases

@dataclass
class Case:
    """One estimator: how to build it, fit it and use it."""

    id: str
    make: Callable[[], Any]
    fit: Callable[[Any], Any] | None  # returns what fit returned; None: not fitted here (see module docstring)
    use: Callable[[Any], Any]  # a method that needs the fitted state


def _usage_states() -> pd.DataFrame:
    """Two units' daily transition counts over 30 days (24 transitions a day, random)."""
    rng = np.random.default_rng(RNG_SEED)
    counts = rng.multinomial(24, np.full(16, 1 / 16), size=60)
    return pd.DataFrame({"equipment_id": np.repeat(["E1", "E2"], 30),
                         "date": np.tile(pd.date_range("2024-01-01", periods=30), 2),
                         **dict(zip(TRANSITION_COLUMNS, counts.T))})


def _readings() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    days = pd.date_range("2024-01-01", periods=40)
    return pd.concat([pd.DataFrame({"equipment_id": unit, "date": days, "kind": "k", "ambient": rng.normal(10, 5, 40),
                                    "vibration": rng.lognormal(0.5, 0.1, 40), "temperature": rng.normal(55, 2, 40),
                                    "pressure": rng.normal(100, 2, 40)}) for unit in ("E1", "E2")], ignore_index=True)


def _sensor_features() -> pd.DataFrame:
    return SensorFeatures(min_baseline=5).fit_transform(_readings())


def _sensor_failures() -> pd.DataFrame:
    return pd.DataFrame({"equipment_id": ["E1", "E2", "E1"],
                         "failure_date": pd.to_datetime(["2024-01-15", "2024-01-20", "2024-02-01"])})


def _sensor_state() -> pd.DataFrame:
    return unit_ages(_sensor_features(), _sensor_failures()).tail(4)


def _snapshots() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    weeks = pd.date_range("2024-01-04 10:00", periods=20, freq="7D")
    return pd.concat([pd.DataFrame({"equipment_id": unit, "ts": weeks,
                                    **{p: rng.lognormal(0, 0.2, 20) for p in ("amp_1x", "amp_2x", "amp_bpfo",
                                                                              "amp_bpfi", "rms")}})
                      for unit in ("E1", "E2")], ignore_index=True)


def _mode_windows() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    cols = {f"{s}_{k}": rng.normal(0, 1, 30) for s in ("vibration", "temperature", "pressure")
            for k in ("last", "max", "mean", "slope")}
    return pd.DataFrame({"equipment_id": [f"E{i}" for i in range(30)], "kind": ["a", "b"] * 15,
                         "failure_mode": ["bearing", "electrical", "leak"] * 10, **cols})


def _lives() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    load = rng.uniform(0, 1, 60)
    return pd.DataFrame({"age": 100 * np.exp(-0.3 * load) * rng.weibull(1.5, 60), "failed": rng.random(60) < 0.8,
                         "load": load}).astype({"failed": int})


def _policy_data() -> tuple[pd.DataFrame, pd.DataFrame]:
    lives = _lives().rename(columns={"age": "time", "failed": "event"}).assign(kind="k")
    costs = pd.DataFrame({"preventive_cost": [10.0], "failure_cost": [100.0], "current_interval_days": [30.0]},
                         index=pd.Index(["k"], name="kind"))
    return lives, costs


def _cases() -> list[Case]:
    long = _long_series
    demand = _demand

    def snap():
        return _churn_snapshot()[0]

    def labels():
        return _churn_snapshot()[1]

    feats = _segment_features
    hist = _history

    def forecaster(cls, **kw):
        return Case(cls.__name__, lambda: cls(**kw), lambda est: est.fit(long()), lambda est: est.predict(3))

    def online_base():
        return KMeansSegmenter(n_segments=3, n_init=2).fit(feats())

    return [
        forecaster(Naive), forecaster(SeasonalNaive), forecaster(Drift), forecaster(Theta), forecaster(Comb),
        forecaster(AutoETS, candidates=("ANN",)), forecaster(AutoARIMA, seasonal=False),
        Case("Ensemble", lambda: Ensemble(members=[Naive(), Drift()]), lambda est: est.fit(long()),
             lambda est: est.predict(3)),
        Case("AutoForecaster", lambda: AutoForecaster(candidates=[Naive(), Drift()]), lambda est: est.fit(long()),
             lambda est: est.predict(3)),
        Case("DemandForecaster", lambda: DemandForecaster(model=SeasonalNaive()), lambda est: est.fit(*demand()),
             lambda est: est.predict(3)),
        Case("HierarchicalDemandModel", HierarchicalDemandModel, None, lambda est: est.predict(3)),
        Case("QuoteConversionModel", QuoteConversionModel, lambda est: est.fit(_quotes()),
             lambda est: est.predict_proba(_quotes())),
        Case("QuoteConversionModel[segment]", lambda: QuoteConversionModel(price_terms="segment"),
             lambda est: est.fit(_segmented_quotes()), lambda est: est.predict_proba(_segmented_quotes())),
        Case("RevenueModel", lambda: RevenueModel(horizons=(30,), n_origins=1), lambda est: est.fit(tiny_company()),
             lambda est: est.forecast()),
        Case("CashFlowSimulator", lambda: CashFlowSimulator(horizon=30, n_sims=20),
             lambda est: est.fit(tiny_company()), lambda est: est.forecast()),
        Case("CapacityPlanner", lambda: CapacityPlanner(periods=(7,)), lambda est: est.fit(tiny_capacity_snapshot()),
             lambda est: est.forecast()),
        Case("RuleChurnScorer", RuleChurnScorer, lambda est: est.fit(snap()), lambda est: est.predict_proba(snap())),
        Case("LearnedChurnModel", lambda: LearnedChurnModel(max_iter=10, min_samples_leaf=10),
             lambda est: est.fit(snap(), labels()), lambda est: est.predict_proba(snap())),
        Case("TabularChurnClassifier", lambda: TabularChurnClassifier(max_iter=10, min_samples_leaf=10),
             lambda est: est.fit(snap()[NUMERIC_FEATURES + CATEGORICAL_FEATURES], labels()),
             lambda est: est.predict_proba(snap()[NUMERIC_FEATURES + CATEGORICAL_FEATURES])),
        Case("KMeansSegmenter", lambda: KMeansSegmenter(n_segments=3, n_init=2), lambda est: est.fit(feats()),
             lambda est: est.predict(feats())),
        Case("HierarchicalSegmenter", lambda: HierarchicalSegmenter(n_segments=3), lambda est: est.fit(feats()),
             lambda est: est.predict(feats())),
        Case("OnlineSegmenter", lambda: OnlineSegmenter(online_base()), lambda est: est.fit(),
             lambda est: est.predict(feats())),
        Case("BetaGeoModel", BetaGeoModel, lambda est: est.fit(_rfm()), lambda est: est.predict(_rfm(), 10)),
        Case("ModifiedBetaGeoModel", ModifiedBetaGeoModel, lambda est: est.fit(_rfm()),
             lambda est: est.predict(_rfm(), 10)),
        Case("GammaGammaModel", GammaGammaModel, lambda est: est.fit(_rfm()), lambda est: est.predict(_rfm())),
        Case("BayesianBetaGeoModel", BayesianBetaGeoModel, None, lambda est: est.predict(_rfm(), 10)),
        Case("PopularityScorer", PopularityScorer, lambda est: est.fit(*hist()), lambda est: est.scores(["C1"])),
        Case("ItemCFScorer", ItemCFScorer, lambda est: est.fit(*hist()), lambda est: est.scores(["C1"])),
        Case("ContentScorer", ContentScorer, lambda est: est.fit(*hist()),
             lambda est: est.scores(["C1"], pd.Timestamp("2023-10-01"))),
        Case("HybridRecommender", HybridRecommender, lambda est: est.fit(*hist()), lambda est: est.recommend(["C1"])),
        Case("WeibullLifeModel", WeibullLifeModel, lambda est: est.fit(_lives(), time="age", event="failed"),
             lambda est: est.median_life()),
        Case("WeibullLifeModel[aft]", WeibullLifeModel,
             lambda est: est.fit(_lives(), time="age", event="failed", covariates=["load"]),
             lambda est: est.summary({"load": 1.0})),
        Case("AgeReplacementPolicy", AgeReplacementPolicy,
             lambda est: est.fit(*_policy_data()), lambda est: est.cost_rate("k", 30.0)),
        Case("SensorFeatures", SensorFeatures, lambda est: est.fit(_readings()),
             lambda est: est.transform(_readings())),
        Case("ControlChartDetector", ControlChartDetector, lambda est: est.fit(_sensor_features()),
             lambda est: est.predict(_sensor_features())),
        Case("IsolationForestDetector", lambda: IsolationForestDetector(n_estimators=10),
             lambda est: est.fit(_sensor_features()), lambda est: est.predict(_sensor_features())),
        Case("FixedThresholdDetector", FixedThresholdDetector, lambda est: est.fit(_readings()),
             lambda est: est.predict(_readings())),
        Case("TimeToFailureModel", lambda: TimeToFailureModel(horizon_days=20),
             lambda est: est.fit(_sensor_features(), _sensor_failures()),
             lambda est: est.survival_at(_sensor_state(), [5, 10])),
        Case("FailureModeClassifier", lambda: FailureModeClassifier(), lambda est: est.fit(_mode_windows()),
             lambda est: est.predict(_mode_windows())),
        Case("FailureModeClassifier[gb]", lambda: FailureModeClassifier(model="gradient_boosting"),
             lambda est: est.fit(_mode_windows()), lambda est: est.predict_proba(_mode_windows())),
        Case("SpectralTrend", SpectralTrend, lambda est: est.fit(_snapshots()),
             lambda est: est.transform(_snapshots())),
        Case("AgeWeibullModel", AgeWeibullModel, lambda est: est.fit(_sensor_features(), _sensor_failures()),
             lambda est: est.survival_at(_sensor_state(), [5, 10])),
        Case("UsageChain", lambda: UsageChain(baseline_days=10, min_baseline_days=5),
             lambda est: est.fit(_usage_states()), lambda est: est.transform(_usage_states())),
    ]


CASES = _cases()
FITTED = [c for c in CASES if c.fit is not None]


def _same(a, b) -> bool:
    """Parameter values equal, estimators (cloned, so not identical) by their parameters."""
    if hasattr(a, "get_params") and hasattr(b, "get_params"):
        return type(a) is type(b) and all(_same(v, b.get_params(deep=False)[k])
                                          for k, v in a.get_params(deep=False).items())
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if a is b:
        return True
    try:
        return bool(np.all(a == b))
    except (TypeError, ValueError):  # values that do not compare element-wise
        return False


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_init_only_stores_the_parameters(case):
    est = case.make()
    params = est.get_params(deep=False)
    assert set(vars(est)) == set(params), f"{case.id}.__init__ sets {sorted(set(vars(est)) ^ set(params))}"
    signature = inspect.signature(type(est).__init__).parameters
    default = type(est)(**{k: v for k, v in params.items() if signature[k].default is inspect.Parameter.empty})
    for name, value in default.get_params(deep=False).items():
        if signature[name].default is not inspect.Parameter.empty:
            assert value is signature[name].default, f"{case.id}.{name} is not its default as given"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_get_params_set_params_and_clone_round_trip(case):
    est = case.make()
    params = est.get_params(deep=False)
    assert est.set_params(**params) is est
    assert all(_same(v, est.get_params(deep=False)[k]) for k, v in params.items())
    copy = clone(est)
    assert type(copy) is type(est) and copy is not est
    assert all(_same(v, copy.get_params(deep=False)[k]) for k, v in params.items())
    with pytest.raises(ValueError):
        est.set_params(no_such_parameter=1)


@pytest.mark.parametrize("case", FITTED, ids=lambda c: c.id)
def test_fit_returns_self_and_adds_only_trailing_underscore_attributes(case):
    est = case.make()
    params = dict(est.get_params(deep=False))
    before = set(vars(est))
    assert case.fit(est) is est
    added = set(vars(est)) - before
    assert added, f"{case.id}.fit learned nothing visible"
    bad = sorted(a for a in added if not (a.endswith("_") or a.startswith("_")))
    assert not bad, f"{case.id}.fit sets {bad}: fitted attributes end in '_'"
    assert all(_same(v, est.get_params(deep=False)[k]) for k, v in params.items()), "fit changed a parameter"
    case.use(est)  # and the fitted estimator can be used


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_use_before_fit_raises_not_fitted_error(case):
    with pytest.raises(NotFittedError):
        case.use(case.make())


def test_forecast_input_errors_are_quant_errors_and_value_errors():
    with pytest.raises(QuantError) as caught:
        Naive().fit(pd.DataFrame({"series_id": ["a"], "ds": [1]}))
    assert isinstance(caught.value, ForecastInputError) and isinstance(caught.value, ValueError)


# ----------------------------------------------------------------------------- scikit-learn's checks

# TabularChurnClassifier takes numeric arrays as well as tables; every check applies.
@parametrize_with_checks([TabularChurnClassifier(max_iter=10, min_samples_leaf=2)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
