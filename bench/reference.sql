-- The engine's core comparison written as one DuckDB query: usage vs contract vs billed per
-- (period, client, sku), with the spec's variance formulas for the presence, quantity and price rules
-- (PRODUCT.md sections 4 and 4a). It reads the engine's resolved frames (registered as usage, contracts,
-- invoices, catalog) and the run's months (run_periods). Money is BIGINT units of 1/10,000, as in the
-- engine: products go through HUGEINT so nothing overflows and nothing is a float.
--
-- What rows mean (4a), written here apart from recon.effect / recon.keys: a trial row is not expected,
-- a cost row changes cost only, a one-time row counts in full in the month it starts, and so does an
-- arrears row (use billed after the fact), the usage rows of its subscription inside its span then adding
-- nothing (the running report of the use it bills); a subscription's
-- recurring rows replace one another in time (LEAD), a credit with a charge's span and quantity cancels
-- it, a credit starting the day a replacement starts is absorbed by it, other credits and adjustments add
-- their signed quantity for their days; a subscription's days that none of its charges covers, inside its
-- known life, hold the quantity of the charge nearest them (carried days). Contract lines of one service
-- replace one another in time; a monthly line is expected for the days it is in effect (a line billed in
-- whole periods only in months it covers whole), a line billed every N months in full in its billing
-- months. Agreement totals are not product lines. Not written here (the benchmark's sample has none of
-- them): credits taking a subscription below zero on some days but not the month, agreement totals, the
-- period_end quantity basis.

