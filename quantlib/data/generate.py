"""Seeded sample-company generator.

``generate_company(profile, seed, scale)`` makes every core table of a field-service
company from a :class:`~quantlib.data.profile.CompanyProfile`; ``write_company`` writes
them as Parquet, with the ground truth under ``_truth/`` so that tests can check that the
engines recover what was put in. Everything is vectorised with NumPy, so a company with a
million jobs takes seconds, and the same seed gives byte-for-byte the same files.

How demand is made (the ground truth, also written to ``_truth/ground_truth.json``)
--------------------------------------------------------------------------------
* Each customer has an annual demand rate per service line (a primary line, sometimes a
  secondary one) and is active from its creation until it churns (or the end).
* A job's day is drawn from the daily intensity of its (service line, region):
  ``seasonal factor (the profile's, by meteorological season) x weekday factor x holiday
  factor x storm factor``; the roofing storm factor is 2.5 on a storm day in the region
  and the six days after it (the weather table's ``storm`` column). The intensity is
  normalised to mean 1, so a customer's rate is in jobs per year.
* Growth: customers are acquired at a rate that grows by ``annual_growth`` a year on top
  of replacing churn; technicians are hired at the same pace.
* Churn: an annual hazard per customer, ``base x exp(0.9 late_payer + 0.8 disputer +
  0.35 (8 - satisfaction_base) - 0.9 contract)``. In the 180 days before it churns, a
  customer's demand drops to 35 % (a decline far beyond the 30 % threshold) and its ratings
  fall by 1.5 points; after churning it is silent.
* Technicians differ in speed (labour hours / scheduled hours), callback rate and a
  rating effect.
* Quotes (``job_type`` install or repair): every install event and a quarter of the repair
  events (major repairs, ``MAJOR_REPAIR_QUOTE_SHARE``) go through a lead and a written quote
  first. The list amount follows the job's scope: the line's ``avg_ticket`` x 4.5 for an
  install or x 2.5 for a major repair, x 1.25 for a commercial customer's larger job, x
  lognormal(0, 0.4); the won job's base hours are x 2.5 for a major repair and x 1.25 for a
  commercial customer (``QUOTE_HOURS_SCOPE``, ``COMMERCIAL_QUOTE_SCOPE``). A won quote becomes a job of
  its type (``quote_id`` set, revenue the quoted amount); a lost or open quote's job is never
  done. Repairs are quoted and decided faster than installs (``QUOTE_TIMING``). Quotes are won
  with probability
  ``sigmoid(0.6 + b (price_ratio - 1) + 0.7 urgent + 0.04 (consumer_confidence - 100))``
  with the price slope ``b = b_segment + b_line + 2.0 urgent``: by the quote's segment on
  its day (``quantlib.data.price_segments.quote_segments``, the rule the win model's
  features use: ``premium_loyal`` -2.0: an active maintenance contract or a priority
  account; ``volume`` -6.0: other commercial; ``price_sensitive`` -9.0: other residential
  acquired through advertising; ``new`` -6.5: other residential created less than a year
  before; ``standard`` -4.0: the rest), by service line (hvac 0, plumbing -1.0, electrical
  +0.5, roofing +1.0, others 0) and urgency (urgent quotes are less price sensitive). Each
  quote's job type, segment, slope and p_win are in the truth table ``quotes``.
* Late payers take about 55 days to pay instead of 15 (residential) or 28 (commercial);
  disputes add 35 days and are sometimes written off (``written_off_at``: the day the
  dispute would otherwise have been paid).
* Economic indicators of a month are published on the 15th of the next month (``published_at``).
* Equipment wears: each unit's virtual age has a Weibull hazard (shape 2.2, scale 240 days
  heavy, 310 diagnostic); preventive maintenance is due every 90 days, 12 % is skipped and the
  rest done 0-7 days late, and each completed one halves the age (imperfect repair); a
  failure's repair makes the unit as good as new (``RELIABILITY``, ``_age_process``; truth tables
  ``equipment_reliability`` per unit and ``equipment_failures.virtual_age_days``). Units whose
  maintenance is skipped fail more. Each failure has a mode drawn from its
  equipment kind's mix (``FAILURE_MODE_MIX``; truth table ``equipment_failures.failure_mode``,
  and the failure's maintenance event records it) with its own signature in the daily
  readings (``FAILURE_SIGNATURES``): a bearing's vibration climbs to about 3x its baseline
  over 21-42 days (temperature +4 C); an electrical fault runs hot (+9 C) and noisy over
  10-28 days with little vibration; a refrigerant leak loses up to 15 psi and gains 10 C over
  28-56 days; a control board gives 2-7 days of short erratic excursions, little warning.
* Operating states (``equipment_states``: hours a day idle, normal, heavy, fault): an hourly
  Markov chain per unit-day, starting idle at midnight; in working hours (7-19) its kind's
  matrix mixed with a pre-failure matrix (heavy and fault far likelier) by the day's drift
  toward a failure, at night a mostly idle one (``OPERATING_CHAINS``); no row on days down.
  The row also counts the day's 24 hourly transitions, ``<from>_to_<to>`` (16 integer columns,
  ``TRANSITION_COLUMNS``): the first is from the idle start at midnight to hour 0's state (the
  previous day's last hour is not carried over: each day restarts idle), so the hours in a state
  equal the transitions into it, and the transitions out of it differ only by the day's first
  and last state.
* Energy meter (``equipment_states.energy_kwh``, kWh a day): the day's hours in each state x
  the kind's power draw in that state (``ENERGY["power_kw"]``, idle small, heavy largest) x
  the unit's power factor (lognormal, sd 0.1) x a cooling load ``1 + 0.015 max(temp_c - 18, 0)``
  of the region's day x ``(1 + rate x wear_age_years)`` x lognormal(0, 0.05) noise. The wear age
  is the virtual age above (halved by a completed preventive maintenance, 0 once a failure is
  repaired); the rate per year is the unit's, lognormal around a kind median (heavy 0.25,
  diagnostic 0.15; sd of log 0.5), three times that for 15 % of units. Truth:
  ``equipment_reliability.degradation_rate_per_year`` and ``power_factor``, and the daily
  wear age in the truth table ``equipment_wear``. Drawn from a random stream of its own, so
  every other table is what it would be without the meter.
* Vibration snapshots (``vibration_snapshots``), one a week per unit: a 0.5 s waveform at
  2,048 Hz of the running speed (1x, imbalance), 2x and the bearing defect frequencies (BPFO,
  BPFI) plus noise, stored as its spectrum's peaks; before a bearing failure the defect (x21,
  x11) and imbalance (x2) amplitudes grow over twice the failure's lead days (``SNAPSHOT``),
  and the spall's impacts appear: a decaying ring of the structure's resonance (620 Hz, 1.5 ms)
  struck once per outer-race pass (at BPFO), up to 4 mm/s at the failure (``SNAPSHOT["impacts"]``),
  so kurtosis and crest factor rise; the stored peaks are measured on the waveform with the
  impacts. The raw waveforms of each unit's last ``recent_waveforms`` (8) weekly snapshots
  before the data end are kept (``vibration_waveforms``, one row per snapshot: ``equipment_id,
  ts, sample_rate_hz, samples, resolution_mm_s, data``, ``data`` the samples as little-endian
  int16 counts of 0.001 mm/s, base64; one row per sample would be 4.9 M rows at scale 42 and
  tripled the ingest), as condition-monitoring systems keep recent raw data and the trend of
  the rest; the truth table
  ``vibration_snapshots`` has each snapshot's bearing growth, true amplitudes and impact size.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import holidays
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from quantlib.data.contracts import (
    CONTRACTS,
    FAILURE_MODES,
    OPERATING_STATES,
    QUOTED_JOB_TYPES,
    TABLE_ORDER,
    TRANSITION_COLUMNS,
    default_published_at,
)
from quantlib.data.price_segments import QUOTE_SEGMENTS, quote_segments
from quantlib.data.profile import MONTH_SEASON, SEASONS, WEEKDAYS, CompanyProfile

# Fixed effects of the generator: documented here and written to the ground truth.
WEEKDAY_FACTORS = (1.15, 1.10, 1.05, 1.05, 1.00, 0.50, 0.15)  # Monday .. Sunday
HOLIDAY_FACTOR = 0.25
STORM_MULTIPLIER = 2.5
STORM_WINDOW_DAYS = 7  # the storm day and the six days after it
STORM_MONTHS = (4, 5, 6, 7, 8)
DECLINE_DAYS = 180
DECLINE_RATE = 0.35
DECLINE_RATING_DROP = 1.5
CHURN_COEF = {"late_payer": 0.9, "disputer": 0.8, "satisfaction_gap": 0.35, "contract": -0.9}
WIN_COEF = {"intercept": 0.6, "urgent": 0.7, "consumer_confidence_minus_100": 0.04}
# The price slope (coefficient of price_ratio - 1) differs by the quote's segment, service line
# and urgency: slope = PRICE_SLOPE_BY_SEGMENT[segment] + PRICE_SLOPE_LINE_SHIFT[line] (0 for a
# line not listed) + PRICE_SLOPE_URGENT_SHIFT x urgent. Its quote-weighted mean (about -4.2 for
# mixed trades, written to the ground truth) is near the single -5 it replaces.
PRICE_SLOPE_BY_SEGMENT = {"premium_loyal": -2.0, "volume": -6.0, "price_sensitive": -9.0,
                          "new": -6.5, "standard": -4.0}
PRICE_SLOPE_LINE_SHIFT = {"hvac": 0.0, "plumbing": -1.0, "electrical": 0.5, "roofing": 1.0}
PRICE_SLOPE_URGENT_SHIFT = 2.0
JOB_BASE_HOURS = {"install": 6.0, "repair": 2.0, "maintenance": 1.5, "inspection": 1.0,
                  "emergency": 2.5}
JOB_TICKET_FACTOR = {"repair": 1.0, "maintenance": 0.6, "inspection": 0.45, "emergency": 1.6}
# Quoted jobs: every install, and the major repairs (a share of the repair events) that need a
# written quote first. A quote's list amount follows the job's scope: the line's avg_ticket x the
# job type's scope (install 4.5; a major repair 2.5 times an ordinary repair's ticket) x 1.25 for a
# commercial customer's larger job, x lognormal(0, 0.4), rounded, + 50. The scheduled hours of a
# won quote's job grow with the same scope (major repair 2.5, commercial 1.25; installs keep their
# base hours, x 1.25 when commercial).
MAJOR_REPAIR_QUOTE_SHARE = 0.25
QUOTE_LIST_SCOPE = {"install": 4.5, "repair": 2.5 * JOB_TICKET_FACTOR["repair"]}
QUOTE_HOURS_SCOPE = {"install": 1.0, "repair": 2.5}
COMMERCIAL_QUOTE_SCOPE = 1.25
# Days from the lead to the job's wish date (before), from the lead to the quote and from the quote
# to the decision: [low, high) of a uniform integer draw, by quoted job type. A repair is quoted and
# decided faster than an install.
QUOTE_TIMING = {"install": {"lead_before_job": (12, 36), "lead_to_quote": (1, 6), "quote_to_decision": (1, 11)},
                "repair": {"lead_before_job": (3, 11), "lead_to_quote": (1, 3), "quote_to_decision": (1, 5)}}
INSPECTION_SHARE = 0.08
MAINTENANCE_SHARE = 0.15
CANCEL_SHARE = 0.04
RATING_SHARE = 0.55
SAFETY_INCIDENT_RATE = 0.002
ROAD_FACTOR = 1.35
AVERAGE_SPEED_MPH = 28.0
FUTURE_DAYS = 14  # jobs booked up to two weeks past the end are 'scheduled'
BOOKING_SPILL_DAYS = 42  # jobs that do not fit may be booked up to six weeks later still
# When a call comes in, by hour of the day (relative weights): busy in the day and evening,
# a few at night. Emergencies are booked at the call, not in the day's plan.
EMERGENCY_HOUR_WEIGHTS = (0.35, 0.25, 0.2, 0.2, 0.25, 0.35, 0.6, 0.9, 1.3, 1.5, 1.55, 1.55,
                          1.5, 1.5, 1.5, 1.5, 1.55, 1.6, 1.6, 1.45, 1.2, 0.95, 0.7, 0.5)
EMERGENCY_DISPATCH_MINUTES = (10, 30)  # from the call to leaving for the job
EMERGENCY_LAST_IN_SHIFT = 2.0  # hours before the shift's end after which a call goes on call
# Road speed by hour of departure, as a factor on AVERAGE_SPEED_MPH: slow in the rush hours.
TRAVEL_SPEED_FACTOR = (1.3, 1.3, 1.3, 1.3, 1.3, 1.2, 1.0, 0.7, 0.7, 0.9, 1.0, 1.0,
                       0.95, 1.0, 1.0, 0.9, 0.7, 0.7, 0.85, 1.0, 1.15, 1.2, 1.3, 1.3)
SICK_SPELL_DAYS = ((1, 0.5), (2, 0.3), (3, 0.2))  # length of a sickness spell (days) and its share
BOOKING_ROUNDS = 8  # offers of the waiting jobs to technicians with room, per day
REGION_WAIT_DAYS = 10  # after this long waiting, a job may go to a skilled technician of another region
AVAILABILITY_REASONS = ("working", "day_off", "vacation", "sick", "not_employed")
EQUIPMENT_BY_LINE = {
    "hvac": ("Refrigerant recovery unit", "diagnostic", 6500.0, 4.0),
    "plumbing": ("Hydro jetter", "heavy", 14000.0, 11.0),
    "electrical": ("Thermal imager", "diagnostic", 5200.0, 3.5),
    "landscaping": ("Zero-turn mower", "heavy", 12500.0, 9.0),
    "roofing": ("Material lift", "heavy", 21000.0, 14.0),
}
# Failures: each unit's wear ("virtual") age has a Weibull hazard; a completed preventive
# maintenance multiplies the age by (1 - pm_age_reduction), a failure's repair resets it to 0.
RELIABILITY = {
    "weibull_shape": 2.2,
    "weibull_scale_days": {"heavy": 240.0, "diagnostic": 310.0},
    "pm_age_reduction": 0.5,
    "initial_age_share_of_scale": (0.0, 0.6),  # the age on start_day, uniform, x the unit's scale
    "start_day": 45,  # no failure before: the telemetry needs a baseline
    "downtime_days": (1, 5),
    "pm_interval_days": 90, "pm_first_day": (30, 39), "pm_completion_share": 0.88, "pm_delay_days": (0, 7),
    "pm_cost_share_of_purchase": 0.02, "pm_downtime_hours": (2.0, 4.0),
    "failure_cost_share_of_purchase": 0.12, "failure_cost_lognormal_sigma": 0.3,
}
# The share of each failure mode by equipment kind (refrigerant leaks only where there is refrigerant).
FAILURE_MODE_MIX = {
    "heavy": {"bearing": 0.55, "electrical": 0.25, "refrigerant_leak": 0.0, "control_board": 0.20},
    "diagnostic": {"bearing": 0.20, "electrical": 0.30, "refrigerant_leak": 0.30, "control_board": 0.20},
}
# Each mode's telemetry signature in the days before the failure: the drift rises as
# frac ** 1.5 with frac going from 0 to 1 over the lead days. vibration_rise: vibration x
# (1 + rise); temperature_rise_c / pressure_drop_psi: added / removed; temperature_noise_c:
# extra day-to-day noise (sd) at full drift. A control board gives short erratic excursions
# instead: on each day of its short window, with probability excursion_probability, vibration
# x (1 + excursion_vibration x u) and temperature + excursion_temperature_c x u, u ~ U(0.5, 1).
FAILURE_SIGNATURES = {
    "bearing": {"lead_days": (21, 42), "vibration_rise": 2.0, "temperature_rise_c": 4.0,
                "pressure_drop_psi": 0.0, "temperature_noise_c": 0.0},
    "electrical": {"lead_days": (10, 28), "vibration_rise": 0.15, "temperature_rise_c": 9.0,
                   "pressure_drop_psi": 0.0, "temperature_noise_c": 4.0},
    "refrigerant_leak": {"lead_days": (28, 56), "vibration_rise": 0.0, "temperature_rise_c": 10.0,
                         "pressure_drop_psi": 15.0, "temperature_noise_c": 0.0},
    "control_board": {"lead_days": (2, 7), "vibration_rise": 0.0, "temperature_rise_c": 0.0,
                      "pressure_drop_psi": 0.0, "temperature_noise_c": 0.0, "excursion_probability": 0.35,
                      "excursion_vibration": 0.8, "excursion_temperature_c": 6.0},
}
if set(FAILURE_SIGNATURES) != set(FAILURE_MODES) or any(set(m) != set(FAILURE_MODES)
                                                        for m in FAILURE_MODE_MIX.values()):
    raise RuntimeError("FAILURE_SIGNATURES and FAILURE_MODE_MIX must name every failure mode")
# Weekly vibration snapshot: a 0.5 s waveform (1,024 samples at 2,048 Hz) of the running speed
# (1x, imbalance), 2x, and the bearing's outer / inner race defect frequencies (BPFO, BPFI, as
# multiples of the running speed) plus white noise; stored as the peaks of its Hann-windowed
# spectrum. Before a bearing failure the amplitudes grow as amp x (1 + growth x g), g rising as
# frac ** 1.5 over bearing_lead_factor x the failure's lead days (the spectrum warns earlier).
SNAPSHOT = {
    "sample_rate_hz": 2048, "samples": 1024, "weekday": 3, "hour": 10,
    "running_speed_hz": (20.0, 30.0), "speed_jitter": 0.01, "bpfo_ratio": 3.58, "bpfi_ratio": 5.42,
    "amp_1x": (0.5, 1.5), "amp_2x": 0.3, "amp_bpfo": 0.05, "amp_bpfi": 0.05, "noise_mm_s": 0.3,
    "growth": {"amp_1x": 1.0, "amp_2x": 0.5, "amp_bpfo": 20.0, "amp_bpfi": 10.0},
    "bearing_lead_factor": 2.0,
    # A spall's impacts: each outer-race pass strikes the structure, which rings at its resonance and
    # decays; peak amplitude impacts["amp_mm_s"] x the bearing growth g (no impact while g is 0).
    "impacts": {"resonance_hz": 620.0, "decay_ms": 1.5, "amp_mm_s": 4.0},
    # Raw waveforms kept: the last weekly snapshots of each unit before the data end.
    "recent_waveforms": 8, "waveform_resolution_mm_s": 0.001,
}
SNAPSHOT_PEAKS = ("amp_1x", "amp_2x", "amp_bpfo", "amp_bpfi")
# Operating states (idle, normal, heavy, fault): an hourly Markov chain per unit, rows "from",
# columns "to", in the order of OPERATING_STATES. Working hours follow the kind's matrix mixed
# with the pre-failure one by the day's drift toward a failure (0 to 1); night hours P_night.
OPERATING_CHAINS = {
    "working_hours_of_day": (7, 19),
    "working_hours": {
        "heavy": ((0.70, 0.25, 0.05, 0.00), (0.10, 0.75, 0.15, 0.00), (0.05, 0.35, 0.60, 0.00),
                  (0.30, 0.40, 0.00, 0.30)),
        "diagnostic": ((0.75, 0.24, 0.01, 0.00), (0.15, 0.80, 0.05, 0.00), (0.10, 0.50, 0.40, 0.00),
                       (0.40, 0.40, 0.00, 0.20)),
    },
    "pre_failure": ((0.50, 0.25, 0.15, 0.10), (0.05, 0.45, 0.30, 0.20), (0.02, 0.18, 0.55, 0.25),
                    (0.05, 0.10, 0.15, 0.70)),
    "night": ((0.98, 0.02, 0.00, 0.00), (0.60, 0.40, 0.00, 0.00), (0.50, 0.30, 0.20, 0.00),
              (0.50, 0.00, 0.00, 0.50)),
}
if not all(np.allclose(np.sum(m, axis=1), 1.0) for m in (*OPERATING_CHAINS["working_hours"].values(),
                                                        OPERATING_CHAINS["pre_failure"], OPERATING_CHAINS["night"])):
    raise RuntimeError("every row of an OPERATING_CHAINS matrix must add up to 1")
# Daily energy meter (equipment_states.energy_kwh): the hours in each state x the kind's power draw
# in that state (kW), x the unit's own power factor, x an ambient (cooling) factor 1 + per_c x
# max(temp_c - above_c, 0) of the region's day, x (1 + rate x wear_age_years) with the unit's
# degradation rate per year of wear age (the age process's virtual age: halved by a completed
# preventive maintenance, 0 after a failure's repair), x lognormal(0, noise_sigma). A unit's rate is
# lognormal(log median[kind], sigma), x fast_multiplier for a fast_share of units (a few degrade fast).
# Drawn from a stream of their own (seed, stream) so the other tables are the same as without it.
ENERGY = {
    "stream": 15,
    "power_kw": {"heavy": {"idle": 0.4, "normal": 3.5, "heavy": 7.5, "fault": 1.5},
                 "diagnostic": {"idle": 0.05, "normal": 0.6, "heavy": 1.2, "fault": 0.3}},
    "unit_power_sigma": 0.1,
    "ambient": {"above_c": 18.0, "per_c": 0.015},
    "rate_median_per_year": {"heavy": 0.25, "diagnostic": 0.15}, "rate_sigma": 0.5,
    "fast_share": 0.15, "fast_multiplier": 3.0,
    "noise_sigma": 0.05,
}
if any(set(p) != set(OPERATING_STATES) for p in ENERGY["power_kw"].values()):
    raise RuntimeError("ENERGY['power_kw'] must give every operating state's draw")
EQUIPMENT_USE_SHARE = {"install": 0.7, "repair": 0.35, "emergency": 0.5, "maintenance": 0.2,
                       "inspection": 0.3}
FIRST_NAMES = np.array(["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael",
                        "Linda", "David", "Elizabeth", "William", "Barbara", "Richard", "Susan",
                        "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Maria", "Wei", "Aisha",
                        "Daniel", "Nancy", "Luis", "Karen", "Kevin", "Emily", "Brian", "Grace"])
LAST_NAMES = np.array(["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller",
                       "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Wilson",
                       "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee",
                       "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Young",
                       "Allen", "King", "Wright", "Nguyen", "Patel", "Kim", "Scott", "Green"])
BUSINESS_SUFFIXES = np.array(["Dental", "Property Mgmt", "Holdings", "Cafe", "Auto Repair",
                              "Apartments", "Clinic", "Hardware", "Logistics", "Bakery",
                              "School", "Hotel", "Offices", "Church", "Storage"])


@dataclass
class GeneratedCompany:
    """The tables of one generated company and the ground truth behind them."""

    profile: CompanyProfile
    seed: int
    scale: float
    tables: dict[str, pd.DataFrame]
    truth: dict
    truth_tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def _ids(prefix: str, n: int, width: int = 7) -> np.ndarray:
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)], dtype=object)


def _frame(columns: dict) -> pd.DataFrame:
    """A DataFrame that keeps NumPy object arrays as ``object`` columns.

    pandas 3 would convert every string column to Arrow on construction; the generator
    builds millions of rows, and pyarrow converts them once, when the Parquet is written.
    """
    return pd.DataFrame({k: pd.Series(v, dtype=object, copy=False)
                         if isinstance(v, np.ndarray) and v.dtype == object else v
                         for k, v in columns.items()})


def _haversine_miles(lat1, lon1, lat2, lon2):
    lat1, lon1, lat2, lon2 = map(np.radians, (lat1, lon1, lat2, lon2))
    a = (np.sin((lat2 - lat1) / 2) ** 2
         + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    return 3958.8 * 2 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _pick(rng: np.random.Generator, options, probs, size):
    probs = np.asarray(probs, dtype=float)
    return np.asarray(options)[rng.choice(len(options), size=size, p=probs / probs.sum())]


class _Builder:
    """Builds one company step by step; each ``_make_*`` method adds tables to ``self.t``."""

    def __init__(self, profile: CompanyProfile, seed: int, scale: float) -> None:
        self.p = profile
        self.seed = seed
        self.scale = scale
        self.rng = np.random.default_rng(seed)
        self.t: dict[str, pd.DataFrame] = {}
        self.truth_tables: dict[str, pd.DataFrame] = {}
        self.start = pd.Timestamp(profile.start)
        self.end = pd.Timestamp(profile.end)
        # Days of the model: the data period plus the bookings already made for the next weeks.
        self.days = pd.date_range(self.start, self.end + timedelta(days=FUTURE_DAYS), freq="D")
        self.n_days = len(self.days)
        self.n_data_days = (self.end - self.start).days + 1
        self.lines = list(profile.service_lines)
        self.regions = [r.name for r in profile.regions]

    # ------------------------------------------------------------------ calendar
    def _make_calendar(self) -> None:
        days = self.days
        years = range(days[0].year, days[-1].year + 1)
        us_holidays = holidays.US(years=list(years))
        self.holiday = np.array([d.date() in us_holidays for d in days])
        self.weekday = days.day_of_week.to_numpy()
        self.season = np.array([SEASONS.index(MONTH_SEASON[m]) for m in days.month])

    # ------------------------------------------------------------------ weather, economy
    def _make_weather(self) -> None:
        rng, days = self.rng, self.days
        doy = days.day_of_year.to_numpy()
        frames, storm_windows = [], []
        for region in self.p.regions:
            noise = np.zeros(self.n_days)
            shocks = rng.normal(0, 2.2, self.n_days)
            for i in range(1, self.n_days):  # AR(1) day-to-day persistence
                noise[i] = 0.7 * noise[i - 1] + shocks[i]
            temp = (region.temp_mean_c
                    - region.temp_amplitude_c * np.cos(2 * np.pi * (doy - 15) / 365.25) + noise)
            rain = rng.random(self.n_days) < 0.3
            precip = np.where(rain, rng.gamma(0.8, 8.0, self.n_days), 0.0)
            in_season = np.isin(days.month, STORM_MONTHS)
            starts = in_season & (rng.random(self.n_days) < region.storm_daily_rate)
            lasts_two = starts & (rng.random(self.n_days) < 0.4)
            storm = starts | np.roll(lasts_two, 1)
            precip = precip + np.where(storm, rng.uniform(30, 90, self.n_days), 0.0)
            window = np.convolve(storm.astype(float), np.ones(STORM_WINDOW_DAYS))[: self.n_days] > 0
            storm_windows.append(window)
            frames.append(_frame({
                "date": days, "region": region.name, "temp_c": np.round(temp, 1),
                "precip_mm": np.round(precip, 1), "storm": storm,
            }))
        weather = pd.concat(frames, ignore_index=True)
        self.storm_window = np.array(storm_windows)  # region x day
        self.t["weather"] = weather[weather["date"] <= self.end].reset_index(drop=True)

    def _make_economy(self) -> None:
        rng = self.rng
        months = pd.date_range(self.start.replace(day=1), self.days[-1], freq="MS")
        n = len(months)
        unemployment = np.clip(4.2 + np.cumsum(rng.normal(0, 0.12, n)), 2.5, 12)
        housing = np.clip(1400 + np.cumsum(rng.normal(0, 45, n)), 600, 2500)
        confidence = np.clip(100 + np.cumsum(rng.normal(0, 2.5, n)), 50, 150)
        econ = _frame({"month": months, "unemployment_rate": np.round(unemployment, 2),
                             "housing_starts": np.round(housing, 0),
                             "consumer_confidence": np.round(confidence, 1),
                             # A month's figures come out mid next month (no draw: the rest stays put).
                             "published_at": default_published_at(months).to_numpy()})
        self.confidence_by_day = np.interp(
            np.arange(self.n_days),
            (months - self.start).days.to_numpy(), confidence)
        self.t["economic_indicators"] = econ[econ["month"] <= self.end].reset_index(drop=True)

    # ------------------------------------------------------------------ demand intensity
    def _make_intensity(self) -> None:
        """Daily demand intensity per (service line, region), each normalised to mean 1."""
        weekday = np.asarray(WEEKDAY_FACTORS)[self.weekday]
        holiday = np.where(self.holiday, HOLIDAY_FACTOR, 1.0)
        curves = []
        self.curve_index = {}
        for li, line in enumerate(self.lines):
            seasonal = np.array([self.p.service_lines[line].seasonal[s] for s in SEASONS])[self.season]
            for ri in range(len(self.regions)):
                curve = seasonal * weekday * holiday
                if line == "roofing":
                    curve = curve * np.where(self.storm_window[ri], STORM_MULTIPLIER, 1.0)
                # Normalise over the data period so a rate is in jobs per year.
                curve = curve / curve[: self.n_data_days].mean()
                self.curve_index[(li, ri)] = len(curves)
                curves.append(curve)
        flat = np.concatenate(curves)
        self.cum = np.concatenate([[0.0], np.cumsum(flat)])

    def _draw_days(self, curve_ids, start_day, end_day, rate_per_year):
        """Draw job days for segments [start_day, end_day) at a yearly rate; returns (segment, day)."""
        base = curve_ids * self.n_days
        lo = self.cum[base + start_day]
        hi = self.cum[base + end_day]
        expected = rate_per_year / 365.25 * (hi - lo)
        counts = self.rng.poisson(np.maximum(expected, 0))
        seg = np.repeat(np.arange(len(counts)), counts)
        u = self.rng.uniform(lo[seg], hi[seg])
        pos = np.searchsorted(self.cum, u, side="right") - 1
        day = np.clip(pos - base[seg], start_day[seg], end_day[seg] - 1)
        return seg, day

    # ------------------------------------------------------------------ technicians
    def _make_technicians(self) -> None:
        rng, p = self.rng, self.p
        t0 = max(2, int(round(p.technicians * self.scale)))
        years = self.n_data_days / 365.25
        n_growth = max(0, int(round(t0 * ((1 + p.annual_growth) ** years - 1))))
        shares = np.array([r.share for r in p.regions])
        region_of = np.repeat(np.arange(len(self.regions)),
                              _largest_remainder(shares / shares.sum(), t0))
        line_shares = np.array([p.service_lines[line].share for line in self.lines])
        primary = np.empty(t0, dtype=int)
        for ri in range(len(self.regions)):
            members = np.flatnonzero(region_of == ri)
            counts = _largest_remainder(line_shares / line_shares.sum(), len(members))
            if len(members) >= len(self.lines):  # every trade covered in every region
                counts = np.maximum(counts, 1)
                while counts.sum() > len(members):
                    counts[np.argmax(counts)] -= 1
            primary[members] = rng.permutation(np.repeat(np.arange(len(self.lines)), counts))
        hire = self.start - pd.to_timedelta(rng.integers(30, 365 * 8, t0), unit="D")
        # Growth hires, spread over the period, copy a random existing technician's trade.
        growth_days = np.sort(rng.integers(30, self.n_data_days - 30, n_growth)) if n_growth else np.array([], int)
        template = rng.integers(0, t0, n_growth)
        region_of = np.concatenate([region_of, region_of[template]])
        primary = np.concatenate([primary, primary[template]])
        hire = hire.append(self.start + pd.to_timedelta(growth_days, unit="D"))
        n = len(primary)
        # Attrition: some leave; each leaver is replaced two weeks later by a new hire.
        leave_after = rng.exponential(365.25 / 0.07, n)
        active_from = np.maximum((hire - self.start).days.to_numpy(), 0)
        leave_day = active_from + leave_after
        leaves = leave_day < self.n_data_days - 20
        replaced = np.flatnonzero(leaves)
        region_of = np.concatenate([region_of, region_of[replaced]])
        primary = np.concatenate([primary, primary[replaced]])
        hire = hire.append(self.start + pd.to_timedelta(np.floor(leave_day[replaced]) + 14, unit="D"))
        termination = pd.Series(pd.NaT, index=range(len(primary)), dtype="datetime64[ns]")
        termination.iloc[replaced] = (self.start + pd.to_timedelta(np.floor(leave_day[replaced]), unit="D")).values
        n = len(primary)
        second = rng.random(n) < 0.3
        other = (primary + rng.integers(1, max(2, len(self.lines)), n)) % len(self.lines)
        skills = np.array([self.lines[i] for i in primary], dtype=object)
        if len(self.lines) > 1:
            skills = np.where(second, skills + ";" + np.array([self.lines[i] for i in other], dtype=object), skills)
        centre_lat = np.array([r.lat for r in p.regions])[region_of]
        centre_lon = np.array([r.lon for r in p.regions])[region_of]
        radius = np.array([r.radius_km for r in p.regions])[region_of]
        home_lat, home_lon = _scatter(rng, centre_lat, centre_lon, radius)
        cert = rng.integers(1, 5, n)
        speed = np.clip(rng.lognormal(0, 0.15, n), 0.7, 1.45)
        callback_rate = rng.beta(2, 30, n)
        rating_effect = rng.normal(0, 0.5, n)
        hourly = p.labor_rate * rng.lognormal(0, 0.1, n) * (1 + 0.08 * (cert - 1))
        weekly = np.where(rng.random(n) < 0.15, 32.0, 40.0)
        ids = _ids("T", n, 4)
        names = (FIRST_NAMES[rng.integers(0, len(FIRST_NAMES), n)].astype(object) + " "
                 + LAST_NAMES[rng.integers(0, len(LAST_NAMES), n)].astype(object))
        self.t["technicians"] = _frame({
            "technician_id": ids, "name": names,
            "region": np.array(self.regions, dtype=object)[region_of],
            "home_lat": np.round(home_lat, 5), "home_lon": np.round(home_lon, 5),
            "skills": skills, "certification_level": cert,
            "hourly_rate": np.round(hourly, 2), "weekly_hours": weekly,
            "hire_date": hire.values.astype("datetime64[ns]"),
            "termination_date": termination.values,
        })
        self.tech = {
            "region": region_of, "primary": primary,
            "second": np.where(second, other, -1),
            "from_day": (hire - self.start).days.to_numpy(),
            "to_day": np.where(termination.isna(), 10**6,
                               (termination - self.start).dt.days.fillna(0).to_numpy()),
            "speed": speed, "callback_rate": callback_rate, "rating_effect": rating_effect,
            "hourly": hourly, "lat": home_lat, "lon": home_lon, "weekly": weekly,
        }
        self.truth_tables["technicians"] = _frame({
            "technician_id": ids, "speed": speed, "callback_rate": callback_rate,
            "rating_effect": rating_effect})
        self.t0 = t0

    # ------------------------------------------------------------------ availability, on call
    def _make_availability(self) -> None:
        """Every technician-day: working, day off, vacation, sick or not employed; the on-call rota.

        Technicians work the company's working days (part-timers take a fixed weekday off),
        some work Saturdays on a rota (``saturday_share``, with the Friday before off), public
        holidays are off, each takes ``vacation_blocks_per_year`` blocks of a week's working
        days a calendar year and falls sick in spells of 1-3 days. One technician per
        (region, trade) is on call each day: a weekly rota over the region's technicians of
        that trade, skipping those on leave or sick.
        """
        # A stream of its own: the leave and rota draws do not shift the customers', the
        # demand's and the quotes' draws that follow (those match a company without them).
        rng = np.random.default_rng([self.seed, 1])
        wf, tech = self.p.workforce, self.tech
        n_t = len(tech["region"])
        grid = pd.date_range(self.start, self.days[-1] + timedelta(days=BOOKING_SPILL_DAYS), freq="D")
        g = len(grid)
        weekday = grid.day_of_week.to_numpy()
        us_holidays = holidays.US(years=list(range(grid[0].year, grid[-1].year + 1)))
        holiday = np.array([d.date() in us_holidays for d in grid])
        day = np.arange(g)
        week = (day + weekday[0]) // 7  # weeks run Monday to Sunday
        employed = (tech["from_day"][:, None] <= day) & (tech["to_day"][:, None] > day)
        worked_days = sorted(WEEKDAYS.index(name) for name in wf.working_days)
        company_day = np.isin(weekday, worked_days) & ~(holiday if wf.holidays_off else False)
        works = np.repeat(np.isin(weekday, worked_days)[None, :], n_t, axis=0)
        # Part-timers work one day fewer: a fixed weekday of their own.
        part_time = tech["weekly"] < 40.0 - 1e-9
        off_weekday = np.asarray(worked_days)[rng.integers(0, len(worked_days), n_t)]
        works &= ~(part_time[:, None] & (weekday[None, :] == off_weekday[:, None]))
        if wf.saturday_share > 0 and 5 not in worked_days:
            every = max(1, int(round(1 / wf.saturday_share)))
            rota = rng.permutation(n_t) % every
            mine = (week[None, :] % every) == rota[:, None]
            works |= mine & (weekday == 5)[None, :]
            works &= ~(mine & (weekday == 4)[None, :])
        if wf.holidays_off:
            works &= ~holiday[None, :]
        reason = np.where(works, 0, 1).astype(np.int8)
        # Vacations: whole weeks, drawn without replacement within each calendar year.
        n_weeks = int(week[-1]) + 1
        week_year = (grid[0] - pd.Timedelta(days=int(weekday[0]))
                     + pd.to_timedelta(np.arange(n_weeks) * 7, unit="D")).year.to_numpy()
        year_index = week_year - week_year[0]
        order = np.argsort(year_index[None, :] * 2.0 + rng.random((n_t, n_weeks)), axis=1)
        first_of_year = np.concatenate([[0], np.cumsum(np.bincount(year_index))])[year_index[order]]
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(n_weeks)[None, :] - first_of_year, axis=1)
        lo, hi = wf.vacation_blocks_per_year
        blocks = rng.integers(lo, hi + 1, (n_t, int(year_index[-1]) + 1))
        vacation_week = rank < np.take_along_axis(blocks, np.broadcast_to(year_index, (n_t, n_weeks)), axis=1)
        span = max(1, int(round(wf.vacation_block_days / max(len(worked_days), 1))))
        for k in range(1, span):
            vacation_week[:, k:] |= vacation_week[:, :-k]
        reason[(reason == 0) & vacation_week[:, week]] = 2
        # Sickness: spells of 1-3 working days.
        lengths = np.array([length for length, _ in SICK_SPELL_DAYS])
        shares = np.array([share for _, share in SICK_SPELL_DAYS])
        p_start = wf.sick_day_rate / float(lengths @ shares)
        starts = rng.random((n_t, g)) < p_start
        spell = np.searchsorted(np.cumsum(shares), rng.random((n_t, g)), side="right")
        length = lengths[spell.clip(0, len(lengths) - 1)]
        for ti in range(n_t):
            pos = np.flatnonzero(reason[ti] == 0)
            begin = starts[ti, pos]
            sick = begin.copy()
            for k in range(1, int(lengths.max())):
                sick[k:] |= begin[:-k] & (length[ti, pos[:-k]] > k)
            reason[ti, pos[sick]] = 3
        reason[~employed] = 4
        # On call: per (trade, region), a weekly rota over the region's technicians of that trade.
        n_r, n_l = len(self.regions), len(self.lines)
        can_respond = employed & (reason != 2) & (reason != 3)
        on_call = np.full((n_l * n_r, g), -1)
        skilled_any = [(tech["primary"] == li) | (tech["second"] == li) for li in range(n_l)]
        for li in range(n_l):
            for ri in range(n_r):
                rota_members = np.flatnonzero((tech["primary"] == li) & (tech["region"] == ri))
                backups = np.concatenate([
                    np.flatnonzero(skilled_any[li] & (tech["region"] == ri) & (tech["primary"] != li)),
                    np.flatnonzero(skilled_any[li] & (tech["region"] != ri))])
                row = on_call[li * n_r + ri]
                size = len(rota_members)
                for k in range(size):
                    cand = rota_members[(week + k) % size]
                    ok = (row < 0) & can_respond[cand, day]
                    row[ok] = cand[ok]
                for cand in backups:
                    ok = (row < 0) & can_respond[cand]
                    row[ok] = cand
        on_call_tech = np.zeros((n_t, g), dtype=bool)
        has = on_call >= 0
        on_call_tech[on_call[has], np.nonzero(has)[1]] = True
        self.grid = grid
        self.grid_company_day = company_day
        self.reason = reason
        self.available = reason == 0
        self.on_call = on_call
        self.on_call_tech = on_call_tech
        ids = _ids("T", n_t, 4)
        t_idx, d_idx = np.nonzero(np.ones((n_t, g), dtype=bool))
        self.truth_tables["technician_days"] = _frame({
            "technician_id": ids[t_idx], "date": grid.values[d_idx],
            "available": self.available.ravel(),
            "reason": np.array(AVAILABILITY_REASONS, dtype=object)[reason.ravel()],
            "on_call": on_call_tech.ravel(),
        })
        # The roster the scheduling system holds at the end of the data: employed technician-days
        # up to the planning horizon; sickness only where it has happened (later spells are not
        # known yet: those days read "working", and the dispatcher hears of them on the day).
        status = np.array(AVAILABILITY_REASONS, dtype=object)[reason]
        status[(reason == 1) & holiday[None, :] & np.isin(weekday, worked_days)[None, :]] = "holiday"
        status[(reason == 3) & (grid > self.end)[None, :]] = "working"
        listed = (reason != 4) & (grid <= self.days[-1])[None, :]
        t_idx, d_idx = np.nonzero(listed)
        self.t["roster"] = pd.DataFrame({
            "technician_id": ids[t_idx], "date": grid.values[d_idx],
            "status": status[t_idx, d_idx], "on_call": on_call_tech[t_idx, d_idx],
        })
        p_idx, d_idx = np.nonzero(has)
        self.truth_tables["on_call"] = _frame({
            "date": grid.values[d_idx],
            "region": np.array(self.regions, dtype=object)[p_idx % n_r],
            "service_line": np.array(self.lines, dtype=object)[p_idx // n_r],
            "technician_id": ids[on_call[p_idx, d_idx]],
        })

    # ------------------------------------------------------------------ customers
    def _make_customers(self) -> None:
        rng, p = self.rng, self.p
        residential_rate, commercial_rate = 1.6, 4.0
        mean_rate = (residential_rate * (1 - p.commercial_share) + commercial_rate * p.commercial_share)
        mean_visits = np.mean([s.contract_visits_per_year for s in p.service_lines.values()])
        # Base size so that the technicians are about as busy as the profile says.
        yearly_jobs = self.t0 * p.jobs_per_technician_day * 250
        n0 = int(round(yearly_jobs / (mean_rate * 1.15 + p.contract_share * mean_visits)))
        g = p.annual_growth
        acquisition_per_year = n0 * (p.base_annual_churn + max(g, 0))
        # New customers arrive at a rate growing with the business.
        grid = np.arange(self.n_data_days)
        weight = (1 + g) ** (grid / 365.25)
        n_new = rng.poisson(acquisition_per_year * weight.sum() / 365.25)
        new_days = np.sort(rng.choice(grid, size=n_new, p=weight / weight.sum()))
        n = n0 + n_new
        created_day = np.concatenate([-rng.integers(1, 365 * 6, n0), new_days])
        commercial = rng.random(n) < p.commercial_share
        late_payer = rng.random(n) < p.late_payer_share
        disputer = rng.random(n) < (0.05 + 0.25 * late_payer)
        satisfaction = np.clip(rng.normal(8.3, 0.9, n), 3, 10)
        contract = rng.random(n) < p.contract_share
        hazard = p.base_annual_churn * np.exp(
            CHURN_COEF["late_payer"] * late_payer + CHURN_COEF["disputer"] * disputer
            + CHURN_COEF["satisfaction_gap"] * (8.0 - satisfaction) + CHURN_COEF["contract"] * contract)
        clock = np.maximum(created_day, 0)
        churn_day = clock + np.floor(rng.exponential(365.25 / hazard)).astype(int)
        churned = churn_day <= self.n_data_days - 1
        region_shares = np.array([r.share for r in p.regions])
        region_of = _pick(rng, np.arange(len(self.regions)), region_shares, n)
        centre_lat = np.array([r.lat for r in p.regions])[region_of]
        centre_lon = np.array([r.lon for r in p.regions])[region_of]
        radius = np.array([r.radius_km for r in p.regions])[region_of]
        lat, lon = _scatter(rng, centre_lat, centre_lon, radius)
        # Zip: the region's prefix and a two-digit cell of a 10 x 10 grid over the region.
        cell_y = np.clip(((lat - centre_lat) / (radius / 111.0) + 1) * 5, 0, 9).astype(int)
        cell_x = np.clip(((lon - centre_lon) / (radius / (111.0 * np.cos(np.radians(centre_lat)))) + 1) * 5,
                         0, 9).astype(int)
        zips = (np.array([r.zip_prefix for r in p.regions], dtype=object)[region_of]
                + (cell_y * 10 + cell_x).astype(str).astype(object))
        zips = np.array([z[:3] + z[3:].zfill(2) for z in zips], dtype=object)
        first = FIRST_NAMES[rng.integers(0, len(FIRST_NAMES), n)].astype(object)
        last = LAST_NAMES[rng.integers(0, len(LAST_NAMES), n)].astype(object)
        business = BUSINESS_SUFFIXES[rng.integers(0, len(BUSINESS_SUFFIXES), n)].astype(object)
        names = np.where(commercial, last + " " + business, first + " " + last)
        channel = _pick(rng, ["referral", "web", "phone", "advertising", "partner"],
                        [0.3, 0.3, 0.2, 0.15, 0.05], n)
        preferred = _pick(rng, ["phone", "email", "sms"], [0.5, 0.3, 0.2], n)
        rate = np.where(commercial, rng.gamma(4, commercial_rate / 4, n), rng.gamma(2, residential_rate / 2, n))
        line_shares = np.array([p.service_lines[line].share for line in self.lines])
        primary = _pick(rng, np.arange(len(self.lines)), line_shares, n)
        ids = _ids("C", n)
        created = self.start + pd.to_timedelta(created_day, unit="D")
        self.t["customers"] = _frame({
            "customer_id": ids, "name": names,
            "customer_type": np.where(commercial, "commercial", "residential").astype(object),
            "region": np.array(self.regions, dtype=object)[region_of], "zip": zips,
            "lat": np.round(lat, 5), "lon": np.round(lon, 5),
            "acquisition_channel": channel.astype(object), "preferred_channel": preferred.astype(object),
            "created_date": created.values.astype("datetime64[ns]"),
            "is_priority": commercial & (rate > commercial_rate * 1.5),
        })
        active_to = np.where(churned, churn_day, self.n_days)  # exclusive
        decline_from = np.where(churned, np.maximum(churn_day - DECLINE_DAYS, clock), active_to)
        self.cust = {
            "region": region_of, "commercial": commercial, "late_payer": late_payer,
            "disputer": disputer, "satisfaction": satisfaction, "contract": contract,
            "rate": rate, "primary": primary, "active_from": clock, "active_to": active_to,
            "decline_from": decline_from, "created_day": created_day, "lat": lat, "lon": lon,
            "preferred": preferred, "channel": channel,
        }
        # Non-churners can draw a churn day centuries out; zero it before the date
        # arithmetic so nanosecond timestamps (pandas 2) cannot overflow.
        churn_day_or_zero = np.where(churned, churn_day, 0)
        churn_date = pd.Series(self.start + pd.to_timedelta(churn_day_or_zero, unit="D")).where(churned)
        self.truth_tables["customers"] = _frame({
            "customer_id": ids, "late_payer": late_payer, "disputer": disputer,
            "satisfaction_base": satisfaction, "has_contract": contract, "annual_rate": rate,
            "churn_hazard": hazard, "churned": churned, "churn_date": churn_date.values,
            "decline_start": pd.Series(self.start + pd.to_timedelta(np.where(churned, decline_from, 0), unit="D"))
            .where(churned).values,
        })

    # ------------------------------------------------------------------ demand events
    def _make_demand(self) -> None:
        """Demand events (customer, line, day) from each customer's rate and the intensity curves."""
        rng, c = self.rng, self.cust
        n = len(c["rate"])
        n_lines = len(self.lines)
        has_second = (rng.random(n) < 0.5) & (n_lines > 1)
        second = (c["primary"] + rng.integers(1, max(2, n_lines), n)) % n_lines
        # Segments: (customer, line, from, to, rate): normal period and decline period per line.
        cust = np.concatenate([np.arange(n), np.flatnonzero(has_second)])
        line = np.concatenate([c["primary"], second[has_second]])
        rate = np.concatenate([c["rate"], 0.3 * c["rate"][has_second]])
        seg_cust = np.concatenate([cust, cust])
        seg_line = np.concatenate([line, line])
        seg_from = np.concatenate([c["active_from"][cust], c["decline_from"][cust]])
        seg_to = np.concatenate([c["decline_from"][cust], c["active_to"][cust]])
        seg_rate = np.concatenate([rate, DECLINE_RATE * rate])
        seg_from = np.clip(seg_from, 0, self.n_days)
        seg_to = np.clip(seg_to, 0, self.n_days)
        keep = seg_to > seg_from
        seg_cust, seg_line, seg_from, seg_to, seg_rate = (
            a[keep] for a in (seg_cust, seg_line, seg_from, seg_to, seg_rate))
        curve = np.array([self.curve_index[(li, ri)]
                          for li, ri in zip(seg_line, c["region"][seg_cust])], dtype=int) \
            if len(seg_line) < 50_000 else _curve_ids(self.curve_index, seg_line, c["region"][seg_cust],
                                                     len(self.regions))
        seg, day = self._draw_days(curve, seg_from, seg_to, seg_rate)
        self.events = _frame({"cust": seg_cust[seg], "line": seg_line[seg], "day": day})
        self.events = self.events.sort_values(["day", "cust", "line"], kind="stable").reset_index(drop=True)
        ev = self.events
        specs = [self.p.service_lines[line] for line in self.lines]
        emergency = np.array([s.emergency_share for s in specs])[ev["line"]]
        install = np.array([s.install_share for s in specs])[ev["line"]]
        u = rng.random(len(ev))
        job_type = np.full(len(ev), "repair", dtype=object)
        job_type[u < emergency] = "emergency"
        job_type[(u >= emergency) & (u < emergency + install)] = "install"
        lo = emergency + install
        job_type[(u >= lo) & (u < lo + INSPECTION_SHARE)] = "inspection"
        job_type[(u >= lo + INSPECTION_SHARE) & (u < lo + INSPECTION_SHARE + MAINTENANCE_SHARE)] = "maintenance"
        ev["job_type"] = pd.Series(job_type, dtype=object)
        ev["in_decline"] = ev["day"].to_numpy() >= c["decline_from"][ev["cust"].to_numpy()]

    # ------------------------------------------------------------------ leads and quotes
    def _make_funnel(self) -> None:
        rng, c = self.rng, self.cust
        ev = self.events
        # Quoted jobs: every install, and a share of the repairs (major repairs).
        repair = (ev["job_type"] == "repair").to_numpy()
        major = np.zeros(len(ev), dtype=bool)
        major[repair] = rng.random(int(repair.sum())) < MAJOR_REPAIR_QUOTE_SHARE
        ev["quoted"] = (ev["job_type"] == "install").to_numpy() | major
        quoted = ev[ev["quoted"]].reset_index(drop=True)  # installs and major repairs
        k = len(quoted)
        cust = quoted["cust"].to_numpy()
        kind = quoted["job_type"].to_numpy()
        is_repair = kind == "repair"

        def timing(step):
            lo = np.where(is_repair, QUOTE_TIMING["repair"][step][0], QUOTE_TIMING["install"][step][0])
            hi = np.where(is_repair, QUOTE_TIMING["repair"][step][1], QUOTE_TIMING["install"][step][1])
            return rng.integers(lo, hi) if k else np.zeros(0, dtype=int)

        floor = np.maximum(c["created_day"][cust], 0)
        job_day = quoted["day"].to_numpy()
        lead_day = np.maximum(job_day - timing("lead_before_job"), floor)
        quote_day = lead_day + timing("lead_to_quote")
        decide_day = quote_day + timing("quote_to_decision")
        job_day = np.maximum(job_day, decide_day + 2)
        urgent = rng.random(k) < 0.3
        ratio = np.clip(rng.normal(1.0, 0.12, k), 0.7, 1.4)
        tickets = np.array([self.p.service_lines[line].avg_ticket for line in self.lines])[quoted["line"]]
        commercial_scope = np.where(c["commercial"][cust], COMMERCIAL_QUOTE_SCOPE, 1.0)
        scope = _lookup(kind, QUOTE_LIST_SCOPE) * commercial_scope
        list_amount = np.round(tickets * scope * rng.lognormal(0, 0.4, k), -1) + 50
        amount = np.round(list_amount * ratio, 2)
        confidence = self.confidence_by_day[np.clip(decide_day, 0, self.n_days - 1)]
        # The segment on the quote's day, by the rule the win model uses for its features
        # (contracts are made before the funnel for this).
        at_quote = pd.DataFrame({
            "customer_id": self.t["customers"]["customer_id"].to_numpy()[cust],
            "created_at": (self.start + pd.to_timedelta(quote_day, unit="D")).values})
        segment = pd.Index(QUOTE_SEGMENTS).get_indexer(
            quote_segments(at_quote, self.t["customers"], self.t["contracts"]))
        slope = (np.array([PRICE_SLOPE_BY_SEGMENT[g] for g in QUOTE_SEGMENTS])[segment]
                 + np.array([PRICE_SLOPE_LINE_SHIFT.get(line, 0.0) for line in self.lines])[quoted["line"]]
                 + PRICE_SLOPE_URGENT_SHIFT * urgent)
        p_win = _sigmoid(WIN_COEF["intercept"] + slope * (ratio - 1)
                         + WIN_COEF["urgent"] * urgent
                         + WIN_COEF["consumer_confidence_minus_100"] * (confidence - 100))
        won = rng.random(k) < p_win
        decided = decide_day <= self.n_data_days - 1
        status = np.where(~decided, "open", np.where(won, "won", "lost")).astype(object)
        # Leads that never became quotes: unqualified, or still open at the end.
        n_extra = int(round(0.25 * k))
        extra_src = rng.integers(0, max(k, 1), n_extra) if k else np.array([], int)
        extra_day = np.maximum(lead_day[extra_src] - rng.integers(0, 60, n_extra),
                               np.maximum(c["created_day"][cust[extra_src]], 0))
        extra_status = np.where(extra_day > self.n_data_days - 15, "open", "unqualified").astype(object)
        lead_cust = np.concatenate([cust, cust[extra_src]])
        lead_days = np.concatenate([lead_day, extra_day])
        lead_line = np.concatenate([quoted["line"].to_numpy(), quoted["line"].to_numpy()[extra_src]])
        lead_status = np.concatenate([np.full(k, "quoted", dtype=object), extra_status])
        order = np.lexsort((lead_cust, lead_days))
        lead_ids = np.empty(len(order), dtype=object)
        lead_ids[order] = _ids("L", len(order))
        lead_hour = rng.integers(8, 18, len(order))
        quote_exists = quote_day <= self.n_data_days - 1
        lead_status[:k] = np.where(quote_exists, "quoted", "open")
        leads = _frame({
            "lead_id": lead_ids, "customer_id": self.t["customers"]["customer_id"].to_numpy()[lead_cust],
            "created_at": (self.start + pd.to_timedelta(lead_days, unit="D")
                           + pd.to_timedelta(lead_hour, unit="h")).values.astype("datetime64[ns]"),
            "channel": c["channel"][lead_cust].astype(object),
            "service_line": np.array(self.lines, dtype=object)[lead_line],
            "status": lead_status,
        })
        keep = leads["created_at"] <= self.end + timedelta(hours=23, minutes=59)
        self.t["leads"] = leads[keep].sort_values("lead_id").reset_index(drop=True)
        q_ids = _ids("Q", k)
        quote_ts = (self.start + pd.to_timedelta(quote_day, unit="D") + pd.to_timedelta(lead_hour[:k] + 1, unit="h"))
        decided_ts = pd.Series(self.start + pd.to_timedelta(decide_day, unit="D")
                               + pd.to_timedelta(rng.integers(9, 17, k), unit="h")).where(decided)
        quotes = _frame({
            "quote_id": q_ids, "lead_id": lead_ids[:k],
            "customer_id": self.t["customers"]["customer_id"].to_numpy()[cust],
            "service_line": np.array(self.lines, dtype=object)[quoted["line"]],
            "urgency": np.where(urgent, "urgent", "routine").astype(object),
            "job_type": kind.astype(object),
            "created_at": quote_ts.values.astype("datetime64[ns]"), "amount": amount,
            "list_amount": list_amount, "status": status,
            "decided_at": decided_ts.values.astype("datetime64[ns]"),
        })
        self.t["quotes"] = quotes[quote_exists].reset_index(drop=True)
        self.truth_tables["quotes"] = _frame({
            "quote_id": q_ids, "job_type": kind.astype(object),
            "segment": np.array(QUOTE_SEGMENTS, dtype=object)[segment], "price_ratio": ratio,
            "price_coef": slope, "p_win": p_win})[quote_exists].reset_index(drop=True)
        # Won quotes become jobs of their type (a lost or open quote's job is never done).
        won_jobs = quoted[(status == "won")].copy()
        won_jobs["hours_scope"] = (_lookup(kind, QUOTE_HOURS_SCOPE) * commercial_scope)[status == "won"]
        won_jobs["day"] = job_day[status == "won"]
        won_jobs["quote"] = np.flatnonzero(status == "won")
        won_jobs["created_day_exact"] = decided_ts[status == "won"].to_numpy()
        won_jobs["urgency"] = pd.Series(np.where(urgent[status == "won"], "urgent", "routine").astype(object),
                                        dtype=object, index=won_jobs.index)
        won_jobs["revenue"] = amount[status == "won"]
        self.quote_ids = q_ids
        self.won_jobs = won_jobs

    # ------------------------------------------------------------------ contracts
    def _make_contracts(self) -> None:
        rng, c = self.rng, self.cust
        holders = np.flatnonzero(c["contract"])
        start_day = c["active_from"][holders] + rng.integers(0, 180, len(holders))
        keep = start_day < np.minimum(c["active_to"][holders], self.n_data_days)
        holders, start_day = holders[keep], start_day[keep]
        line = c["primary"][holders]
        specs = [self.p.service_lines[name] for name in self.lines]
        fee = np.array([s.contract_monthly_fee for s in specs])[line] * np.where(c["commercial"][holders], 2.0, 1.0)
        visits = np.array([s.contract_visits_per_year for s in specs])[line]
        end_day = np.where(c["active_to"][holders] < self.n_data_days, c["active_to"][holders], -1)
        ids = _ids("K", len(holders), 6)
        start = self.start + pd.to_timedelta(start_day, unit="D")
        end = pd.Series(self.start + pd.to_timedelta(np.maximum(end_day, 0), unit="D")).where(end_day >= 0)
        self.t["contracts"] = _frame({
            "contract_id": ids, "customer_id": self.t["customers"]["customer_id"].to_numpy()[holders],
            "service_line": np.array(self.lines, dtype=object)[line],
            "start_date": start.values.astype("datetime64[ns]"),
            "end_date": end.values.astype("datetime64[ns]"),
            "monthly_fee": np.round(fee, 2), "visits_per_year": visits,
            "status": np.where(end_day >= 0, "cancelled", "active").astype(object),
        })
        # Contract visits: evenly spaced from the start, moved off weekends.
        interval = 365.25 / visits
        stop = np.where(end_day >= 0, end_day, self.n_days)
        n_visits = np.maximum(np.ceil((stop - start_day - 14) / interval), 0).astype(int)
        contract_idx = np.repeat(np.arange(len(holders)), n_visits)
        k = np.arange(len(contract_idx)) - np.repeat(np.cumsum(n_visits) - n_visits, n_visits)
        day = (start_day[contract_idx] + 14 + np.floor(k * interval[contract_idx])).astype(int)
        wd = self.weekday[np.clip(day, 0, self.n_days - 1)]
        day = day + np.where(wd == 5, 2, np.where(wd == 6, 1, 0))
        ok = day < self.n_days
        self.visits = _frame({
            "cust": holders[contract_idx][ok], "line": line[contract_idx][ok], "day": day[ok],
            "contract": contract_idx[ok],
            "revenue": np.round(fee[contract_idx][ok] * 12 / visits[contract_idx][ok], 2),
        })
        self.contract_ids = ids

    # ------------------------------------------------------------------ jobs
    def _make_jobs(self) -> None:
        rng, c, tech = self.rng, self.cust, self.tech
        ev = self.events
        service = ev[~ev["quoted"]]
        won = self.won_jobs
        visits = self.visits
        cust = np.concatenate([service["cust"], won["cust"], visits["cust"]])
        line = np.concatenate([service["line"], won["line"], visits["line"]])
        day = np.concatenate([service["day"], won["day"], visits["day"]]).astype(int)
        job_type = np.concatenate([service["job_type"].to_numpy(), won["job_type"].to_numpy().astype(object),
                                   np.full(len(visits), "maintenance", dtype=object)])
        in_decline = day >= c["decline_from"][cust]
        quote = np.concatenate([np.full(len(service), -1), won["quote"], np.full(len(visits), -1)])
        contract = np.concatenate([np.full(len(service) + len(won), -1), visits["contract"]])
        n = len(cust)
        urgency = np.where(job_type == "emergency", "emergency",
                           np.where(rng.random(n) < 0.25, "urgent", "routine")).astype(object)
        urgency[len(service):len(service) + len(won)] = won["urgency"].to_numpy()
        urgency[len(service) + len(won):] = "routine"
        # Booking lead time: urgent 1-2 days, routine up to 2 weeks, contract visits three weeks.
        lead_hours = np.where(urgency == "urgent", rng.uniform(18, 48, n), rng.uniform(40, 340, n))
        lead_hours[len(service) + len(won):] = 21 * 24
        region = c["region"][cust]
        cancelled = (rng.random(n) < CANCEL_SHARE) & (contract < 0)
        base_hours = _lookup(job_type, JOB_BASE_HOURS)
        base_hours[len(service):len(service) + len(won)] *= won["hours_scope"].to_numpy()  # the quoted scope
        # A job is at most a long day of work; bigger projects are several jobs.
        scheduled_hours = np.clip(np.round(base_hours * rng.lognormal(0, 0.25, n) * 4) / 4, 0.5, 10.0)
        wf = self.p.workforce
        shift_start, shift_end = wf.shift_start_hour * 60, wf.shift_end_hour * 60
        # Emergencies: the call comes at any hour (EMERGENCY_HOUR_WEIGHTS). Calls in the working
        # day go to a technician working that day; the others to the on-call technician.
        emergency = urgency == "emergency"
        hour_p = np.asarray(EMERGENCY_HOUR_WEIGHTS) / np.sum(EMERGENCY_HOUR_WEIGHTS)
        call_min = np.floor((rng.choice(24, size=n, p=hour_p) + rng.random(n)) * 60)
        dispatch = rng.uniform(*EMERGENCY_DISPATCH_MINUTES, n)
        in_shift = (emergency & self.grid_company_day[day] & (call_min >= shift_start)
                    & (call_min < shift_end - EMERGENCY_LAST_IN_SHIFT * 60))
        # Desired time of day of a booking (its request), from which its lead time is counted.
        plan_min = rng.uniform(shift_start, shift_end - 60, n)
        # Book routine, urgent and in-shift emergency jobs into technician-days with capacity.
        to_book = ~cancelled & (~emergency | in_shift)
        priority = np.where(emergency, 0, np.where(urgency == "urgent", 1, 2))
        tech_of, book_day = _book_jobs(
            rng, tech, self.available, self.on_call_tech, wf, to_book, day, region, line, len(self.lines),
            len(self.regions), scheduled_hours, c["lat"][cust], c["lon"][cust], priority, emergency)
        # Emergencies out of hours (or when nobody working could take them): the on-call technician.
        n_r = len(self.regions)
        on_call_job = emergency & ~cancelled & (tech_of < 0)
        idx = np.flatnonzero(on_call_job)
        tech_of[idx] = self.on_call[line[idx] * n_r + region[idx], day[idx]]
        book_day[idx] = day[idx]
        unassigned = tech_of < 0
        # A job spilled past the day its customer leaves is cancelled (they went elsewhere).
        left = (tech_of >= 0) & (book_day >= c["active_to"][cust])
        cancelled = cancelled | unassigned | left
        book_day = np.where(cancelled, day, book_day)
        tech_of = np.where(cancelled, -1, tech_of)
        future = book_day > self.n_data_days - 1
        status = np.where(cancelled, "cancelled", np.where(future, "scheduled", "completed")).astype(object)
        # Each technician-day's route and times (travel at the speed of the hour of departure).
        release = np.where(emergency, call_min + dispatch, shift_start)
        from_home = emergency & ~in_shift
        start_min, travel_minutes, travel_miles = _timeline(
            tech, tech_of, book_day, release, from_home, scheduled_hours, c["lat"][cust], c["lon"][cust],
            shift_start)
        start_min = np.where(cancelled, np.round(plan_min / 15) * 15, start_min)
        scheduled_start = (self.start + pd.to_timedelta(book_day, unit="D")
                           + pd.to_timedelta(np.round(start_min), unit="m"))
        requested = (self.start + pd.to_timedelta(day, unit="D") + pd.to_timedelta(np.round(plan_min), unit="m")
                     - pd.to_timedelta(np.round(lead_hours * 60), unit="m"))
        call = self.start + pd.to_timedelta(day, unit="D") + pd.to_timedelta(call_min, unit="m")
        created_at = pd.DatetimeIndex(np.where(emergency, call.values, requested.values))
        created_at = pd.DatetimeIndex(np.minimum(created_at.values, scheduled_start.values))
        won_slice = slice(len(service), len(service) + len(won))
        created_values = created_at.values.astype("datetime64[ns]").copy()
        created_values[won_slice] = np.minimum(won["created_day_exact"].to_numpy().astype("datetime64[ns]"),
                                               scheduled_start.values[won_slice])
        customer_created = (self.start + pd.to_timedelta(np.maximum(c["created_day"], -10**5), unit="D")).values
        created_values = np.maximum(created_values, customer_created[cust].astype("datetime64[ns]"))
        created_values = np.minimum(created_values, scheduled_start.values.astype("datetime64[ns]"))
        speed = np.where(tech_of >= 0, tech["speed"][np.maximum(tech_of, 0)], 1.0)
        labor = np.minimum(np.round(scheduled_hours * speed * rng.lognormal(0, 0.15, n), 2), 14.0)
        cutoff = np.datetime64(self.end + timedelta(hours=23, minutes=59, seconds=59))
        # A job still running at the end of the data is not completed yet.
        finish = scheduled_start.values + (np.round(labor * 60)).astype("timedelta64[m]")
        status = np.where((status == "completed") & (finish > cutoff), "scheduled", status).astype(object)
        completed = status == "completed"
        labor = np.where(completed, labor, 0.0)
        completed_at = pd.Series(scheduled_start + pd.to_timedelta(np.round(labor * 60), unit="m")).where(completed)
        specs = [self.p.service_lines[name] for name in self.lines]
        ticket = np.array([s.avg_ticket for s in specs])[line]
        factor = _lookup(job_type, JOB_TICKET_FACTOR, default=1.0)
        revenue = ticket * factor * rng.lognormal(-0.045, 0.3, n) * np.where(c["commercial"][cust], 1.15, 1.0)
        revenue[won_slice] = won["revenue"].to_numpy()
        revenue[len(service) + len(won):] = visits["revenue"].to_numpy()
        revenue = np.where(completed, np.round(revenue, 2), 0.0)
        material_share = np.array([s.material_share for s in specs])[line]
        material = np.where(completed, np.round(revenue * material_share * rng.lognormal(0, 0.25, n)
                                                * np.where(job_type == "install", 1.3, 1.0), 2), 0.0)
        hourly = np.where(tech_of >= 0, tech["hourly"][np.maximum(tech_of, 0)], 0.0)
        labor_cost = np.round(labor * hourly, 2)
        callback_rate = np.where(tech_of >= 0, tech["callback_rate"][np.maximum(tech_of, 0)], 0.0)
        callback = completed & (rng.random(n) < callback_rate * np.where(job_type == "install", 1.5, 1.0))
        rating_effect = np.where(tech_of >= 0, tech["rating_effect"][np.maximum(tech_of, 0)], 0.0)
        rated = completed & (rng.random(n) < RATING_SHARE)
        rating = np.clip(np.round(c["satisfaction"][cust] + rating_effect - 2.0 * callback
                                  - DECLINE_RATING_DROP * in_decline + rng.normal(0, 0.8, n)), 0, 10)
        rating = np.where(rated, rating, np.nan)
        safety = completed & (rng.random(n) < SAFETY_INCIDENT_RATE)
        # Equipment: some jobs use the region's piece for the trade.
        equipment_of = _assign_equipment(rng, self.equip, c["region"][cust], line, job_type)
        equipment_of = np.where(completed, equipment_of, -1)
        eq_hourly = np.where(equipment_of >= 0, self.equip["hourly"][np.maximum(equipment_of, 0)], 0.0)
        equipment_cost = np.round(eq_hourly * labor, 2)
        keep = created_values <= cutoff
        # Order jobs by time, then number them.
        sort = np.lexsort((cust, scheduled_start.values))
        sort = sort[keep[sort]]
        m = len(sort)
        job_ids = _ids("J", m, 8)
        cust_ids = self.t["customers"]["customer_id"].to_numpy()
        tech_ids = self.t["technicians"]["technician_id"].to_numpy()
        eq_ids = self.equip["ids"]

        def ref(ids, idx):
            out = np.full(len(idx), None, dtype=object)
            out[idx >= 0] = ids[idx[idx >= 0]]
            return out

        jobs = _frame({
            "job_id": job_ids,
            "customer_id": cust_ids[cust[sort]],
            "technician_id": ref(tech_ids, tech_of[sort]),
            "quote_id": ref(self.quote_ids, quote[sort]),
            "contract_id": ref(self.contract_ids, contract[sort]),
            "equipment_id": ref(eq_ids, equipment_of[sort]),
            "service_line": np.array(self.lines, dtype=object)[line[sort]],
            "job_type": job_type[sort], "urgency": urgency[sort], "status": status[sort],
            "region": np.array(self.regions, dtype=object)[c["region"][cust[sort]]],
            "created_at": created_values[sort],
            "requested_date": (self.start + pd.to_timedelta(day, unit="D")).values.astype("datetime64[ns]")[sort],
            "scheduled_start": scheduled_start.values.astype("datetime64[ns]")[sort],
            "completed_at": completed_at.values.astype("datetime64[ns]")[sort],
            "scheduled_hours": scheduled_hours[sort], "labor_hours": labor[sort],
            "travel_minutes": np.round(np.where(tech_of >= 0, travel_minutes, 0.0)[sort], 1),
            "travel_miles": np.round(np.where(tech_of >= 0, travel_miles, 0.0)[sort], 2),
            "revenue": revenue[sort], "labor_cost": labor_cost[sort], "material_cost": material[sort],
            "equipment_cost": equipment_cost[sort], "callback": callback[sort],
            "rating": rating[sort], "safety_incident": safety[sort],
        })
        self.t["jobs"] = jobs
        self.job_cust = cust[sort]
        self.job_in_decline = in_decline[sort]

    # ------------------------------------------------------------------ invoices, payments
    def _make_billing(self) -> None:
        rng, c = self.rng, self.cust
        jobs = self.t["jobs"]
        done = (jobs["status"] == "completed").to_numpy() & (jobs["revenue"].to_numpy() > 0)
        idx = np.flatnonzero(done)
        cust = self.job_cust[idx]
        k = len(idx)
        issued = jobs["completed_at"].to_numpy()[idx].astype("datetime64[D]").astype("datetime64[ns]")
        commercial = c["commercial"][cust]
        due = issued + np.where(commercial, 30, 15).astype("timedelta64[D]")
        late = c["late_payer"][cust]
        days_to_pay = np.where(late, rng.gamma(3.0, 18.0, k),
                               np.where(commercial, rng.gamma(3.0, 9.3, k), rng.gamma(2.0, 7.5, k)))
        disputed = rng.random(k) < np.where(c["disputer"][cust], 0.08, 0.01)
        days_to_pay = days_to_pay + np.where(disputed, 35, 0)
        written_off = disputed & (rng.random(k) < 0.15)
        paid = issued + np.round(days_to_pay).astype("timedelta64[D]")
        end = np.datetime64(self.end)
        # A lost dispute is written off the day it would otherwise have been paid; one
        # that comes after the data ends is still a dispute (the outcome is not known yet).
        written_off = written_off & (paid <= end)
        written_off_at = np.where(written_off, paid, np.datetime64("NaT"))
        is_paid = (paid <= end) & ~written_off
        status = np.where(written_off, "written_off",
                          np.where(is_paid, "paid", np.where(disputed, "disputed", "open"))).astype(object)
        inv_ids = _ids("I", k, 8)
        amounts = jobs["revenue"].to_numpy()[idx]
        self.t["invoices"] = _frame({
            "invoice_id": inv_ids, "job_id": jobs["job_id"].to_numpy()[idx],
            "customer_id": jobs["customer_id"].to_numpy()[idx], "issued_date": issued,
            "due_date": due, "amount": amounts, "status": status, "disputed": disputed,
            "written_off_at": written_off_at,
        })
        order = np.argsort(paid[is_paid], kind="stable")
        pay_idx = np.flatnonzero(is_paid)[order]
        method = _pick(rng, ["card", "check", "ach", "cash"], [0.5, 0.2, 0.25, 0.05], len(pay_idx))
        method = np.where(commercial[pay_idx] & (method == "cash"), "check", method).astype(object)
        self.t["payments"] = _frame({
            "payment_id": _ids("P", len(pay_idx), 8), "invoice_id": inv_ids[pay_idx],
            "customer_id": jobs["customer_id"].to_numpy()[idx][pay_idx],
            "paid_date": paid[pay_idx], "amount": amounts[pay_idx], "method": method,
        })

    # ------------------------------------------------------------------ interactions
    def _make_interactions(self) -> None:
        rng, c = self.rng, self.cust
        jobs = self.t["jobs"]
        n = len(jobs)
        cust = self.job_cust
        preferred = c["preferred"][cust]
        booking_channel = np.where(rng.random(n) < 0.2, "web", preferred).astype(object)
        completed = (jobs["status"] == "completed").to_numpy()
        rated = completed & jobs["rating"].notna().to_numpy()
        callback = jobs["callback"].to_numpy()
        install = (jobs["job_type"] == "install").to_numpy() & completed
        done_at = jobs["completed_at"].to_numpy()
        parts = [
            (np.arange(n), jobs["created_at"].to_numpy(), booking_channel, "booking", "inbound", np.nan),
            (np.flatnonzero(rated), done_at[rated] + np.timedelta64(26, "h"),
             np.full(rated.sum(), "survey", dtype=object), "survey", "inbound", jobs["rating"].to_numpy()[rated]),
            (np.flatnonzero(callback), done_at[callback]
             + rng.integers(2, 10, callback.sum()).astype("timedelta64[D]"),
             preferred[callback], "complaint", "inbound", np.nan),
            (np.flatnonzero(install), done_at[install] + np.timedelta64(7, "D"),
             np.full(install.sum(), "email", dtype=object), "follow_up", "outbound", np.nan),
        ]
        job_idx = np.concatenate([part[0] for part in parts])
        ts = np.concatenate([part[1].astype("datetime64[ns]") for part in parts])
        channel = np.concatenate([np.asarray(part[2], dtype=object) for part in parts])
        kind_code = np.concatenate([np.full(len(part[0]), k) for k, part in enumerate(parts)])
        satisfaction = np.concatenate([np.broadcast_to(np.asarray(part[5], dtype=float), len(part[0]))
                                       for part in parts])
        keep = ts <= np.datetime64(self.end + timedelta(hours=23, minutes=59))
        order = np.lexsort((kind_code[keep], job_idx[keep], ts[keep]))
        pick = np.flatnonzero(keep)[order]
        kinds = np.array([p[3] for p in parts], dtype=object)
        directions = np.array([p[4] for p in parts], dtype=object)
        inter = _frame({
            "interaction_id": _ids("X", len(pick), 8),
            "customer_id": jobs["customer_id"].to_numpy()[job_idx[pick]],
            "job_id": jobs["job_id"].to_numpy()[job_idx[pick]], "ts": ts[pick],
            "channel": channel[pick], "kind": kinds[kind_code[pick]],
            "direction": directions[kind_code[pick]], "satisfaction": satisfaction[pick],
        })
        self.t["interactions"] = inter[CONTRACTS["interactions"].columns]

    # ------------------------------------------------------------------ equipment
    def _make_equipment(self) -> None:
        rng, tech = self.rng, self.tech
        rows = []
        for ri, region in enumerate(self.regions):
            for li, line in enumerate(self.lines):
                skilled = ((tech["region"] == ri) & ((tech["primary"] == li) | (tech["second"] == li))).sum()
                if skilled == 0:
                    continue
                for k in range(max(2, math.ceil(skilled / 2))):
                    rows.append((ri, li, k))
        n = len(rows)
        region_of = np.array([r[0] for r in rows], dtype=int)
        line_of = np.array([r[1] for r in rows], dtype=int)
        kind = np.array([EQUIPMENT_BY_LINE[self.lines[li]][1] for li in line_of], dtype=object)
        names = np.array([f"{EQUIPMENT_BY_LINE[self.lines[li]][0]} #{k + 1} ({self.regions[ri]})"
                          for ri, li, k in rows], dtype=object)
        cost = np.array([EQUIPMENT_BY_LINE[self.lines[li]][2] for li in line_of]) * rng.lognormal(0, 0.1, n)
        hourly = np.array([EQUIPMENT_BY_LINE[self.lines[li]][3] for li in line_of])
        purchase_day = -rng.integers(30, 365 * 5, n)
        ids = _ids("E", n, 5)
        self.t["equipment"] = _frame({
            "equipment_id": ids, "name": names, "kind": kind,
            "service_line": np.array(self.lines, dtype=object)[line_of],
            "region": np.array(self.regions, dtype=object)[region_of],
            "purchase_date": (self.start + pd.to_timedelta(purchase_day, unit="D")).values.astype("datetime64[ns]"),
            "purchase_cost": np.round(cost, 2), "hourly_cost": hourly,
            "available_hours_per_week": np.full(n, 40.0),
        })
        self.equip = {"ids": ids, "region": region_of, "line": line_of, "hourly": hourly, "kind": kind,
                      "cost": cost}

    def _make_equipment_usage(self) -> None:
        jobs = self.t["jobs"]
        used = jobs[jobs["equipment_id"].notna() & (jobs["labor_hours"] > 0)]
        self.t["equipment_usage"] = _frame({
            "usage_id": _ids("U", len(used), 8), "equipment_id": used["equipment_id"].to_numpy(),
            "job_id": used["job_id"].to_numpy(),
            "date": used["scheduled_start"].dt.normalize().to_numpy(),
            "hours": np.minimum(used["labor_hours"].to_numpy(), 24.0),
        })

    def _make_reliability(self) -> None:
        """Preventive maintenance, failures (a wear age that maintenance reduces), daily telemetry with drift."""
        rng, eq = self.rng, self.equip
        n = len(eq["ids"])
        horizon = self.n_data_days
        rel = RELIABILITY
        # Preventive maintenance is due every 90 days; 12 % is skipped, the rest done 0-7 days late.
        pm_per = horizon // rel["pm_interval_days"]
        pm_day = (np.arange(pm_per)[None, :] * rel["pm_interval_days"] + rel["pm_first_day"][0]
                  + rng.integers(0, rel["pm_first_day"][1] - rel["pm_first_day"][0] + 1, (n, pm_per)))
        pm_done = rng.random((n, pm_per)) < rel["pm_completion_share"]
        pm_delay = rng.integers(rel["pm_delay_days"][0], rel["pm_delay_days"][1] + 1, (n, pm_per))
        pm_done &= pm_day + pm_delay < horizon
        scale_days = np.array([rel["weibull_scale_days"][k] for k in eq["kind"]])
        initial_age = rng.uniform(*rel["initial_age_share_of_scale"], n) * scale_days
        e_idx, f_day, f_down, f_age = _age_process(
            rng, scale_days, rel["weibull_shape"], rel["pm_age_reduction"],
            np.where(pm_done, pm_day + pm_delay, np.nan).astype(float), initial_age, rel["start_day"], horizon,
            rel["downtime_days"])
        mode, lead = self._failure_modes(eq["kind"][e_idx])
        # Telemetry: one reading a day at noon, none while the equipment is down.
        base_vib = rng.uniform(1.5, 3.0, n)
        base_temp = rng.uniform(52, 62, n)
        base_press = rng.uniform(95, 110, n)
        vib_rise, temp_rise, press_drop, temp_noise, drift, spectral, down = self._failure_signatures(
            n, horizon, e_idx, f_day, f_down, mode, lead)
        self._make_states(drift, down)
        self._make_energy(initial_age, np.where(pm_done, pm_day + pm_delay, np.nan), e_idx, f_day, f_down, down)
        self._make_snapshots(spectral, down)
        ambient = self.t["weather"].pivot(index="date", columns="region", values="temp_c")
        ambient = ambient[self.regions].to_numpy().T[eq["region"]][:, :horizon]
        vib = base_vib[:, None] * (1 + vib_rise) * rng.lognormal(0, 0.08, (n, horizon))
        noise = rng.normal(0, 1.0, (n, horizon))
        temp = base_temp[:, None] + 0.3 * ambient + temp_rise + noise * np.sqrt(1.5 ** 2 + temp_noise ** 2)
        press = base_press[:, None] - press_drop + rng.normal(0, 2.0, (n, horizon))
        keep = ~down
        e_of, d_of = np.nonzero(keep)
        self.t["telemetry"] = _frame({
            "equipment_id": eq["ids"][e_of],
            "ts": (self.start + pd.to_timedelta(d_of, unit="D")
                   + pd.Timedelta(hours=12)).values.astype("datetime64[ns]"),
            "vibration": np.round(vib[keep], 3), "temperature": np.round(temp[keep], 2),
            "pressure": np.round(np.clip(press[keep], 0, None), 2),
        })
        # Maintenance events: failures, preventive (due every 90 days), occasional corrective repairs.
        fail_ts = self.start + pd.to_timedelta(f_day, unit="D")
        failures = _frame({
            "equipment_id": eq["ids"][e_idx], "kind": "failure",
            "scheduled_date": fail_ts.values.astype("datetime64[ns]"),
            "completed_date": (fail_ts + pd.to_timedelta(f_down, unit="D")).values.astype("datetime64[ns]"),
            "downtime_hours": f_down * 24.0,
            "cost": np.round(eq["cost"][e_idx] * rel["failure_cost_share_of_purchase"]
                             * rng.lognormal(0, rel["failure_cost_lognormal_sigma"], len(e_idx)), 2),
            "failure_mode": mode,
        })
        pm_e = np.repeat(np.arange(n), pm_per)
        pm_ts = self.start + pd.to_timedelta(pm_day.ravel(), unit="D")
        pm_done, pm_delay = pm_done.ravel(), pm_delay.ravel()
        done_ts = pd.Series(pm_ts + pd.to_timedelta(pm_delay, unit="D")).where(pm_done)
        preventive = _frame({
            "equipment_id": eq["ids"][pm_e], "kind": "preventive",
            "scheduled_date": pm_ts.values.astype("datetime64[ns]"),
            "completed_date": done_ts.values.astype("datetime64[ns]"),
            "downtime_hours": np.where(done_ts.notna(), rng.uniform(*rel["pm_downtime_hours"], len(pm_e)).round(1),
                                       0.0),
            "cost": np.where(done_ts.notna(), np.round(eq["cost"][pm_e] * rel["pm_cost_share_of_purchase"], 2), 0.0),
        })
        n_corr = rng.poisson(1.0 * horizon / 365.25, n)
        corr_e = np.repeat(np.arange(n), n_corr)
        corr_day = rng.integers(0, horizon - 2, len(corr_e))
        corr_ts = self.start + pd.to_timedelta(corr_day, unit="D")
        corrective = _frame({
            "equipment_id": eq["ids"][corr_e], "kind": "corrective",
            "scheduled_date": corr_ts.values.astype("datetime64[ns]"),
            "completed_date": (corr_ts + pd.to_timedelta(1, unit="D")).values.astype("datetime64[ns]"),
            "downtime_hours": rng.uniform(4, 24, len(corr_e)).round(1),
            "cost": np.round(eq["cost"][corr_e] * 0.04 * rng.lognormal(0, 0.3, len(corr_e)), 2),
        })
        events = pd.concat([failures, preventive, corrective], ignore_index=True)
        events = events.sort_values(["scheduled_date", "equipment_id", "kind"], kind="stable").reset_index(drop=True)
        events.insert(0, "event_id", _ids("M", len(events), 6))
        self.t["maintenance_events"] = events[CONTRACTS["maintenance_events"].columns]
        drift_start = fail_ts - pd.to_timedelta(lead, unit="D")
        self.truth_tables["equipment_failures"] = _frame({
            "equipment_id": eq["ids"][e_idx], "failure_date": fail_ts.values.astype("datetime64[ns]"),
            "drift_start": drift_start.values.astype("datetime64[ns]"), "downtime_days": f_down,
            "failure_mode": mode, "virtual_age_days": np.round(f_age, 1),
        }).sort_values(["failure_date", "equipment_id"]).reset_index(drop=True)
        self.truth_tables["equipment_reliability"] = _frame({
            "equipment_id": eq["ids"], "kind": eq["kind"], "weibull_scale_days": scale_days,
            "initial_virtual_age_days": np.round(initial_age, 1),
            "preventive_due": np.full(n, pm_per), "preventive_done": pm_done.reshape(n, pm_per).sum(axis=1),
            "failures": np.bincount(e_idx, minlength=n),
            "degradation_rate_per_year": np.round(self.degradation_rate, 5),
            "power_factor": np.round(self.power_factor, 5),
        })

    def _failure_modes(self, kind: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each failure's mode (drawn from its equipment kind's mix) and its drift lead days."""
        rng = self.rng
        mode = np.empty(len(kind), dtype=object)
        u = rng.random(len(kind))
        for k, mix in FAILURE_MODE_MIX.items():
            at = kind == k
            shares = np.array([mix[m] for m in FAILURE_MODES])
            mode[at] = np.array(FAILURE_MODES, dtype=object)[
                np.minimum(np.searchsorted(np.cumsum(shares), u[at], side="right"), len(FAILURE_MODES) - 1)]
        lo = np.array([FAILURE_SIGNATURES[m]["lead_days"][0] for m in mode], dtype=int)
        hi = np.array([FAILURE_SIGNATURES[m]["lead_days"][1] for m in mode], dtype=int)
        return mode, rng.integers(lo, hi + 1) if len(mode) else lo

    def _failure_signatures(self, n, horizon, e_idx, f_day, f_down, mode, lead):
        """Per unit and day: the drift of each reading before a failure, and the days down after it."""
        rng = self.rng
        vib_rise, temp_rise = np.zeros((n, horizon)), np.zeros((n, horizon))
        press_drop, temp_noise = np.zeros((n, horizon)), np.zeros((n, horizon))
        drift, spectral = np.zeros((n, horizon)), np.zeros((n, horizon))
        down = np.zeros((n, horizon), dtype=bool)
        days = np.arange(horizon)
        for e, d, L, dd, m in zip(e_idx, f_day, lead, f_down, mode):
            sig = FAILURE_SIGNATURES[m]
            lo = max(d - L, 0)
            window = slice(lo, d + 1)
            if "excursion_probability" in sig:
                width = d + 1 - lo
                hit = rng.random(width) < sig["excursion_probability"]
                size = rng.uniform(0.5, 1.0, width) * hit
                vib_rise[e, window] = np.maximum(vib_rise[e, window], sig["excursion_vibration"] * size)
                temp_rise[e, window] = np.maximum(temp_rise[e, window], sig["excursion_temperature_c"] * size)
                drift[e, window] = np.maximum(drift[e, window], size)
            else:
                shape = ((days[window] - (d - L)) / L) ** 1.5
                vib_rise[e, window] = np.maximum(vib_rise[e, window], sig["vibration_rise"] * shape)
                temp_rise[e, window] = np.maximum(temp_rise[e, window], sig["temperature_rise_c"] * shape)
                press_drop[e, window] = np.maximum(press_drop[e, window], sig["pressure_drop_psi"] * shape)
                temp_noise[e, window] = np.maximum(temp_noise[e, window], sig["temperature_noise_c"] * shape)
                drift[e, window] = np.maximum(drift[e, window], shape)
            if m == "bearing":
                # A bearing's defect shows in the spectrum earlier than in the overall level.
                lead_x = int(SNAPSHOT["bearing_lead_factor"] * L)
                lo_x = max(d - lead_x, 0)
                grow = ((days[lo_x:d + 1] - (d - lead_x)) / lead_x) ** 1.5
                spectral[e, lo_x:d + 1] = np.maximum(spectral[e, lo_x:d + 1], grow)
            down[e, d + 1:d + 1 + dd] = True
        return vib_rise, temp_rise, press_drop, temp_noise, drift, spectral, down

    def _make_snapshots(self, spectral: np.ndarray, down: np.ndarray) -> None:
        """A weekly vibration snapshot per unit: a synthesised waveform, stored as its spectrum's peaks."""
        rng, eq, sn = self.rng, self.equip, SNAPSHOT
        n, horizon = down.shape
        weeks = horizon // 7
        day = np.arange(weeks) * 7 + sn["weekday"]
        e_of, w_of = np.nonzero(~down[:, day])
        d_of = day[w_of]
        m = len(e_of)
        speed = rng.uniform(*sn["running_speed_hz"], n)[e_of] * rng.normal(1, sn["speed_jitter"], m)
        imbalance = rng.uniform(*sn["amp_1x"], n)[e_of]
        g = spectral[e_of, d_of]
        amps = np.column_stack([
            imbalance * (1 + sn["growth"]["amp_1x"] * g),
            np.full(m, sn["amp_2x"]) * (1 + sn["growth"]["amp_2x"] * g),
            np.full(m, sn["amp_bpfo"]) * (1 + sn["growth"]["amp_bpfo"] * g),
            np.full(m, sn["amp_bpfi"]) * (1 + sn["growth"]["amp_bpfi"] * g),
        ])
        ratios = np.array([1.0, 2.0, sn["bpfo_ratio"], sn["bpfi_ratio"]])
        fs, size = sn["sample_rate_hz"], sn["samples"]
        t = (np.arange(size) / fs).astype(np.float32)
        window = np.hanning(size).astype(np.float32)
        freqs = np.fft.rfftfreq(size, 1 / fs)
        measured = np.zeros((m, 4))
        rms = np.zeros(m)
        impact = sn["impacts"]["amp_mm_s"] * g
        # The raw waveforms kept: each unit's snapshots in the last recent_waveforms weeks of the data.
        keep = w_of >= weeks - sn["recent_waveforms"]
        kept: list[np.ndarray] = []
        for lo in range(0, m, 4096):
            hi = min(lo + 4096, m)
            k = hi - lo
            phase = rng.uniform(0, 2 * np.pi, (k, 4)).astype(np.float32)
            wave = rng.standard_normal((k, size), dtype=np.float32)
            wave *= np.float32(sn["noise_mm_s"])
            for j in range(4):
                omega = (2 * np.pi * speed[lo:hi] * ratios[j]).astype(np.float32)
                amp = amps[lo:hi, j, None].astype(np.float32)
                wave += amp * np.sin(omega[:, None] * t[None, :] + phase[:, j, None])
            hit = np.flatnonzero(impact[lo:hi] > 0)
            if len(hit):
                # Impacts once per outer-race pass, in step with the BPFO component (no draw: the
                # random stream, hence every other table, is the same as without impacts).
                period = 1.0 / (speed[lo:hi][hit] * sn["bpfo_ratio"])
                first = phase[hit, 2] / (2 * np.pi) * period
                since = np.mod(t[None, :] - first[:, None], period[:, None])
                ring = np.exp(-since / (sn["impacts"]["decay_ms"] / 1000.0)) * np.sin(
                    2 * np.pi * sn["impacts"]["resonance_hz"] * since)
                wave[hit] += (impact[lo:hi][hit, None] * ring).astype(np.float32)
            if keep[lo:hi].any():
                kept.append(np.clip(np.round(wave[keep[lo:hi]] / sn["waveform_resolution_mm_s"]),
                                    -32768, 32767).astype("<i2"))
            rms[lo:hi] = np.sqrt(np.einsum("ij,ij->i", wave, wave, dtype=np.float64) / size)
            spectrum = np.abs(np.fft.rfft(wave * window, axis=1)) * 2 / window.sum()
            for j in range(4):
                # The peak within two bins of the component's frequency (the spectrum's resolution is 2 Hz).
                centre = np.rint(speed[lo:hi] * ratios[j] / freqs[1]).astype(int)
                near = np.clip(centre[:, None] + np.arange(-2, 3)[None, :], 0, len(freqs) - 1)
                measured[lo:hi, j] = np.take_along_axis(spectrum, near, axis=1).max(axis=1)
        self.t["vibration_snapshots"] = _frame({
            "equipment_id": eq["ids"][e_of],
            "ts": (self.start + pd.to_timedelta(d_of, unit="D")
                   + pd.Timedelta(hours=sn["hour"])).values.astype("datetime64[ns]"),
            "running_speed_hz": np.round(speed, 2), "rms": np.round(rms, 3),
            **{name: np.round(measured[:, j], 4) for j, name in enumerate(SNAPSHOT_PEAKS)},
        })
        self.truth_tables["vibration_snapshots"] = _frame({
            "equipment_id": eq["ids"][e_of],
            "ts": self.t["vibration_snapshots"]["ts"].to_numpy(), "bearing_growth": np.round(g, 4),
            **{f"true_{name}": np.round(amps[:, j], 4)
               for j, name in enumerate(SNAPSHOT_PEAKS)},
            "true_impact_mm_s": np.round(impact, 4),
        })
        counts = np.concatenate(kept) if kept else np.zeros((0, size), dtype="<i2")
        rows = np.flatnonzero(keep)
        self.t["vibration_waveforms"] = _frame({
            "equipment_id": eq["ids"][e_of[rows]],
            "ts": self.t["vibration_snapshots"]["ts"].to_numpy()[rows],
            "sample_rate_hz": np.full(len(rows), float(fs)), "samples": np.full(len(rows), size),
            "resolution_mm_s": np.full(len(rows), sn["waveform_resolution_mm_s"]),
            "data": np.array([base64.b64encode(c.tobytes()).decode("ascii") for c in counts], dtype=object),
        })

    def _make_states(self, drift: np.ndarray, down: np.ndarray) -> None:
        """Hours a day in each operating state, from an hourly Markov chain that drifts before failures.

        Each unit-day starts idle at midnight and steps hour by hour; in working hours the chain
        follows its kind's matrix mixed with the pre-failure one, ``(1 - d) P_kind + d P_pre``,
        ``d`` the day's drift toward the failure (the telemetry's, 0 to 1); at night ``P_night``.
        The day's 24 hourly transitions are counted too (``TRANSITION_COLUMNS``), the first from
        the idle midnight start, so the hours in a state are the transitions into it.
        """
        rng, eq = self.rng, self.equip
        keep = ~down
        e_of, d_of = np.nonzero(keep)
        d = drift[keep]
        kinds = sorted(OPERATING_CHAINS["working_hours"])
        kind_of = np.searchsorted(kinds, eq["kind"][e_of])
        work = np.array([OPERATING_CHAINS["working_hours"][k] for k in kinds])  # kind x from x to
        pre = np.array(OPERATING_CHAINS["pre_failure"])
        night = np.array(OPERATING_CHAINS["night"])
        day_hours = range(*OPERATING_CHAINS["working_hours_of_day"])
        k = len(OPERATING_STATES)
        state = np.zeros(len(d), dtype=np.int64)
        hours = np.zeros(len(d) * k, dtype=np.int64)
        moves = np.zeros(len(d) * k * k, dtype=np.int64)  # unit-day x from x to
        offset = np.arange(len(d)) * k
        for hour in range(24):
            if hour in day_hours:
                row = (1 - d)[:, None] * work[kind_of, state] + d[:, None] * pre[state]
            else:
                row = night[state]
            u = rng.random(len(d))
            new = np.minimum((u[:, None] > np.cumsum(row, axis=1)).sum(axis=1), k - 1)
            hours += np.bincount(offset + new, minlength=len(hours))
            moves += np.bincount((offset + state) * k + new, minlength=len(moves))
            state = new
        hours = hours.reshape(len(d), k).astype(float)
        moves = moves.reshape(len(d), k * k)
        self.t["equipment_states"] = _frame({
            "equipment_id": eq["ids"][e_of],
            "date": (self.start + pd.to_timedelta(d_of, unit="D")).values.astype("datetime64[ns]"),
            **{f"{s}_hours": hours[:, i] for i, s in enumerate(OPERATING_STATES)},
            **{name: moves[:, j] for j, name in enumerate(TRANSITION_COLUMNS)},
        })

    def _make_energy(self, initial_age, pm_days, e_idx, f_day, f_down, down) -> None:
        """The daily energy meter of each unit (``equipment_states.energy_kwh``) and its daily wear age.

        The wear age is the one ``_age_process`` follows, replayed on whole days: from
        ``start_day`` (``initial_age``; before it, that age less the days still to go, at least 0)
        it grows a day a day, a completed preventive maintenance on an up day at or after
        ``start_day`` halves it (``pm_age_reduction``) and the day a failure's repair ends resets
        it to 0; the age on a failure's day is within one day below the failure's
        ``virtual_age_days``. Energy follows ``ENERGY``; the rates go to ``equipment_reliability``
        and the daily age to the truth table ``equipment_wear``.
        """
        eq, rel, en = self.equip, RELIABILITY, ENERGY
        rng = np.random.default_rng([self.seed, en["stream"]])
        n, horizon = down.shape
        start_day = rel["start_day"]
        applied = np.zeros((n, horizon), dtype=bool)
        e_pm, j_pm = np.nonzero(~np.isnan(pm_days))
        p_day = pm_days[e_pm, j_pm].astype(int)
        ok = p_day >= start_day
        applied[e_pm[ok], p_day[ok]] = True
        applied &= ~down  # a maintenance due while the unit is down for repair finds it as good as new
        reset = np.zeros((n, horizon), dtype=bool)
        back = f_day + 1 + f_down
        inside = back < horizon
        reset[e_idx[inside], back[inside]] = True
        wear = np.empty((n, horizon))
        age = np.zeros(n)
        for d in range(horizon):  # sequential in time, vectorised over units (PM scales the age so far)
            age = np.maximum(initial_age - (start_day - d), 0.0) if d <= start_day else age + 1.0
            age = np.where(reset[:, d], 0.0, age)
            age = np.where(applied[:, d], age * (1 - rel["pm_age_reduction"]), age)
            wear[:, d] = age
        kinds = eq["kind"]
        median = np.array([en["rate_median_per_year"][k] for k in kinds])
        rate = median * rng.lognormal(0.0, en["rate_sigma"], n)
        rate *= np.where(rng.random(n) < en["fast_share"], en["fast_multiplier"], 1.0)
        power_factor = rng.lognormal(0.0, en["unit_power_sigma"], n)
        states = self.t["equipment_states"]
        e_of = np.searchsorted(eq["ids"], states["equipment_id"].to_numpy())
        d_of = ((states["date"] - self.start).dt.days).to_numpy()
        draw = np.array([[en["power_kw"][k][s] for s in OPERATING_STATES] for k in kinds])  # unit x state
        hours = states[[f"{s}_hours" for s in OPERATING_STATES]].to_numpy(dtype=float)
        base = np.einsum("ij,ij->i", hours, draw[e_of])
        temp = self.t["weather"].pivot(index="date", columns="region", values="temp_c")[self.regions].to_numpy().T
        ambient = 1.0 + en["ambient"]["per_c"] * np.maximum(temp[eq["region"][e_of], d_of] - en["ambient"]["above_c"],
                                                             0.0)
        wear_years = wear[e_of, d_of] / 365.25
        energy = (base * power_factor[e_of] * ambient * (1.0 + rate[e_of] * wear_years)
                  * rng.lognormal(0.0, en["noise_sigma"], len(e_of)))
        states["energy_kwh"] = np.round(energy, 3)
        self.degradation_rate, self.power_factor = rate, power_factor
        self.truth_tables["equipment_wear"] = _frame({
            "equipment_id": states["equipment_id"].to_numpy(), "date": states["date"].to_numpy(),
            "wear_age_days": np.round(wear[e_of, d_of], 3), "ambient_factor": np.round(ambient, 5),
        })

    # ------------------------------------------------------------------ expenses
    def _make_expenses(self) -> None:
        """Monthly overheads, weekly fuel, and the technicians' paid but unbilled hours."""
        rng = self.rng
        months = pd.date_range(self.start, self.end, freq="MS")
        techs = self.t["technicians"]
        jobs = self.t["jobs"]
        done = jobs[jobs["status"] == "completed"]
        month_of_job = done["scheduled_start"].dt.to_period("M").dt.to_timestamp()
        labor_by_month = done.groupby(month_of_job)["labor_cost"].sum()
        revenue_by_month = done.groupby(month_of_job)["revenue"].sum()
        rows = []
        for m in months:
            month_end = m + pd.offsets.MonthEnd(0)
            employed = (techs["hire_date"] <= month_end) & (
                techs["termination_date"].isna() | (techs["termination_date"] >= m))
            n_tech = int(employed.sum())
            paid_wages = float((techs.loc[employed, "weekly_hours"] * techs.loc[employed, "hourly_rate"]).sum()
                               * 52 / 12)
            idle = max(paid_wages - float(labor_by_month.get(m, 0.0)), 0.0)
            season = MONTH_SEASON[m.month]
            utility = {"winter": 1.35, "summer": 1.25, "spring": 0.9, "fall": 0.85}[season]
            fixed = {
                "rent": 2500 + 180 * n_tech, "insurance": 900 + 140 * n_tech,
                "office_salaries": 4500 + 1100 * n_tech, "vehicle_leases": 690 * n_tech,
                "software": 350 + 35 * n_tech,
            }
            variable = {
                "utilities": (600 + 25 * n_tech) * utility,
                "marketing": 0.04 * float(revenue_by_month.get(m, 0.0)),
                "technician_unbilled_time": idle,
                "tools_and_supplies": 85 * n_tech,
            }
            for category, amount in fixed.items():
                rows.append((m, category, "fixed", amount))
            for category, amount in variable.items():
                if amount > 0:
                    rows.append((m + pd.Timedelta(days=int(rng.integers(0, 27))), category, "variable",
                                 amount * rng.lognormal(0, 0.05)))
        fuel_week = done.groupby(done["scheduled_start"].dt.to_period("W").dt.start_time)["travel_miles"].sum()
        for week, miles in fuel_week.items():
            if week >= self.start and miles > 0:
                rows.append((week, "fuel", "variable", miles * 0.35))
        exp = pd.DataFrame(rows, columns=["date", "category", "kind", "amount"])
        exp = exp[exp["date"] <= self.end].sort_values(["date", "category"], kind="stable").reset_index(drop=True)
        exp["amount"] = exp["amount"].round(2)
        exp.insert(0, "expense_id", _ids("EX", len(exp), 6))
        exp["service_line"] = pd.Series([None] * len(exp), dtype=object)
        exp["date"] = exp["date"].astype("datetime64[ns]")
        self.t["expenses"] = exp[CONTRACTS["expenses"].columns]

    # ------------------------------------------------------------------ all
    def build(self) -> GeneratedCompany:
        steps = [self._make_calendar, self._make_weather, self._make_economy, self._make_intensity,
                 self._make_technicians, self._make_availability, self._make_customers, self._make_demand,
                 self._make_contracts, self._make_funnel, self._make_equipment, self._make_jobs, self._make_billing,
                 self._make_interactions, self._make_equipment_usage, self._make_reliability,
                 self._make_expenses]
        for step in steps:
            step()
        # A table the company does not keep (no roster) is absent: the warehouse creates it empty.
        tables = {name: _conform(name, self.t[name]) for name in TABLE_ORDER if name in self.t}
        return GeneratedCompany(self.p, self.seed, self.scale, tables, self._truth(), self.truth_tables)

    def _truth(self) -> dict:
        p = self.p
        churn = self.truth_tables["customers"]
        return {
            "company": p.name, "slug": p.slug, "seed": self.seed, "scale": self.scale,
            "start": str(p.start), "end": str(p.end),
            "seasonal_factors": {line: dict(spec.seasonal) for line, spec in p.service_lines.items()},
            "season_months": {s: [m for m, v in MONTH_SEASON.items() if v == s] for s in SEASONS},
            "weekday_factors": dict(zip(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], WEEKDAY_FACTORS)),
            "holiday_factor": HOLIDAY_FACTOR, "holiday_calendar": "US federal (holidays.US)",
            "storm_multiplier": {"service_line": "roofing", "factor": STORM_MULTIPLIER,
                                 "window_days": STORM_WINDOW_DAYS, "months": list(STORM_MONTHS)},
            "annual_growth": p.annual_growth,
            "churn": {"base_annual_hazard": p.base_annual_churn, "log_hazard_coefficients": CHURN_COEF,
                      "satisfaction_gap_reference": 8.0, "decline_days": DECLINE_DAYS,
                      "decline_rate": DECLINE_RATE, "decline_rating_drop": DECLINE_RATING_DROP,
                      "churned_customers": int(churn["churned"].sum()), "customers": int(len(churn))},
            "quotes": {"job_types": list(QUOTED_JOB_TYPES),
                       "quoted_share_of_events": {"install": 1.0, "repair": MAJOR_REPAIR_QUOTE_SHARE},
                       "list_amount": "avg_ticket x list_scope[job_type] x commercial_scope (commercial"
                                      " customers) x lognormal(0, 0.4), rounded to 10, + 50",
                       "list_scope": QUOTE_LIST_SCOPE, "hours_scope": QUOTE_HOURS_SCOPE,
                       "commercial_scope": COMMERCIAL_QUOTE_SCOPE, "timing_days": QUOTE_TIMING,
                       "won_becomes_job": True, "lost_or_open_job_done": False,
                       "quotes_by_job_type": {str(k): int(v) for k, v in
                                              self.t["quotes"]["job_type"].value_counts().sort_index().items()}},
            "quote_win_model": {"logit_coefficients": WIN_COEF,
                                "price_coefficient": {
                                    "formula": "by_segment[segment] + by_service_line[line] (0 if absent)"
                                               " + urgent_shift x urgent",
                                    "by_segment": PRICE_SLOPE_BY_SEGMENT,
                                    "by_service_line": PRICE_SLOPE_LINE_SHIFT,
                                    "urgent_shift": PRICE_SLOPE_URGENT_SHIFT,
                                    "segment_rule": "quantlib.data.price_segments.quote_segments",
                                    "quote_weighted_mean": float(self.truth_tables["quotes"]["price_coef"].mean())}},
            "payment_days_mean": {"residential": 15, "commercial": 28, "late_payer": 54,
                                  "dispute_extra_days": 35, "dispute_write_off_share": 0.15},
            "technicians": {"speed": "lognormal(0, 0.15) clipped to [0.7, 1.45]",
                            "callback_rate": "beta(2, 30)", "rating_effect": "normal(0, 0.5)"},
            "equipment_reliability": {
                "model": "each unit's wear (virtual) age v grows a day a day from start_day (initial age"
                         " uniform(initial_age_share_of_scale) x scale); failure hazard Weibull"
                         " h(v) = shape / scale x (v / scale) ** (shape - 1), scale by equipment kind; a completed"
                         " preventive maintenance (completed_date) sets v to v x (1 - pm_age_reduction)"
                         " (imperfect repair, Kijima type I on the age); a failure's repair (downtime_days"
                         " uniform integers) makes the unit as good as new (v = 0); preventive maintenance"
                         " completed before start_day or while the unit is down has no effect; corrective"
                         " repairs have none either; the failure mode is drawn after, independent of the age",
                **{k: list(v) if isinstance(v, tuple) else v for k, v in RELIABILITY.items()},
                "failure_cost": "purchase_cost x failure_cost_share_of_purchase x lognormal(0, sigma)"
                                " + downtime_days of lost use",
                "pm_cost": "purchase_cost x pm_cost_share_of_purchase (skipped: 0), pm_downtime_hours uniform",
                "per_unit_truth_table": "equipment_reliability",
                "failure_age_truth_column": "equipment_failures.virtual_age_days"},
            "vibration_snapshots": {
                **json.loads(json.dumps(SNAPSHOT)),
                "waveform": "sum over components of amp x sin(2 pi x ratio x running_speed x t + uniform phase)"
                            " + normal(0, noise_mm_s), ratios 1, 2, bpfo_ratio, bpfi_ratio; running speed per unit"
                            " uniform(running_speed_hz) x normal(1, speed_jitter) per snapshot; amp_1x per unit",
                "impacts_model": "bearing growth g > 0 adds impacts.amp_mm_s x g x exp(-s / decay) x"
                                 " sin(2 pi resonance_hz s), s the time since the last outer-race pass (period"
                                 " 1 / (bpfo_ratio x running speed), in step with the BPFO component's phase);"
                                 " truth column true_impact_mm_s",
                "stored": "peaks of the Hann-windowed amplitude spectrum (of the waveform with impacts) within 2"
                          " bins of each frequency and the waveform's rms; the true amplitudes are in the truth"
                          " table vibration_snapshots",
                "waveforms": "table vibration_waveforms: the raw samples of each unit's snapshots in the last"
                             " recent_waveforms weeks of the data, one row per snapshot, data = base64 of the"
                             " little-endian int16 counts of waveform_resolution_mm_s (clipped to the int16 range)",
                "snapshot": "day 7 w + weekday of the data, at hour; none on a day the unit is down"},
            "operating_states": {
                "states": list(OPERATING_STATES), "start_of_day": "idle", "step": "1 hour",
                "transition_counts": "columns <from>_to_<to>: the day's 24 hourly transitions, the first from"
                                     " the idle start at midnight; hours in a state = transitions into it",
                "transition": "working hours: (1 - d) x working_hours[kind] + d x pre_failure, d the day's"
                              " drift toward a failure (frac ** 1.5 of the failure mode's window, or a control"
                              " board's excursion size), rows from, columns to; other hours: night",
                **json.loads(json.dumps(OPERATING_CHAINS)),  # tuples as lists, as in ground_truth.json
                "down_days": "no row"},
            "equipment_energy": {
                **json.loads(json.dumps(ENERGY)),
                "energy_kwh": "sum over states of state_hours x power_kw[kind][state] x power_factor (per unit,"
                              " lognormal(0, unit_power_sigma)) x (1 + ambient.per_c x max(temp_c - ambient.above_c,"
                              " 0)) x (1 + degradation_rate_per_year x wear_age_days / 365.25)"
                              " x lognormal(0, noise_sigma), rounded to 0.001",
                "degradation_rate_per_year": "rate_median_per_year[kind] x lognormal(0, rate_sigma),"
                                             " x fast_multiplier with probability fast_share",
                "wear_age": "the equipment_reliability virtual age on whole days: halved on the completed_date of"
                            " a preventive maintenance on an up day from start_day, 0 on the day a failure's"
                            " repair ends; before start_day the initial age less the days to go (at least 0)",
                "per_unit_truth_columns": "equipment_reliability.degradation_rate_per_year, power_factor",
                "daily_truth_table": "equipment_wear (wear_age_days, ambient_factor)"},
            # The life law from new in the form the maintenance-policy benchmark reads (no PM in between).
            "equipment_life": {"gap": "days from a failure's repair to the next failure, with no preventive"
                                      " maintenance in between = min_gap_days + scale_days[kind] x Weibull(shape)",
                               "shape": RELIABILITY["weibull_shape"],
                               "scale_days": {"heavy": RELIABILITY["weibull_scale_days"]["heavy"],
                                              "other kinds": RELIABILITY["weibull_scale_days"]["diagnostic"]},
                               "min_gap_days": 0,
                               "preventive_maintenance_effect": "imperfect repair: a completed preventive maintenance"
                                                                " multiplies the wear age by 1 - pm_age_reduction"
                                                                f" = {1 - RELIABILITY['pm_age_reduction']:g}"
                                                                " (see equipment_reliability); it does not renew"},
            "equipment_drift": {
                "shape": "frac ** 1.5, frac rising from 0 to 1 over the lead days before the failure",
                "failure_mode_mix_by_kind": FAILURE_MODE_MIX,
                "signatures": {m: {k: list(v) if isinstance(v, tuple) else v for k, v in sig.items()}
                               for m, sig in FAILURE_SIGNATURES.items()},
                "temperature_noise": "normal(0, sqrt(1.5 ** 2 + temperature_noise_c(t) ** 2))",
                "failures": int(len(self.truth_tables["equipment_failures"])),
                "failures_by_mode": {str(k): int(v) for k, v in self.truth_tables["equipment_failures"][
                    "failure_mode"].value_counts().sort_index().items()}},
            "jobs": int(len(self.t["jobs"])),
        }


