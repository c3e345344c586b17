"""Gold warehouse: the silver Parquet tables and the marts, in one DuckDB file.

:func:`build_warehouse` rebuilds ``lake.gold`` from scratch:

1. every silver table is loaded as a DuckDB table of the same name, with the
   columns (and types) of its contract; a table missing from silver is created
   empty, so every mart still builds; economic indicators without a
   ``published_at`` get the default publication lag
   (:data:`~quantlib.data.contracts.INDICATOR_PUBLICATION_DAY`) and quotes without a
   ``job_type`` are for installs;
2. the shared KPI formulas (:mod:`quantlib.kpi.formulas`) and the
   parameterised mart macros below are installed, so notebooks and the KPI
   module can ask for a mart *as of any date*
   (``SELECT * FROM customer_features_at(DATE '2024-06-30')``);
3. the marts are materialised as of the latest date in the data
   (``build_params.as_of``);
4. ``targets`` and ``build_info`` are written.

The file is built under a temporary name and renamed onto ``lake.gold`` only
when everything succeeded, so a failed build leaves the previous gold intact.
For a lake on object storage (``s3://``) the silver Parquet files are read in place
through the lake's fsspec filesystem registered with DuckDB (never DuckDB's own
httpfs extension), the database is built in a local temporary file, and uploaded
as ``lake.gold`` when complete (readers then open a local copy cached by the
object's ETag, :func:`quantlib.data.gold.gold_file`).

Marts
-----
job_facts
    One row per job: date keys, month, season, weekday, hours, direct cost,
    gross profit, margin, late / on-time flags, technician and customer attributes.
daily_revenue
    Date x service line: jobs scheduled, jobs completed, revenue, direct cost,
    gross profit; every calendar date in range, zero-filled.
customer_features
    Per customer as of ``build_params.as_of``: RFM, tenure, payment behaviour,
    satisfaction, last contact, contract flag, frequency trend, churn rule score.
technician_kpis
    Per technician over the whole data period: jobs, hours, utilisation,
    efficiency, quality, rating, safety, efficiency score.
equipment_kpis
    Per piece of equipment over the whole data period: usage, utilisation,
    revenue of the jobs using it and the part it generated, maintenance cost,
    downtime, failures, preventive maintenance, ROI.
receivables_ageing
    Open invoices as of ``as_of`` bucketed by days past due, per customer and total
    (an invoice is open from its issue until it is paid or its write-off date).
dso
    Days sales outstanding at each month end.
funnel
    Monthly lead -> quote -> won quote -> job -> invoice -> paid, by service line
    (and ``'all'``).
"""

from __future__ import annotations

import datetime as dt
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb

from quantlib.data.contracts import CONTRACTS, DEFAULT_QUOTE_JOB_TYPE, TABLE_ORDER, default_published_at_sql
from quantlib.data.gold import open_gold
from quantlib.data.lake import Lake, atomic_path
from quantlib.kpi.formulas import install_formulas

_DUCK_TYPES = {
    "string[pyarrow]": "VARCHAR",
    "str": "VARCHAR",
    "datetime64[ns]": "TIMESTAMP",
    "float64": "DOUBLE",
    "int64": "BIGINT",
    "Int64": "BIGINT",  # an optional integer column (pandas' nullable integer)
    "bool": "BOOLEAN",
}

# --------------------------------------------------------------------------
# Build parameters: the "as of" date of the marts and where the data starts.
# --------------------------------------------------------------------------

# "Latest date in the data" is the latest *actual* event: a completion, a
# booking, an invoice, a payment, a lead or an interaction. Jobs scheduled in
# the future must not move it, so scheduled_start is not among them.
BUILD_PARAMS_SQL = """
CREATE TABLE build_params AS
WITH stamps AS (
    SELECT max(completed_at) AS ts FROM jobs
    UNION ALL SELECT max(created_at) FROM jobs
    UNION ALL SELECT max(issued_date) FROM invoices
    UNION ALL SELECT max(paid_date) FROM payments
    UNION ALL SELECT max(created_at) FROM leads
    UNION ALL SELECT max(ts) FROM interactions
)
SELECT
    coalesce(max(ts)::DATE, current_date) AS as_of,
    coalesce((SELECT min(created_at) FROM jobs)::DATE, max(ts)::DATE, current_date) AS data_start
FROM stamps
"""

# --------------------------------------------------------------------------
# Marts. One SQL definition each; the parameterised ones are table macros.
# --------------------------------------------------------------------------