-- amount = quantity x unit price, rounded half up to whole cents (recon.money.money_times_quantity)
CREATE OR REPLACE TEMP MACRO amount_of(quantity, unit_price) AS
    sign(round_even(quantity * 10000, 0)::HUGEINT * unit_price)
    * ((abs(round_even(quantity * 10000, 0)::HUGEINT * unit_price) + 500000) // 1000000) * 100;

-- unit price = amount / quantity, rounded half up (away from zero) in integers: the quantity read at four
-- places as amount_of reads it (recon.money.unit_price_from_amount); NULL where the price is past BIGINT,
-- as the engine's is missing there (a plain cast raised a conversion error: 100,000,000,000.00 for 0.0001)
CREATE OR REPLACE TEMP MACRO price_of(amount, quantity) AS
    CASE WHEN round_even(quantity * 10000, 0) <> 0 THEN
        TRY_CAST(sign(amount::HUGEINT) * sign(quantity)
                 * ((abs(amount::HUGEINT) * 10000 + abs(round_even(quantity * 10000, 0))::HUGEINT // 2)
                    // abs(round_even(quantity * 10000, 0))::HUGEINT) AS BIGINT) END;

WITH
-- U: usage rows by what they are. Trial seats are not expected to be billed; cost rows change cost only.
usage_rows AS (
    SELECT client, sku, quantity, unit_cost, coalesce(row_type, 'usage') AS row_type, subscription_id,
           subscription_id IS NOT NULL AND coalesce(row_type, 'usage') IN ('recurring', 'credit', 'adjustment')
               AS in_series,
           source_file, source_line, period_start::DATE AS first_day,
           greatest(coalesce(period_end, period_start)::DATE, period_start::DATE) AS last_day,
           subscription_start::DATE AS life_first, subscription_end::DATE AS life_last
    FROM usage AS u WHERE coalesce(row_type, 'usage') NOT IN ('trial', 'cost')
      AND NOT (coalesce(row_type, 'usage') = 'usage' AND subscription_id IS NOT NULL AND EXISTS (
          SELECT 1 FROM usage AS billed
          WHERE billed.row_type = 'arrears' AND billed.quantity > 0 AND billed.client = u.client
            AND billed.sku = u.sku AND billed.subscription_id = u.subscription_id
            AND billed.period_start::DATE <= u.period_start::DATE
            AND coalesce(u.period_end, u.period_start)::DATE
                <= coalesce(billed.period_end, billed.period_start)::DATE))
),
-- a subscription's credit with a charge's span and quantity cancels that charge, one for one
alike_rows AS (
    SELECT *, row_number() OVER (PARTITION BY client, sku, subscription_id, first_day, last_day,
                                              round(abs(quantity), 6), row_type
                                 ORDER BY source_file, source_line) AS alike_rank,
           count(*) FILTER (WHERE row_type = 'credit') OVER same_span AS credits_alike,
           count(*) FILTER (WHERE row_type = 'recurring') OVER same_span AS charges_alike
    FROM usage_rows
    WINDOW same_span AS (PARTITION BY client, sku, subscription_id, first_day, last_day, round(abs(quantity), 6))
),
live_rows AS (
    SELECT * FROM alike_rows
    WHERE NOT (in_series AND row_type = 'recurring' AND alike_rank <= credits_alike)
      AND NOT (in_series AND row_type = 'credit' AND alike_rank <= charges_alike)
),
-- a recurring row is in effect until the day before the subscription's next recurring row starts
held_rows AS (
    SELECT *, CASE WHEN in_series AND row_type = 'recurring'
                   THEN least(last_day, coalesce(lead(first_day) OVER (
                            PARTITION BY client, sku, subscription_id, in_series AND row_type = 'recurring'
                            ORDER BY first_day, last_day, quantity) - 1, last_day))
                   ELSE last_day END AS effective_last
    FROM live_rows
),
change_days AS (
    SELECT DISTINCT client, sku, subscription_id, first_day FROM live_rows WHERE in_series AND row_type = 'recurring'
),
-- a credit starting the day a recurring row of its subscription starts is the refund half of that change
-- (materialized: the carried days read it three times more)
usage_spans AS MATERIALIZED (
    SELECT h.client, h.sku, h.subscription_id, h.unit_cost, h.in_series,
           h.row_type IN ('one_time', 'arrears') AS one_time, h.row_type, h.first_day,
           CASE WHEN h.row_type IN ('one_time', 'arrears') THEN h.first_day ELSE h.effective_last END AS last_day,
           CASE WHEN h.in_series AND h.row_type = 'credit' THEN -abs(h.quantity) ELSE h.quantity END AS quantity
    FROM held_rows AS h
    LEFT JOIN change_days AS c
      ON h.in_series AND h.row_type = 'credit' AND c.client = h.client AND c.sku = h.sku
         AND c.subscription_id = h.subscription_id AND c.first_day = h.first_day
    WHERE c.first_day IS NULL AND (h.row_type IN ('one_time', 'arrears') OR h.effective_last >= h.first_day)
),
-- Carried days. A subscription's charges (not its credits) cover runs of consecutive days. Its known life
-- runs from its subscription_start to its subscription_end, widened to its charges' own spans (without the
-- dates: its first charge's first day to its last charge's last day). Each run's quantity reaches out
-- over the uncovered days beside it: back to the life's start or to the middle of the gap before it, and
-- forward to the life's end or to the middle of the gap after it (a gap's earlier half, its middle day
-- included, takes the run before it; the rest the run after it). The quantity a run reaches out with is
-- what the subscription holds on the run's edge day: every span covering that day, credits netted, never
-- below zero.
subscription_lives AS (
    SELECT client, sku, subscription_id,
           min(least(coalesce(life_first, first_day), first_day)) AS life_first,
           max(greatest(coalesce(life_last, last_day), last_day)) AS life_last
    FROM live_rows WHERE in_series AND row_type IN ('recurring', 'adjustment')
    GROUP BY client, sku, subscription_id
),
-- Most subscriptions have no such day; only the others are looked at. A subscription's recurring spans
-- never overlap (each ends before the next starts), so they cover every day from its first charge to its
-- last exactly when their days add up to that many, and its life adds none when it ends there too.
uncovered_subscriptions AS (
    SELECT client, sku, subscription_id
    FROM usage_spans AS s JOIN subscription_lives AS l USING (client, sku, subscription_id)
    WHERE s.in_series AND s.row_type <> 'credit'
    GROUP BY client, sku, subscription_id
    HAVING coalesce(sum(s.last_day - s.first_day + 1) FILTER (WHERE s.row_type = 'recurring'), 0)
               <> max(s.last_day) - min(s.first_day) + 1
        OR min(l.life_first) < min(s.first_day) OR max(l.life_last) > max(s.last_day)
),
charge_spans AS (
    SELECT client, sku, subscription_id, first_day, last_day,
           max(last_day) OVER (PARTITION BY client, sku, subscription_id ORDER BY first_day, last_day
                               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS covered_until
    FROM usage_spans SEMI JOIN uncovered_subscriptions USING (client, sku, subscription_id)
    WHERE in_series AND row_type <> 'credit'
),
covered_runs AS (
    SELECT client, sku, subscription_id, min(first_day) AS first_day, max(last_day) AS last_day
    FROM (SELECT *, sum(CASE WHEN covered_until IS NULL OR first_day > covered_until + 1 THEN 1 ELSE 0 END)
                        OVER (PARTITION BY client, sku, subscription_id ORDER BY first_day, last_day
                              ROWS UNBOUNDED PRECEDING) AS run
          FROM charge_spans)
    GROUP BY client, sku, subscription_id, run
),
runs_in_life AS (
    SELECT r.client, r.sku, r.subscription_id, r.first_day, r.last_day, l.life_first, l.life_last,
           lag(r.last_day) OVER beside AS last_before, lead(r.first_day) OVER beside AS first_after
    FROM covered_runs AS r JOIN subscription_lives AS l USING (client, sku, subscription_id)
    WINDOW beside AS (PARTITION BY r.client, r.sku, r.subscription_id ORDER BY r.first_day)
),
reach AS (  -- runs of a subscription never touch (covered_runs joins them): a gap is 1 day or more
    SELECT client, sku, subscription_id, last_day AS edge_day, last_day + 1 AS first_day,
           CASE WHEN first_after IS NULL THEN life_last
                ELSE last_day + 1 + ((first_after - last_day - 2) // 2)::INTEGER END AS last_day
    FROM runs_in_life
    UNION ALL
    SELECT client, sku, subscription_id, first_day AS edge_day,
           CASE WHEN last_before IS NULL THEN life_first
                ELSE last_before + 2 + ((first_day - last_before - 2) // 2)::INTEGER END AS first_day,
           first_day - 1 AS last_day
    FROM runs_in_life
),
carried_spans AS (
    SELECT r.client, r.sku, greatest(r.first_day, w.window_first) AS first_day,
           least(r.last_day, w.window_last) AS last_day, greatest(sum(s.quantity), 0) AS quantity
    FROM reach AS r
    CROSS JOIN (SELECT min(month_start)::DATE AS window_first, max(month_end)::DATE AS window_last
                FROM run_periods) AS w
    JOIN usage_spans AS s
      ON s.in_series AND s.client = r.client AND s.sku = r.sku AND s.subscription_id = r.subscription_id
         AND r.edge_day BETWEEN s.first_day AND s.last_day
    WHERE r.first_day <= r.last_day AND r.first_day <= w.window_last AND r.last_day >= w.window_first
    GROUP BY r.client, r.sku, r.subscription_id, r.first_day, r.last_day, w.window_first, w.window_last
),
counted_spans AS (
    SELECT client, sku, unit_cost, in_series, one_time, first_day, last_day, quantity, FALSE AS carried
    FROM usage_spans
    UNION ALL
    SELECT client, sku, NULL, TRUE, FALSE, first_day, last_day, quantity, TRUE FROM carried_spans
),
usage_months AS (
    SELECT s.*, month_start::DATE AS month_start, (month_start + INTERVAL 1 MONTH)::DATE AS next_month
    FROM counted_spans AS s,
         unnest(range(date_trunc('month', first_day), date_trunc('month', last_day) + INTERVAL 1 MONTH,
                      INTERVAL 1 MONTH)) AS months(month_start)
),
-- each row for the days it covers (a subscription's quantity-days summed before dividing), a one-time
-- row in full
usage_prorated AS (
    SELECT strftime(month_start, '%Y-%m') AS period, client, sku, unit_cost, in_series, carried,
           CASE WHEN one_time THEN quantity
                ELSE quantity * (least(last_day + 1, next_month) - greatest(first_day, month_start)) END
               AS quantity_days,
           CASE WHEN one_time THEN quantity
                ELSE round_even(quantity * (least(last_day + 1, next_month) - greatest(first_day, month_start))
                                / (next_month - month_start), 4) END AS prorated_qty,
           next_month - month_start AS month_days
    FROM usage_months
),
-- U counts the carried days; the vendor's unit cost is the charges' cost over the charged quantity
usage_keys AS (
    SELECT period, client, sku,
           greatest(round_even(coalesce(sum(prorated_qty) FILTER (WHERE NOT in_series), 0)
                               + coalesce(sum(quantity_days) FILTER (WHERE in_series), 0) / any_value(month_days),
                               4), 0) AS usage_qty,
           greatest(round_even(coalesce(sum(prorated_qty) FILTER (WHERE NOT in_series), 0)
                               + coalesce(sum(quantity_days) FILTER (WHERE in_series AND NOT carried), 0)
                                 / any_value(month_days), 4), 0) AS charged_qty,
           CASE WHEN count(unit_cost) > 0 THEN sum(amount_of(prorated_qty, unit_cost)) END AS vendor_cost_amount
    FROM usage_prorated GROUP BY ALL
),
-- C and Pc: billable contract lines expected in the month
contract_rows AS (
    SELECT c.client, c.sku, c.quantity, c.unit_price, c.start_date::DATE AS start_day,
           c.end_date::DATE AS end_day, c.line_order, c.service_id, coalesce(c.prorate, TRUE) AS prorated,
           CASE coalesce(c.billing_frequency, 'monthly')
               WHEN 'monthly' THEN 1 WHEN 'bimonthly' THEN 2 WHEN 'quarterly' THEN 3 WHEN 'semiannual' THEN 6
               WHEN 'annual' THEN 12 WHEN 'biennial' THEN 24 WHEN 'triennial' THEN 36 WHEN 'one_time' THEN 0
               ELSE 1 END AS cycle_months,
           w.window_last
    FROM contracts AS c, (SELECT max(month_end)::DATE AS window_last FROM run_periods) AS w
    WHERE coalesce(c.billable, TRUE)
),
-- a monthly line of a contract service is in effect until the day before the service's next line starts
monthly_rows AS (
    SELECT *, CASE WHEN service_id IS NULL THEN coalesce(end_day, window_last)
                   ELSE least(coalesce(end_day, window_last), coalesce(lead(start_day) OVER (
                            PARTITION BY client, sku, service_id
                            ORDER BY start_day, coalesce(end_day, window_last), coalesce(quantity, 0)) - 1,
                            window_last)) END AS effective_end
    FROM contract_rows WHERE cycle_months = 1
),
monthly_lines AS (
    SELECT p.period, m.client, m.sku, m.unit_price, m.start_day, m.line_order,
           CASE WHEN m.prorated THEN round_even(coalesce(m.quantity, 0) * (
                    least(m.effective_end, p.month_end::DATE) - greatest(m.start_day, p.month_start::DATE) + 1)
                    / p.days_in_month, 4)
                ELSE coalesce(m.quantity, 0) END AS line_qty
    FROM monthly_rows AS m JOIN run_periods AS p
      ON m.start_day <= p.month_end::DATE AND m.effective_end >= p.month_start::DATE AND m.effective_end >= m.start_day
    WHERE m.prorated OR (m.start_day <= p.month_start::DATE AND m.effective_end >= p.month_end::DATE)
),
-- a line billed every N months: in full in its billing months, while in effect on the cycle's first day
cycle_lines AS (
    SELECT p.period, c.client, c.sku, c.unit_price, c.start_day, c.line_order, coalesce(c.quantity, 0) AS line_qty
    FROM contract_rows AS c JOIN run_periods AS p
      ON date_diff('month', date_trunc('month', c.start_day), p.month_start::DATE) >= 0
         AND CASE WHEN c.cycle_months > 0
                  THEN date_diff('month', date_trunc('month', c.start_day), p.month_start::DATE) % c.cycle_months = 0
                  ELSE date_diff('month', date_trunc('month', c.start_day), p.month_start::DATE) = 0 END
         AND (c.end_day IS NULL
              OR c.end_day >= least(p.month_start::DATE + (day(c.start_day) - 1)::INTEGER, p.month_end::DATE))
    WHERE c.cycle_months <> 1
),
contract_lines AS (SELECT * FROM monthly_lines UNION ALL SELECT * FROM cycle_lines),
contract_keys AS (
    SELECT period, client, sku, round_even(sum(line_qty), 4) AS contract_qty, count(*) AS contract_lines,
           coalesce(price_of(sum(amount_of(line_qty, unit_price)), round_even(sum(line_qty), 4)),
                    last(unit_price ORDER BY start_day, line_order)) AS contract_unit_price
    FROM contract_lines GROUP BY ALL
),
-- B, A and Pb: item lines of the service month (an agreement invoice's total is not a product line).
-- Lines repeating each other's client, sku, month, quantity and unit price are one group: its first line
-- (by date, number, file line) is kept, the others are duplicates. The kept quantity is the group's
-- quantity, the kept amount its first line's.
invoice_groups AS (
    SELECT strftime(period_start, '%Y-%m') AS period, client, sku, quantity,
           arg_min(amount, (invoice_date, invoice_number, source_file, source_line)) AS amount
    FROM invoices WHERE coalesce(line_type, 'item') = 'item'
    GROUP BY period, client, sku, quantity, unit_price
),
billed_keys AS (
    SELECT period, client, sku, round_even(sum(quantity), 4) AS billed_qty, sum(amount) AS billed_amount
    FROM invoice_groups GROUP BY period, client, sku
),
catalog_facts AS (
    SELECT sku, list_price, unit_cost AS catalog_unit_cost FROM catalog
    QUALIFY row_number() OVER (PARTITION BY sku ORDER BY line_order) = 1
),
vendor_tracked AS (SELECT DISTINCT client, sku FROM usage),
had_contract AS (SELECT DISTINCT client, sku FROM contracts),
run_keys AS (
    SELECT period, client, sku FROM usage_keys
    UNION SELECT period, client, sku FROM contract_keys
    UNION SELECT period, client, sku FROM billed_keys
),
facts AS (
    SELECT k.period, k.client, k.sku,
           coalesce(u.usage_qty, 0) AS usage_qty, coalesce(c.contract_qty, 0) AS contract_qty,
           coalesce(b.billed_qty, 0) AS billed_qty, coalesce(b.billed_amount, 0) AS billed_amount,
           c.contract_unit_price, price_of(b.billed_amount, b.billed_qty) AS billed_unit_price,
           vt.client IS NOT NULL AS vendor_tracked, hc.client IS NOT NULL AS had_contract,
           coalesce(c.contract_lines, 0) > 0 AS contract_active,
           coalesce(price_of(u.vendor_cost_amount, u.charged_qty), cat.catalog_unit_cost) AS vendor_unit_cost,
           cat.list_price
    FROM run_keys AS k
    JOIN run_periods AS p USING (period)
    LEFT JOIN usage_keys AS u USING (period, client, sku)
    LEFT JOIN contract_keys AS c USING (period, client, sku)
    LEFT JOIN billed_keys AS b USING (period, client, sku)
    LEFT JOIN vendor_tracked AS vt USING (client, sku)
    LEFT JOIN had_contract AS hc USING (client, sku)
    LEFT JOIN catalog_facts AS cat USING (sku)
),
-- E and P: expected quantity (U where a vendor tracks the sku, else C) and price (contract, billed,
-- list, vendor cost), and the expected amount E x P
expected AS (
    SELECT *,
           CASE WHEN vendor_tracked THEN usage_qty
                WHEN had_contract AND contract_active AND contract_qty = 0 THEN billed_qty
                WHEN had_contract THEN contract_qty
                ELSE billed_qty END AS expected_qty,
           coalesce(contract_unit_price, billed_unit_price, list_price, vendor_unit_cost) AS expected_unit_price,
           CASE WHEN contract_unit_price IS NOT NULL THEN 'contract'
                WHEN billed_unit_price IS NOT NULL THEN 'billed'
                WHEN list_price IS NOT NULL THEN 'catalog'
                WHEN vendor_unit_cost IS NOT NULL THEN 'vendor_cost' END AS price_source
    FROM facts
),
judged AS (
    SELECT *,
           CASE WHEN vendor_tracked OR had_contract
                THEN coalesce(amount_of(expected_qty, expected_unit_price), 0)
                ELSE billed_amount END AS expected_amount,
           CASE WHEN abs(billed_qty - expected_qty) > {quantity_tolerance}
                THEN billed_qty - expected_qty ELSE 0 END AS quantity_gap,
           CASE WHEN price_source IS NULL OR price_source = 'billed' THEN billed_amount
                ELSE coalesce(amount_of(billed_qty, expected_unit_price), 0) END AS billed_at_expected_price,
           billed_qty > 0 AND expected_qty > 0 AND contract_active AND billed_unit_price IS NOT NULL
               AND contract_unit_price IS NOT NULL
               AND abs(billed_unit_price - contract_unit_price)
                   > greatest(abs(contract_unit_price) * {price_tolerance_pct}, {price_tolerance_min})
               AS price_beyond_tolerance
    FROM expected
),
presence AS (  -- at most one presence-or-quantity finding per key, in the spec's order of precedence
    SELECT period, client, sku,
           CASE WHEN vendor_tracked AND usage_qty > 0 AND billed_qty = 0 THEN 'unbilled_usage'
                WHEN vendor_tracked AND usage_qty = 0 AND billed_qty > 0 THEN 'billed_without_usage'
                WHEN billed_qty > 0 AND quantity_gap < 0 AND expected_qty > 0 THEN 'quantity_under_billed'
                WHEN expected_qty > 0 AND quantity_gap > 0 THEN 'quantity_over_billed'
                WHEN NOT vendor_tracked AND contract_qty > 0 AND billed_qty = 0 THEN 'missed_recurring_charge'
                WHEN NOT vendor_tracked AND billed_qty > 0 AND had_contract AND NOT contract_active
                    THEN 'billed_outside_contract' END AS type,
           expected_amount, billed_amount, billed_at_expected_price, billed_qty, expected_unit_price
    FROM judged
),
quantity_findings AS (
    SELECT period, client, sku, type, billed_qty, expected_unit_price,
           CASE WHEN type IN ('unbilled_usage', 'missed_recurring_charge') THEN -expected_amount
                WHEN type IN ('billed_without_usage', 'billed_outside_contract') THEN billed_amount
                ELSE billed_at_expected_price - expected_amount END AS variance
    FROM presence WHERE type IS NOT NULL
),
price_findings AS (
    SELECT period, client, sku,
           CASE WHEN billed_unit_price < contract_unit_price THEN 'price_below_contract'
                ELSE 'price_above_contract' END AS type,
           billed_amount - amount_of(billed_qty, contract_unit_price) AS variance
    FROM judged WHERE price_beyond_tolerance
),
-- a quantity finding and a price finding whose variances cancel: the expected amount billed, split
-- differently (a prorated line); neither is raised. Cancel: within the amount tolerance plus what a unit
-- price to the cent introduces (half a cent a billed unit, the price x 0.00005 of a four-place quantity)
proration_splits AS (
    SELECT q.period, q.client, q.sku
    FROM quantity_findings AS q JOIN price_findings AS p USING (period, client, sku)
    WHERE q.type IN ('quantity_under_billed', 'quantity_over_billed')
      AND abs(q.variance + p.variance) <= {amount_tolerance}
          + ceil(abs(q.billed_qty) * 50 + abs(coalesce(q.expected_unit_price, 0)) * 0.00005)
),
findings AS (
    SELECT period, client, sku, type, variance FROM quantity_findings AS q
    WHERE NOT (q.type IN ('quantity_under_billed', 'quantity_over_billed')
               AND EXISTS (SELECT 1 FROM proration_splits AS s
                           WHERE s.period = q.period AND s.client = q.client AND s.sku = q.sku))
    UNION ALL
    SELECT period, client, sku, type, variance FROM price_findings AS p
    WHERE NOT EXISTS (SELECT 1 FROM proration_splits AS s
                      WHERE s.period = p.period AND s.client = p.client AND s.sku = p.sku)
)
SELECT period, client, sku, type, variance::BIGINT AS variance
FROM findings
WHERE abs(variance) >= {amount_tolerance}
ORDER BY period, client, sku, type