def _conform(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Columns in contract order with plain, predictable dtypes (so Parquet bytes are stable)."""
    contract = CONTRACTS[name]
    df = df[contract.columns].copy()
    for column, spec in contract.schema.columns.items():
        dtype = str(spec.dtype)
        if dtype.startswith("datetime64"):
            df[column] = pd.to_datetime(df[column]).astype("datetime64[ns]")
        elif dtype in ("str", "string"):
            values = df[column].astype(object)
            df[column] = values.where(values.notna(), None)
        elif dtype == "bool":
            df[column] = df[column].astype(bool)
        elif dtype.lower().startswith("int"):  # the generator fills optional integer columns (Int64) too
            df[column] = df[column].astype("int64")
        elif dtype.startswith("float"):
            df[column] = df[column].astype("float64")
    return df.reset_index(drop=True)


def _lookup(values: np.ndarray, mapping: dict, default: float = np.nan) -> np.ndarray:
    """Map an object array of keys to floats through ``mapping``."""
    return pd.Series(values, dtype=object).map(mapping).fillna(default).to_numpy(dtype=float)


def _largest_remainder(shares: np.ndarray, total: int) -> np.ndarray:
    raw = shares * total
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts))[: total - counts.sum()]:
        counts[i] += 1
    return counts


def _scatter(rng, centre_lat, centre_lon, radius_km):
    """Points uniformly inside a disc of ``radius_km`` around each centre."""
    n = len(centre_lat)
    r = radius_km * np.sqrt(rng.random(n))
    theta = rng.uniform(0, 2 * np.pi, n)
    lat = centre_lat + (r * np.sin(theta)) / 111.0
    lon = centre_lon + (r * np.cos(theta)) / (111.0 * np.cos(np.radians(centre_lat)))
    return lat, lon


def _curve_ids(curve_index, lines, regions, n_regions):
    lookup = np.zeros((max(k[0] for k in curve_index) + 1, n_regions), dtype=int)
    for (li, ri), k in curve_index.items():
        lookup[li, ri] = k
    return lookup[lines, regions]


def _group_starts(keys: list[np.ndarray]) -> np.ndarray:
    """True where a run of equal keys (rows already sorted by them) begins."""
    change = np.zeros(len(keys[0]), dtype=bool)
    change[0] = True
    for k in keys:
        change[1:] |= k[1:] != k[:-1]
    return change


def _group_cumsum(values: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Cumulative sum that restarts at every group start (``first``)."""
    total = np.cumsum(values)
    gid = np.cumsum(first) - 1
    return total - (total - values)[first][gid]


def _book_jobs(rng, tech, available, on_call_tech, workforce, to_book, day, region, line, n_lines, n_regions,
               hours, lat, lon, priority, emergency):
    """Book jobs into technician-days with capacity; returns (technician, day) per job, -1 if none.

    Day by day, the jobs wanting that day or waiting from earlier days (emergencies first,
    then urgent, then routine; the longest waiting first) are offered to random technicians
    of their trade and region who work that day and have room left for them (of two such, the one
    living nearer the job). A technician-day holds ``booking_hours`` of work (at the
    technician's own pace) plus travel, estimated as the drive from the technician's home
    (``on_call_booking_hours`` in an on-call week), and at most 10 % more of scheduled hours;
    a job longer than that is booked alone. What does not fit waits for the next day; after
    ``REGION_WAIT_DAYS`` a skilled technician of another region may take it. An emergency is
    booked the day it comes in or not at all (then it goes to the on-call technician).
    """
    n = len(day)
    n_t, n_grid = available.shape
    tech_of = np.full(n, -1)
    book_day = np.full(n, -1)
    skilled = [(tech["primary"] == li) | (tech["second"] == li) for li in range(n_lines)]
    members, member_pool = [], []
    for li in range(n_lines):
        for ri in range(n_regions):
            m = np.flatnonzero(skilled[li] & (tech["region"] == ri))
            if len(m) == 0:  # nobody of that trade in the region: the trade's technicians anywhere
                m = np.flatnonzero(skilled[li])
            members.append(m)
            member_pool.append(np.full(len(m), li * n_regions + ri))
        m = np.flatnonzero(skilled[li])
        members.append(m)
        member_pool.append(np.full(len(m), n_lines * n_regions + li))
    members = np.concatenate(members).astype(int)
    member_pool = np.concatenate(member_pool).astype(int)
    n_pools = n_lines * (n_regions + 1)
    pool_region = line * n_regions + region
    pool_any = n_lines * n_regions + line
    speed = tech["speed"]
    full = np.where(on_call_tech, workforce.on_call_booking_hours, workforce.booking_hours) * 60.0 * available
    jobs = np.flatnonzero(to_book & (day < n_grid))
    tie = rng.random(n)
    jobs = jobs[np.lexsort((tie[jobs], priority[jobs], day[jobs]))]
    bounds = np.searchsorted(day[jobs], np.arange(n_grid + 1))
    pending = np.empty(0, dtype=int)
    for d in range(n_grid):
        new = jobs[bounds[d]:bounds[d + 1]]
        if len(new):
            pending = np.concatenate([pending, new])
        if not len(pending):
            continue
        cap = full[:, d].copy()
        cap_sched = cap * 1.1
        fresh = np.ones(n_t, dtype=bool)
        for _ in range(BOOKING_ROUNDS):
            waited = d - day[pending]
            pool = np.where(waited >= REGION_WAIT_DAYS, pool_any[pending], pool_region[pending])
            # Members of each pool by remaining room, most first: a job draws among those with room for it.
            room = cap[members]
            by_room = np.lexsort((-room, member_pool))
            m_t = members[by_room]
            room_key = member_pool[by_room] * 1e6 - room[by_room]
            offset = np.searchsorted(member_pool[by_room], np.arange(n_pools))
            need = hours[pending] * 60 + 15
            k = np.searchsorted(room_key, pool * 1e6 - need, side="right") - offset[pool]
            has = k > 0
            if not has.any():
                break
            js = pending[has]
            base = offset[pool[has]]
            pick = m_t[base + (rng.random(len(js)) * k[has]).astype(int)]
            other = m_t[base + (rng.random(len(js)) * k[has]).astype(int)]
            miles = _haversine_miles(tech["lat"][pick], tech["lon"][pick], lat[js], lon[js])
            miles_other = _haversine_miles(tech["lat"][other], tech["lon"][other], lat[js], lon[js])
            pick = np.where(miles_other < miles, other, pick)
            miles = np.minimum(miles, miles_other)
            o = np.lexsort((tie[js], day[js], priority[js], pick))
            js, pick, miles = js[o], pick[o], miles[o]
            travel = miles * ROAD_FACTOR / (AVERAGE_SPEED_MPH * 0.9) * 60 + 5
            load = hours[js] * 60 * speed[pick] + travel
            load_s = hours[js] * 60 + travel
            first = np.ones(len(js), dtype=bool)
            first[1:] = pick[1:] != pick[:-1]
            accept = (((_group_cumsum(load, first) <= cap[pick]) & (_group_cumsum(load_s, first) <= cap_sched[pick]))
                      | (first & fresh[pick]))
            tech_of[js[accept]] = pick[accept]
            book_day[js[accept]] = d
            cap -= np.bincount(pick[accept], weights=load[accept], minlength=n_t)
            cap_sched -= np.bincount(pick[accept], weights=load_s[accept], minlength=n_t)
            fresh[pick[accept]] = False
            pending = pending[tech_of[pending] < 0]
            if not len(pending):
                break
        if len(pending):
            pending = pending[~emergency[pending]]
    return tech_of, book_day


def _timeline(tech, tech_of, book_day, release, from_home, hours, lat, lon, shift_start, iterations=3):
    """Start times, travel minutes and miles of every booked job; zeros for the others.

    Each technician-day is one route from home: routine jobs in a sweep around the home base,
    emergencies at the time of their call. A job starts at the earliest of: its release (the
    shift start, or the call plus dispatch) plus travel, and the previous job's end plus
    travel. Travel goes at ``AVERAGE_SPEED_MPH`` times the hour of departure's
    ``TRAVEL_SPEED_FACTOR``; since departures depend on travel, the timeline is computed
    ``iterations`` times. A job takes its scheduled hours at the technician's pace.
    """
    n = len(tech_of)
    idx = np.flatnonzero(tech_of >= 0)
    t, d = tech_of[idx], book_day[idx]
    home_lat, home_lon = tech["lat"][t], tech["lon"][t]
    j_lat, j_lon = lat[idx], lon[idx]
    timed = release[idx] > shift_start  # emergencies: placed by their call time
    angle = np.arctan2(j_lat - home_lat, (j_lon - home_lon) * np.cos(np.radians(home_lat)))
    dur = hours[idx] * 60 * tech["speed"][t]
    # Place the routine jobs by a sweep, then slot the emergencies in by their call time.
    o = np.lexsort((angle, timed, d, t))
    first = _group_starts([t[o], d[o]])
    planned = np.empty(len(idx))
    planned[o] = shift_start + _group_cumsum(dur[o] + 20.0, first) - dur[o]
    key = np.where(timed, release[idx], planned)
    o = np.lexsort((key, d, t))
    t, d, j_lat, j_lon, dur, rel = t[o], d[o], j_lat[o], j_lon[o], dur[o], release[idx][o]
    home_lat, home_lon, home = home_lat[o], home_lon[o], from_home[idx][o]
    first = _group_starts([t, d])
    gid = np.cumsum(first) - 1
    prev_lat = np.where(first | home, home_lat, np.roll(j_lat, 1))
    prev_lon = np.where(first | home, home_lon, np.roll(j_lon, 1))
    miles = _haversine_miles(prev_lat, prev_lon, j_lat, j_lon) * ROAD_FACTOR
    factors = np.asarray(TRAVEL_SPEED_FACTOR)
    departure = key[o] - 20.0
    for _ in range(iterations):
        hour = np.floor(departure / 60).astype(int) % 24
        travel = miles / (AVERAGE_SPEED_MPH * factors[hour]) * 60 + 5
        before = _group_cumsum(travel + dur, first) - dur
        slack = rel + travel - before + gid * 1e7
        start = before + np.maximum.accumulate(slack) - gid * 1e7
        departure = start - travel
    start_min = np.zeros(n)
    travel_minutes = np.zeros(n)
    travel_miles = np.zeros(n)
    start_min[idx[o]] = start
    travel_minutes[idx[o]] = travel
    travel_miles[idx[o]] = miles
    return start_min, travel_minutes, travel_miles


def _age_process(rng, scale_days, shape, age_reduction, pm_days, initial_age, start_day, horizon,
                 downtime_days=(1, 5)):
    """Failures of units whose wear age follows a Weibull hazard, reduced by preventive maintenance.

    Unit ``i`` starts on ``start_day`` at virtual age ``initial_age[i]``; its age grows a day a day
    and its hazard is Weibull, ``h(v) = shape / scale (v / scale) ** (shape - 1)``. A completed
    preventive maintenance on day ``p`` (``pm_days[i]``, NaN: skipped) multiplies the age by
    ``1 - age_reduction`` (imperfect repair, Kijima type I on the age); a failure is repaired in
    ``downtime_days`` days (uniform integers, inclusive), after which the unit is as good as new
    (age 0). Returns failure units, days (whole days), downtime days and the virtual age at failure.
    """
    n = len(scale_days)
    pm = np.where(np.isnan(pm_days) | (pm_days < start_day), np.inf, pm_days)
    pm = np.concatenate([np.sort(pm, axis=1), np.full((n, 1), np.inf)], axis=1)
    nxt = np.zeros(n, dtype=int)
    t = np.full(n, float(start_day))
    v = np.asarray(initial_age, dtype=float).copy()
    units, days, downs, ages = [], [], [], []
    active = np.flatnonzero(t < horizon)
    while len(active):
        lam = scale_days[active]
        age = v[active]
        # The age at which the unit would fail with no maintenance: invert the cumulative hazard.
        age_fail = lam * ((age / lam) ** shape + rng.exponential(1.0, len(active))) ** (1 / shape)
        t_fail = t[active] + (age_fail - age)
        p = pm[active, nxt[active]]
        fails = t_fail < p
        fi = active[fails]
        day = np.floor(t_fail[fails]).astype(int)
        down = rng.integers(downtime_days[0], downtime_days[1] + 1, len(fi))
        inside = day < horizon
        units.append(fi[inside])
        days.append(day[inside])
        downs.append(down[inside])
        ages.append(age_fail[fails][inside])
        t[fi] = day + 1 + down
        v[fi] = 0.0
        pi = active[~fails]
        v[pi] = (v[pi] + (p[~fails] - t[pi])) * (1 - age_reduction)
        t[pi] = p[~fails]
        nxt[pi] += 1
        # A preventive maintenance due while the unit is down for repair finds it as good as new.
        late = fi[pm[fi, nxt[fi]] < t[fi]]
        while len(late):
            nxt[late] += 1
            late = late[pm[late, nxt[late]] < t[late]]
        active = np.flatnonzero(t < horizon)
    order = np.lexsort((np.concatenate(days), np.concatenate(units)))
    return (np.concatenate(units)[order], np.concatenate(days)[order], np.concatenate(downs)[order],
            np.concatenate(ages)[order])


def _assign_equipment(rng, equip, region, line, job_type):
    n = len(region)
    out = np.full(n, -1)
    uses = rng.random(n) < _lookup(job_type, EQUIPMENT_USE_SHARE)
    for (ri, li) in set(zip(equip["region"].tolist(), equip["line"].tolist())):
        pool = np.flatnonzero((equip["region"] == ri) & (equip["line"] == li))
        jobs = np.flatnonzero(uses & (region == ri) & (line == li))
        out[jobs] = pool[rng.integers(0, len(pool), len(jobs))]
    return out


def generate_company(profile: CompanyProfile, seed: int | None = None, scale: float = 1.0) -> GeneratedCompany:
    """Generate every core table of a company described by ``profile``.

    Parameters
    ----------
    profile : CompanyProfile
        The company to make (see ``parameters/companies/``).
    seed : int, optional
        Random seed; defaults to the profile's. The same seed gives the same data.
    scale : float, default 1
        Multiplies the number of technicians (and so customers, jobs, equipment).

    Returns
    -------
    GeneratedCompany
        ``tables`` (one DataFrame per core table, contract columns), ``truth`` (the
        parameters that made them) and ``truth_tables`` (per-entity ground truth).
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    return _Builder(profile, profile.seed if seed is None else seed, scale).build()


def write_company(company: GeneratedCompany, out_dir: str | Path) -> dict[str, Path]:
    """Write the tables as ``OUT/<table>.parquet`` and the ground truth under ``OUT/_truth/``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, df in company.tables.items():
        path = out / f"{name}.parquet"
        _write_parquet(df, path)
        written[name] = path
    truth_dir = out / "_truth"
    truth_dir.mkdir(exist_ok=True)
    for name, df in company.truth_tables.items():
        _write_parquet(df.reset_index(drop=True), truth_dir / f"{name}.parquet")
    (truth_dir / "ground_truth.json").write_text(json.dumps(company.truth, indent=2, sort_keys=True) + "\n")
    return written


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(df, preserve_index=False)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(path)