JOB_FACTS_SQL = """
CREATE TABLE job_facts AS
SELECT
    j.job_id, j.customer_id, j.technician_id, j.quote_id, j.contract_id, j.equipment_id,
    j.service_line, j.job_type, j.urgency, j.status, j.region,
    j.created_at, j.scheduled_start, j.completed_at,
    j.created_at::DATE      AS created_date,
    j.requested_date::DATE  AS requested_date,
    j.scheduled_start::DATE AS scheduled_date,
    j.completed_at::DATE    AS completed_date,
    -- The day a job "happens": its completion if completed, else its slot.
    coalesce(j.completed_at, j.scheduled_start)::DATE AS activity_date,
    date_trunc('month', activity_date)::DATE AS month,
    CASE
        WHEN month(activity_date) IN (12, 1, 2) THEN 'winter'
        WHEN month(activity_date) IN (3, 4, 5)  THEN 'spring'
        WHEN month(activity_date) IN (6, 7, 8)  THEN 'summer'
        ELSE 'fall'
    END AS season,
    isodow(activity_date)  AS weekday_num,   -- 1 = Monday
    dayname(activity_date) AS weekday,
    j.scheduled_hours,
    j.labor_hours,
    j.labor_hours AS hours,
    j.travel_minutes, j.travel_miles,
    j.revenue, j.labor_cost, j.material_cost, j.equipment_cost,
    j.labor_cost + j.material_cost + j.equipment_cost AS direct_cost,
    j.revenue - direct_cost AS gross_profit,
    gross_profit / nullif(j.revenue, 0) AS margin,
    j.status = 'completed' AS is_completed,
    j.status = 'cancelled' AS is_cancelled,
    j.scheduled_start + to_microseconds(CAST(j.scheduled_hours * 3600e6 AS BIGINT)) AS scheduled_end,
    -- Late = finished after the planned end of the slot; unknown until completed.
    CASE WHEN j.completed_at IS NOT NULL THEN j.completed_at > scheduled_end END AS is_late,
    CASE WHEN j.completed_at IS NOT NULL THEN j.completed_at <= scheduled_end END AS is_on_time,
    j.callback, j.rating, j.safety_incident,
    t.name                AS technician_name,
    t.region              AS technician_region,
    t.certification_level AS technician_certification,
    t.hourly_rate         AS technician_hourly_rate,
    t.hire_date::DATE     AS technician_hire_date,
    c.customer_type,
    c.region              AS customer_region,
    c.acquisition_channel AS customer_channel,
    c.is_priority         AS customer_is_priority,
    c.created_date::DATE  AS customer_created_date
FROM jobs j
LEFT JOIN technicians t ON t.technician_id = j.technician_id
LEFT JOIN customers c   ON c.customer_id = j.customer_id
"""

# The invoices open at the build's as-of date (the macro open_invoices_at, materialised:
# receivables KPIs at that date read it instead of re-deriving it from every payment).
OPEN_INVOICES_SQL = """
CREATE TABLE open_invoices AS
SELECT * FROM open_invoices_at((SELECT as_of FROM build_params))
"""

# Overhead as it accrues: a fixed expense (rent, insurance, salaries) is a monthly
# charge spread evenly over the days of its month, so a 30-day window carries a
# month of fixed costs whichever day the bill is dated; a variable expense counts
# on its own date.
EXPENSE_ACCRUALS_SQL = """
CREATE TABLE expense_accruals AS
SELECT d::DATE AS date, e.expense_id, e.category, e.kind, e.service_line,
       e.amount / day(last_day(e.date::DATE)) AS amount
FROM expenses e,
     unnest(generate_series(date_trunc('month', e.date)::DATE, last_day(e.date::DATE), INTERVAL 1 DAY)) AS g(d)
WHERE e.kind = 'fixed'
UNION ALL
SELECT e.date::DATE, e.expense_id, e.category, e.kind, e.service_line, e.amount
FROM expenses e
WHERE e.kind <> 'fixed'
"""

# "jobs" counts jobs on their scheduled date (any status); completed jobs,
# revenue and costs count on the completion date. The service lines are those
# that have jobs, so a company without roofing gets no all-zero roofing rows.
DAILY_REVENUE_SQL = """
CREATE TABLE daily_revenue AS
WITH bounds AS (
    SELECT min(least(scheduled_date, coalesce(completed_date, scheduled_date)))    AS first_day,
           max(greatest(scheduled_date, coalesce(completed_date, scheduled_date))) AS last_day
    FROM job_facts
),
calendar AS (
    SELECT unnest(generate_series(first_day, last_day, INTERVAL 1 DAY))::DATE AS date FROM bounds
),
lines AS (SELECT DISTINCT service_line FROM job_facts),
booked AS (
    SELECT scheduled_date AS date, service_line, count(*) AS jobs
    FROM job_facts GROUP BY ALL
),
done AS (
    SELECT completed_date AS date, service_line,
           count(*) AS completed_jobs, sum(revenue) AS revenue,
           sum(direct_cost) AS direct_cost, sum(gross_profit) AS gross_profit
    FROM job_facts WHERE is_completed GROUP BY ALL
)
SELECT c.date, l.service_line,
       coalesce(b.jobs, 0)           AS jobs,
       coalesce(d.completed_jobs, 0) AS completed_jobs,
       coalesce(d.revenue, 0)        AS revenue,
       coalesce(d.direct_cost, 0)    AS direct_cost,
       coalesce(d.gross_profit, 0)   AS gross_profit
FROM calendar c
CROSS JOIN lines l
LEFT JOIN booked b ON b.date = c.date AND b.service_line = l.service_line
LEFT JOIN done d   ON d.date = c.date AND d.service_line = l.service_line
ORDER BY c.date, l.service_line
"""

# An invoice is written off as of a date when its write-off is dated on or before it.
# A written-off invoice without a write-off date (files older than written_off_at)
# counts as written off from the day it was issued, as before the date was recorded.
WRITTEN_OFF_BY = ("({i}.status = 'written_off' AND coalesce({i}.written_off_at, {i}.issued_date)::DATE <= {d})")

# Open invoices at a date. Receivables are net: amount minus payments made by
# then (a rare overpayment is a customer credit and lowers receivables).
# An invoice written off later is open at the date (unpaid, outstanding): only the
# write-offs dated by then are excluded. With this definition, receivables at a date
# also equal "invoiced so far - paid so far" over the invoices not written off by
# then, which is what the monthly dso mart uses.
OPEN_INVOICES_MACRO = """
CREATE OR REPLACE MACRO open_invoices_at(as_of) AS TABLE
WITH paid AS (
    SELECT invoice_id, sum(amount) AS paid_amount
    FROM payments WHERE paid_date::DATE <= as_of
    GROUP BY invoice_id
),
balances AS (
    SELECT i.invoice_id, i.customer_id, i.job_id,
           i.issued_date::DATE AS issued_date, i.due_date::DATE AS due_date,
           i.amount, coalesce(p.paid_amount, 0) AS paid_amount,
           i.amount - coalesce(p.paid_amount, 0) AS open_amount,
           greatest(date_diff('day', i.due_date::DATE, as_of), 0) AS days_past_due,
           i.disputed
    FROM invoices i LEFT JOIN paid p USING (invoice_id)
    WHERE i.issued_date::DATE <= as_of AND NOT """ + WRITTEN_OFF_BY.format(i="i", d="as_of") + """
)
SELECT b.*,
       CASE WHEN days_past_due = 0  THEN 'current'
            WHEN days_past_due <= 30 THEN '1-30'
            WHEN days_past_due <= 60 THEN '31-60'
            WHEN days_past_due <= 90 THEN '61-90'
            ELSE '90+' END AS bucket,
       j.service_line, c.region
FROM balances b
LEFT JOIN jobs j      ON j.job_id = b.job_id
LEFT JOIN customers c ON c.customer_id = b.customer_id
WHERE abs(b.open_amount) > 0.005
"""

RECEIVABLES_AGEING_SQL = """
CREATE TABLE receivables_ageing AS
WITH open AS (SELECT * FROM open_invoices),
by_customer AS (
    SELECT 'customer' AS level, customer_id,
           coalesce(sum(open_amount) FILTER (WHERE bucket = 'current'), 0) AS bucket_current,
           coalesce(sum(open_amount) FILTER (WHERE bucket = '1-30'), 0)    AS bucket_1_30,
           coalesce(sum(open_amount) FILTER (WHERE bucket = '31-60'), 0)   AS bucket_31_60,
           coalesce(sum(open_amount) FILTER (WHERE bucket = '61-90'), 0)   AS bucket_61_90,
           coalesce(sum(open_amount) FILTER (WHERE bucket = '90+'), 0)     AS bucket_90_plus,
           coalesce(sum(open_amount), 0) AS total,
           count(*) AS open_invoices
    FROM open GROUP BY customer_id
)
SELECT (SELECT as_of FROM build_params) AS as_of, * FROM (
    SELECT * FROM by_customer
    UNION ALL
    SELECT 'total', NULL,
           coalesce(sum(bucket_current), 0), coalesce(sum(bucket_1_30), 0),
           coalesce(sum(bucket_31_60), 0), coalesce(sum(bucket_61_90), 0),
           coalesce(sum(bucket_90_plus), 0), coalesce(sum(total), 0),
           coalesce(sum(open_invoices), 0)::BIGINT
    FROM by_customer
)
ORDER BY level = 'total', total DESC, customer_id
"""

# DSO at each month end (the as-of date for the current month):
# receivables / revenue invoiced in the 90 days up to that date * 90, both over the
# invoices not written off by that date (an invoice written off later still counts).
DSO_SQL = """
CREATE TABLE dso AS
WITH ends AS (
    SELECT DISTINCT least(last_day(d::DATE), (SELECT as_of FROM build_params)) AS month_end
    FROM generate_series((SELECT min(issued_date)::DATE FROM invoices
                          WHERE NOT (status = 'written_off' AND written_off_at IS NULL)),
                         (SELECT as_of FROM build_params), INTERVAL 1 DAY) AS g(d)
),
counted AS (
    SELECT e.month_end, i.invoice_id, i.issued_date::DATE AS issued, i.amount
    FROM ends e JOIN invoices i ON i.issued_date::DATE <= e.month_end
    WHERE NOT """ + WRITTEN_OFF_BY.format(i="i", d="e.month_end") + """
),
invoiced AS (
    SELECT month_end, sum(amount) AS invoiced,
           sum(amount) FILTER (WHERE issued > month_end - 90) AS invoiced_90d
    FROM counted GROUP BY month_end
),
paid AS (
    SELECT c.month_end, sum(p.amount) AS paid
    FROM counted c JOIN payments p ON p.invoice_id = c.invoice_id AND p.paid_date::DATE <= c.month_end
    GROUP BY c.month_end
)
SELECT date_trunc('month', e.month_end)::DATE AS month, e.month_end,
       coalesce(i.invoiced, 0) - coalesce(p.paid, 0) AS receivables,
       coalesce(i.invoiced_90d, 0) AS invoiced_90d,
       (coalesce(i.invoiced, 0) - coalesce(p.paid, 0)) / nullif(i.invoiced_90d, 0) * 90 AS dso
FROM ends e LEFT JOIN invoiced i USING (month_end) LEFT JOIN paid p USING (month_end)
ORDER BY month
"""

# Customer features as of a date. Only completed jobs up to as_of count as
# service; "frequency trend" compares the last 180 days with the 180 before.
CUSTOMER_FEATURES_MACRO = """
CREATE OR REPLACE MACRO customer_features_at(as_of) AS TABLE
WITH done AS (
    SELECT customer_id, completed_at, completed_date, revenue, rating, service_line
    FROM job_facts WHERE is_completed AND completed_date <= as_of
),
job_stats AS (
    SELECT customer_id,
           min(completed_date) AS first_job_date,
           max(completed_date) AS last_job_date,
           count(*) FILTER (WHERE completed_date > as_of - 365)               AS frequency_365d,
           count(*)                                                           AS frequency_lifetime,
           coalesce(sum(revenue) FILTER (WHERE completed_date > as_of - 365), 0) AS monetary_365d,
           sum(revenue)                                                       AS monetary_lifetime,
           count(*) FILTER (WHERE completed_date > as_of - 180)               AS jobs_last_180d,
           count(*) FILTER (WHERE completed_date > as_of - 360
                              AND completed_date <= as_of - 180)              AS jobs_prev_180d,
           avg(rating)                                                        AS avg_rating,
           arg_max(rating, completed_at) FILTER (WHERE rating IS NOT NULL)    AS last_rating,
           avg((rating < 7)::DOUBLE)                                          AS share_ratings_below_7,
           mode(service_line)                                                 AS primary_service_line
    FROM done GROUP BY customer_id
),
paid AS (
    SELECT invoice_id, sum(amount) AS paid_amount, max(paid_date)::DATE AS last_paid_date
    FROM payments WHERE paid_date::DATE <= as_of GROUP BY invoice_id
),
invoice_pay AS (
    SELECT i.invoice_id, i.customer_id, i.amount, i.disputed OR i.status = 'disputed' AS disputed,
           i.issued_date::DATE AS issued_date, i.due_date::DATE AS due_date,
           coalesce(p.paid_amount, 0) AS paid_amount, p.last_paid_date
    FROM invoices i LEFT JOIN paid p USING (invoice_id)
    WHERE i.issued_date::DATE <= as_of
),
pay_stats AS (
    SELECT customer_id,
           avg(date_diff('day', issued_date, last_paid_date))
               FILTER (WHERE paid_amount >= amount - 0.005) AS avg_days_to_pay,
           -- An invoice can be judged once it is settled or past due: late when
           -- settled after the due date or still unsettled past it.
           avg(CASE WHEN paid_amount >= amount - 0.005
                    THEN coalesce(last_paid_date > due_date, false)::DOUBLE
                    ELSE 1.0 END)
               FILTER (WHERE paid_amount >= amount - 0.005 OR due_date < as_of) AS late_payment_share,
           count(*) FILTER (WHERE disputed) AS disputes
    FROM invoice_pay GROUP BY customer_id
),
balances AS (
    SELECT customer_id, sum(open_amount) AS open_balance
    FROM open_invoices_at(as_of) GROUP BY customer_id
),
contacts AS (
    -- A booking, a visit and any interaction from the customer each count as contact;
    -- the company's own outbound messages (follow-ups, marketing) do not.
    SELECT customer_id, max(d) AS last_contact_date FROM (
        SELECT customer_id, ts::DATE AS d FROM interactions
        WHERE ts::DATE <= as_of AND direction IS DISTINCT FROM 'outbound'
        UNION ALL
        SELECT customer_id, created_date FROM job_facts WHERE created_date <= as_of
        UNION ALL
        SELECT customer_id, completed_date FROM job_facts WHERE completed_date <= as_of
    ) GROUP BY customer_id
),
contract_flag AS (
    SELECT DISTINCT customer_id FROM contracts
    WHERE start_date::DATE <= as_of AND (end_date IS NULL OR end_date::DATE >= as_of)
)
SELECT
    c.customer_id,
    as_of::DATE AS as_of,
    c.customer_type, c.region, c.acquisition_channel, c.is_priority,
    js.primary_service_line,
    js.first_job_date,
    date_diff('day', js.last_job_date, as_of)   AS recency_days,
    coalesce(js.frequency_365d, 0)              AS frequency_365d,
    coalesce(js.frequency_lifetime, 0)          AS frequency_lifetime,
    coalesce(js.monetary_365d, 0)               AS monetary_365d,
    coalesce(js.monetary_lifetime, 0)           AS monetary_lifetime,
    js.monetary_lifetime / nullif(js.frequency_lifetime, 0) AS avg_ticket,
    date_diff('day', c.created_date::DATE, as_of) AS tenure_days,
    ps.avg_days_to_pay,
    ps.late_payment_share,
    coalesce(b.open_balance, 0)                 AS open_balance,
    coalesce(ps.disputes, 0)                    AS disputes,
    js.avg_rating, js.last_rating, js.share_ratings_below_7,
    date_diff('day', ct.last_contact_date, as_of) AS last_contact_days,
    cf.customer_id IS NOT NULL                  AS has_contract,
    coalesce(js.jobs_last_180d, 0)              AS jobs_last_180d,
    coalesce(js.jobs_prev_180d, 0)              AS jobs_prev_180d,
    js.jobs_last_180d / nullif(js.jobs_prev_180d, 0) AS frequency_trend,
    coalesce(js.frequency_365d, 0) > 0          AS is_active,
    churn_rule_score(js.jobs_last_180d / nullif(js.jobs_prev_180d, 0), ps.late_payment_share,
                     coalesce(ps.disputes, 0), js.avg_rating,
                     date_diff('day', ct.last_contact_date, as_of)) AS churn_score
FROM customers c
LEFT JOIN job_stats js     ON js.customer_id = c.customer_id
LEFT JOIN pay_stats ps     ON ps.customer_id = c.customer_id
LEFT JOIN balances b       ON b.customer_id = c.customer_id
LEFT JOIN contacts ct      ON ct.customer_id = c.customer_id
LEFT JOIN contract_flag cf ON cf.customer_id = c.customer_id
WHERE c.created_date::DATE <= as_of
"""

CUSTOMER_FEATURES_SQL = """
CREATE TABLE customer_features AS
SELECT * FROM customer_features_at((SELECT as_of FROM build_params)) ORDER BY customer_id
"""

# Technician KPIs over [start_date, end_date], optionally for one service line
# (line) and one technician region (reg).
# * efficiency: of the jobs scheduled in the period and not cancelled (all
#   cancellations are the customer's: the data has no other kind), the share
#   completed by end_date;
# * everything else is over the jobs *completed* in the period;
# * available hours = weekly_hours x days employed within the period / 7; they
#   are not split by service line, so with a line filter they are NULL.
TECHNICIAN_KPIS_MACRO = """
CREATE OR REPLACE MACRO technician_kpis_between(start_date, end_date, line := NULL, reg := NULL) AS TABLE
WITH scheduled AS (
    SELECT technician_id,
           count(*) AS jobs_scheduled,
           count(*) FILTER (WHERE is_completed AND completed_date <= end_date) AS jobs_scheduled_completed
    FROM job_facts
    WHERE scheduled_date BETWEEN start_date AND end_date AND NOT is_cancelled
      AND technician_id IS NOT NULL AND (line IS NULL OR service_line = line)
    GROUP BY technician_id
),
done AS (
    SELECT technician_id,
           count(*)                                  AS jobs_completed,
           sum(labor_hours)                          AS billable_hours,
           sum(scheduled_hours)                      AS completed_scheduled_hours,
           count(*) FILTER (WHERE callback)          AS callbacks,
           count(*) FILTER (WHERE safety_incident)   AS safety_incidents,
           count(rating)                             AS rated_jobs,
           avg(rating)                               AS avg_rating,
           sum(revenue)                              AS revenue,
           sum(gross_profit)                         AS gross_profit
    FROM job_facts
    WHERE is_completed AND completed_date BETWEEN start_date AND end_date
      AND (line IS NULL OR service_line = line)
    GROUP BY technician_id
),
capacity AS (
    SELECT technician_id,
           greatest(0, date_diff('day', greatest(hire_date::DATE, start_date),
                                 least(coalesce(termination_date::DATE, end_date), end_date)) + 1)
               * weekly_hours / 7.0 AS available_hours
    FROM technicians
),
inputs AS (
    SELECT t.technician_id, t.name, t.region, t.certification_level,
           start_date::DATE AS period_start, end_date::DATE AS period_end,
           coalesce(s.jobs_scheduled, 0)           AS jobs_scheduled,
           coalesce(s.jobs_scheduled_completed, 0) AS jobs_scheduled_completed,
           coalesce(d.jobs_completed, 0)           AS jobs_completed,
           coalesce(d.billable_hours, 0)           AS billable_hours,
           CASE WHEN line IS NULL THEN cap.available_hours END AS available_hours,
           coalesce(d.completed_scheduled_hours, 0) AS completed_scheduled_hours,
           coalesce(d.callbacks, 0)                AS callbacks,
           coalesce(d.safety_incidents, 0)         AS safety_incidents,
           coalesce(d.rated_jobs, 0)               AS rated_jobs,
           d.avg_rating,
           coalesce(d.revenue, 0)                  AS revenue,
           coalesce(d.gross_profit, 0)             AS gross_profit
    FROM technicians t
    LEFT JOIN scheduled s  ON s.technician_id = t.technician_id
    LEFT JOIN done d       ON d.technician_id = t.technician_id
    LEFT JOIN capacity cap ON cap.technician_id = t.technician_id
    WHERE reg IS NULL OR t.region = reg
)
SELECT *,
       billable_hours / nullif(available_hours, 0)             AS utilisation,
       jobs_scheduled_completed / nullif(jobs_scheduled, 0)    AS efficiency,
       completion_time_ratio(completed_scheduled_hours, billable_hours) AS completion_time_ratio,
       quality_rate(callbacks, jobs_completed)                 AS quality,
       safety_rate(safety_incidents, jobs_completed)           AS safety,
       efficiency_score(completion_time_ratio(completed_scheduled_hours, billable_hours),
                        quality_rate(callbacks, jobs_completed), avg_rating,
                        safety_rate(safety_incidents, jobs_completed)) AS efficiency_score
FROM inputs
"""

TECHNICIAN_KPIS_SQL = """
CREATE TABLE technician_kpis AS
SELECT * FROM technician_kpis_between((SELECT data_start FROM build_params),
                                      (SELECT as_of FROM build_params))
ORDER BY technician_id
"""

# Equipment KPIs over [start_date, end_date]. A job "uses" a piece of
# equipment when a usage record or the job's own equipment_id says so. The
# revenue the piece generated on a job is the job's revenue times the piece's
# share of the job's direct cost (its usage hours on the job x hourly_cost, or the
# job's equipment_cost when only the job's equipment_id links them), at most the
# whole revenue: a $14,000 jetter used for an hour on a $600 job did not earn $600.
# Maintenance events are dated by their scheduled date (the day a failure
# happened, or a service was due).
EQUIPMENT_KPIS_MACRO = """
CREATE OR REPLACE MACRO equipment_kpis_between(start_date, end_date, line := NULL, reg := NULL) AS TABLE
WITH usage AS (
    SELECT equipment_id, sum(hours) AS usage_hours
    FROM equipment_usage WHERE date::DATE BETWEEN start_date AND end_date
    GROUP BY equipment_id
),
used_on AS (
    SELECT u.equipment_id, u.job_id, sum(u.hours * e.hourly_cost) AS piece_cost
    FROM equipment_usage u JOIN equipment e ON e.equipment_id = u.equipment_id
    GROUP BY u.equipment_id, u.job_id
    UNION ALL
    SELECT j.equipment_id, j.job_id, j.equipment_cost AS piece_cost FROM jobs j
    WHERE j.equipment_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM equipment_usage u
                      WHERE u.job_id = j.job_id AND u.equipment_id = j.equipment_id)
),
job_revenue AS (
    SELECT u.equipment_id, count(*) AS jobs, sum(f.revenue) AS job_revenue,
           sum(f.revenue * CASE WHEN f.direct_cost > 0 THEN least(1.0, coalesce(u.piece_cost, 0) / f.direct_cost)
                                ELSE 0 END) AS revenue_generated
    FROM used_on u JOIN job_facts f ON f.job_id = u.job_id
    WHERE f.is_completed AND f.completed_date BETWEEN start_date AND end_date
    GROUP BY u.equipment_id
),
maintenance AS (
    SELECT equipment_id,
           sum(cost)                                   AS maintenance_cost,
           sum(downtime_hours)                         AS downtime_hours,
           count(*) FILTER (WHERE kind = 'failure')    AS failures,
           count(*) FILTER (WHERE kind = 'preventive') AS preventive_scheduled,
           count(*) FILTER (WHERE kind = 'preventive'
                              AND completed_date::DATE <= end_date) AS preventive_completed
    FROM maintenance_events
    WHERE scheduled_date::DATE BETWEEN start_date AND end_date
    GROUP BY equipment_id
),
inputs AS (
    SELECT e.equipment_id, e.name, e.kind, e.service_line, e.region,
           start_date::DATE AS period_start, end_date::DATE AS period_end,
           e.purchase_cost, e.hourly_cost,
           greatest(0, date_diff('day', greatest(e.purchase_date::DATE, start_date), end_date) + 1)
               * e.available_hours_per_week / 7.0     AS available_hours,
           coalesce(u.usage_hours, 0)                 AS usage_hours,
           coalesce(u.usage_hours, 0) * e.hourly_cost AS usage_cost,
           coalesce(r.jobs, 0)                        AS jobs,
           coalesce(r.job_revenue, 0)                 AS job_revenue,
           coalesce(r.revenue_generated, 0)           AS revenue_generated,
           coalesce(m.maintenance_cost, 0)            AS maintenance_cost,
           coalesce(m.downtime_hours, 0)              AS downtime_hours,
           coalesce(m.failures, 0)                    AS failures,
           coalesce(m.preventive_scheduled, 0)        AS preventive_scheduled,
           coalesce(m.preventive_completed, 0)        AS preventive_completed
    FROM equipment e
    LEFT JOIN usage u       ON u.equipment_id = e.equipment_id
    LEFT JOIN job_revenue r ON r.equipment_id = e.equipment_id
    LEFT JOIN maintenance m ON m.equipment_id = e.equipment_id
    WHERE (line IS NULL OR e.service_line = line) AND (reg IS NULL OR e.region = reg)
)
SELECT *,
       usage_hours / nullif(available_hours, 0)                AS utilisation,
       preventive_completed / nullif(preventive_scheduled, 0)  AS preventive_completion_rate,
       (revenue_generated - usage_cost - maintenance_cost) / purchase_cost AS roi
FROM inputs
"""

EQUIPMENT_KPIS_SQL = """
CREATE TABLE equipment_kpis AS
SELECT * FROM equipment_kpis_between((SELECT data_start FROM build_params),
                                     (SELECT as_of FROM build_params))
ORDER BY equipment_id
"""

# Funnel by lead cohort: everything is traced back to the month the lead came
# in. Jobs count when they come from a won quote and were not cancelled;
# invoices of those jobs; "paid" = invoice status paid.
FUNNEL_SQL = """
CREATE TABLE funnel AS
WITH traced AS (
    SELECT date_trunc('month', l.created_at)::DATE AS month, l.service_line,
           l.lead_id, q.quote_id, q.status AS quote_status,
           j.job_id, i.invoice_id, i.status AS invoice_status
    FROM leads l
    LEFT JOIN quotes q   ON q.lead_id = l.lead_id
    LEFT JOIN jobs j     ON j.quote_id = q.quote_id AND q.status = 'won' AND j.status <> 'cancelled'
    LEFT JOIN invoices i ON i.job_id = j.job_id
),
counts AS (
    SELECT month, coalesce(service_line, 'all') AS service_line,
           count(DISTINCT lead_id)                                          AS leads,
           count(DISTINCT quote_id)                                         AS quotes,
           count(DISTINCT quote_id) FILTER (WHERE quote_status = 'won')     AS won_quotes,
           count(DISTINCT job_id)                                           AS jobs,
           count(DISTINCT invoice_id)                                       AS invoices,
           count(DISTINCT invoice_id) FILTER (WHERE invoice_status = 'paid') AS paid_invoices
    FROM traced
    GROUP BY GROUPING SETS ((month, service_line), (month))
)
SELECT *,
       quotes / nullif(leads, 0)             AS lead_to_quote,
       won_quotes / nullif(quotes, 0)        AS quote_win_rate,
       jobs / nullif(won_quotes, 0)          AS won_to_job,
       invoices / nullif(jobs, 0)            AS job_to_invoice,
       paid_invoices / nullif(invoices, 0)   AS invoice_to_paid,
       paid_invoices / nullif(leads, 0)      AS lead_to_paid
FROM counts
ORDER BY month, service_line
"""

#: Macros installed in gold (parameterised marts), in creation order.
MACROS: dict[str, str] = {
    "open_invoices_at": OPEN_INVOICES_MACRO,
    "customer_features_at": CUSTOMER_FEATURES_MACRO,
    "technician_kpis_between": TECHNICIAN_KPIS_MACRO,
    "equipment_kpis_between": EQUIPMENT_KPIS_MACRO,
}

#: The marts, in build order (job_facts first: the others read it).
MARTS: dict[str, str] = {
    "job_facts": JOB_FACTS_SQL,
    "daily_revenue": DAILY_REVENUE_SQL,
    "customer_features": CUSTOMER_FEATURES_SQL,
    "technician_kpis": TECHNICIAN_KPIS_SQL,
    "equipment_kpis": EQUIPMENT_KPIS_SQL,
    "open_invoices": OPEN_INVOICES_SQL,
    "receivables_ageing": RECEIVABLES_AGEING_SQL,
    "dso": DSO_SQL,
    "funnel": FUNNEL_SQL,
    "expense_accruals": EXPENSE_ACCRUALS_SQL,
}


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _load_sql(con: duckdb.DuckDBPyConnection, name: str, path: Path | None) -> str:
    """The statement creating table ``name`` from its silver file (or empty, per its contract)."""
    contract = CONTRACTS.get(name)
    if contract is None:
        # A silver table without a contract is loaded as it is.
        return f"CREATE TABLE {_quote(name)} AS SELECT * FROM read_parquet({_literal(str(path))})"
    types = {col: _DUCK_TYPES[str(spec.dtype)] for col, spec in contract.schema.columns.items()}
    if path is None:
        columns = ", ".join(f"{_quote(c)} {t}" for c, t in types.items())
        return f"CREATE TABLE {_quote(name)} ({columns})"
    source = f"read_parquet({_literal(str(path))})"
    file_columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    # Contract columns get the contract type (a missing nullable one becomes
    # NULL); extra columns are kept as they are.
    select = [f"CAST({_quote(c) if c in file_columns else 'NULL'} AS {t}) AS {_quote(c)}"
              for c, t in types.items()]
    select += [_quote(c) for c in file_columns if c not in types]
    return f"CREATE TABLE {_quote(name)} AS SELECT {', '.join(select)} FROM {source}"


def _use_filesystem(con: duckdb.DuckDBPyConnection, lake: Lake) -> None:
    """Let ``con`` read the files of a lake on object storage: its fsspec filesystem, registered.

    DuckDB would otherwise try to download and load its httpfs extension for ``s3://``; that
    is switched off, so a missing registration is an error rather than a download.
    """
    if not lake.remote:
        return
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    fs = lake.root.fs
    if not con.filesystem_is_registered(fs.protocol[0] if isinstance(fs.protocol, tuple) else fs.protocol):
        con.register_filesystem(fs)


def _load_silver(con: duckdb.DuckDBPyConnection, lake: Lake) -> dict[str, int]:
    """Create one table per contract (and per extra silver file); return row counts."""
    _use_filesystem(con, lake)
    present = lake.silver_tables()
    names = list(TABLE_ORDER) + sorted(set(present) - set(TABLE_ORDER))
    statements = {name: _load_sql(con, name, present.get(name)) for name in names}

    def run(name: str) -> None:
        cursor = con.cursor()
        try:
            cursor.execute(statements[name])
        finally:
            cursor.close()

    # Writing a table to disk (compression) is mostly single-threaded and a
    # silver file of pandas origin is often a single row group, so the big
    # tables load side by side, one per core; largest files first.
    order = sorted(names, key=lambda n: -(present[n].stat().st_size if n in present else 0))
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        list(pool.map(run, order))
    return {name: con.execute(f"SELECT count(*) FROM {_quote(name)}").fetchone()[0] for name in names}


def _write_targets(con: duckdb.DuckDBPyConnection, targets: dict | None) -> None:
    con.execute("CREATE TABLE targets (key VARCHAR PRIMARY KEY, value DOUBLE, text VARCHAR)")
    for key, value in (targets or {}).items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = None
        con.execute("INSERT INTO targets VALUES (?, ?, ?)", [str(key), number, str(value)])


def build_into(con: duckdb.DuckDBPyConnection, lake: Lake, targets: dict | None = None,
               company: str | None = None) -> dict[str, int]:
    """Build every table of gold on an open connection; return row counts by table.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        An empty database (a file or ``:memory:``).
    lake : Lake
        Where the silver tables are (a folder or object storage).
    targets : dict, optional
        Key/value targets (e.g. ``{"monthly_revenue": 450000}``).
    company : str, optional
        Company name recorded in ``build_info``.

    Returns
    -------
    dict of str to int
        Rows per silver table and mart.
    """
    counts = _load_silver(con, lake)
    # A month of indicators without a publication date (files older than published_at)
    # is published after the default lag, so every as-of reader can honour it.
    con.execute(f"UPDATE economic_indicators SET published_at = {default_published_at_sql('month')} "
                "WHERE published_at IS NULL")
    # A quote without a job type (files older than job_type) is for an install.
    con.execute(f"UPDATE quotes SET job_type = '{DEFAULT_QUOTE_JOB_TYPE}' WHERE job_type IS NULL")
    con.execute(BUILD_PARAMS_SQL)
    install_formulas(con)
    # job_facts must exist before the macros that read it are created.
    con.execute(MARTS["job_facts"])
    for sql in MACROS.values():
        con.execute(sql)
    for name, sql in MARTS.items():
        if name != "job_facts":
            con.execute(sql)
        counts[name] = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
    _write_targets(con, targets)
    as_of, data_start = con.execute("SELECT as_of, data_start FROM build_params").fetchone()
    built_at = dt.datetime.now().replace(microsecond=0)
    con.execute("""CREATE TABLE build_info (table_name VARCHAR, kind VARCHAR, row_count BIGINT,
                   built_at TIMESTAMP, as_of DATE, data_start DATE, company VARCHAR)""")
    con.executemany("INSERT INTO build_info VALUES (?, ?, ?, ?, ?, ?, ?)", [
        [name, "mart" if name in MARTS else "silver", n, built_at, as_of, data_start, company]
        for name, n in counts.items()
    ])
    return counts


def build_warehouse(lake: Lake, targets: dict | None = None, company: str | None = None) -> Path:
    """Build ``lake.gold`` (DuckDB) from the silver Parquet tables, atomically.

    Parameters
    ----------
    lake : Lake
        The company's lake; silver tables are read from ``lake.silver``.
    targets : dict, optional
        Targets written to the ``targets`` table, e.g. ``{"monthly_revenue": 450000}``.
        A key equal to a KPI name overrides that KPI's default target.
    company : str, optional
        Company name recorded in ``build_info``.

    Returns
    -------
    Path or ObjectPath
        ``lake.gold``.

    Notes
    -----
    The database is written to a temporary file next to ``lake.gold`` and renamed
    onto it at the end; any failure leaves the previous gold file untouched. On
    object storage the temporary file is local and uploaded whole at the end.
    """
    lake = Lake(lake.root if isinstance(lake, Lake) else lake)
    with atomic_path(lake.gold) as tmp:
        wal = Path(str(tmp) + ".wal")
        try:
            con = duckdb.connect(str(tmp))
            try:
                # Row order of the loaded tables carries no meaning; letting DuckDB
                # drop it makes the big loads parallel and lighter on memory.
                con.execute("SET preserve_insertion_order = false")
                con.execute("SET enable_progress_bar = false")
                build_into(con, lake, targets, company)
                con.execute("CHECKPOINT")
            finally:
                con.close()
        finally:
            # A failed build can leave a write-ahead log next to the temp file.
            if wal.exists():
                os.unlink(wal)
    return lake.gold


def gold_tables(gold_path: Path) -> dict[str, int]:
    """Row counts of the tables in an existing gold file (from ``build_info``)."""
    with open_gold(gold_path) as con:
        rows = con.execute("SELECT table_name, row_count FROM build_info").fetchall()
    return dict(rows)
