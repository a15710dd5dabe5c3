-- The engine's core comparison written as one DuckDB query: usage vs contract vs billed per
-- (period, client, sku), with the spec's variance formulas for the presence, quantity and price rules
-- (PRODUCT.md section 4). It reads the engine's resolved frames (registered as usage, contracts,
-- invoices, catalog) and the run's months (run_periods). Money is BIGINT units of 1/10,000, as in the
-- engine: products go through HUGEINT so nothing overflows and nothing is a float.
--
-- {quantity_tolerance}, {price_tolerance_pct}, {price_tolerance_min} and {amount_tolerance} are filled
-- in from the engine's Settings (money in units).

-- amount = quantity x unit price, rounded half up to whole cents (recon.money.money_times_quantity)
CREATE OR REPLACE TEMP MACRO amount_of(quantity, unit_price) AS
    sign(round_even(quantity * 10000, 0)::HUGEINT * unit_price)
    * ((abs(round_even(quantity * 10000, 0)::HUGEINT * unit_price) + 500000) // 1000000) * 100;

-- unit price = amount / quantity, half to even on the float ratio (recon.money.unit_price_from_amount)
CREATE OR REPLACE TEMP MACRO price_of(amount, quantity) AS
    CASE WHEN quantity <> 0 THEN round_even(amount / quantity, 0)::BIGINT END;

WITH
-- U: each usage row spread over the calendar months it covers, prorated by covered days
usage_spans AS (
    SELECT client, sku, quantity, unit_cost, period_start::DATE AS first_day,
           greatest(coalesce(period_end, period_start)::DATE, period_start::DATE) AS last_day
    FROM usage
),
usage_months AS (
    SELECT s.*, month_start::DATE AS month_start, (month_start + INTERVAL 1 MONTH)::DATE AS next_month
    FROM usage_spans AS s,
         unnest(range(date_trunc('month', first_day), date_trunc('month', last_day) + INTERVAL 1 MONTH,
                      INTERVAL 1 MONTH)) AS months(month_start)
),
usage_prorated AS (
    SELECT strftime(month_start, '%Y-%m') AS period, client, sku, unit_cost,
           round_even(quantity * (least(last_day + 1, next_month) - greatest(first_day, month_start))
                      / (next_month - month_start), 4) AS prorated_qty
    FROM usage_months
),
usage_keys AS (
    SELECT period, client, sku, round_even(sum(prorated_qty), 4) AS usage_qty,
           CASE WHEN count(unit_cost) > 0 THEN sum(amount_of(prorated_qty, unit_cost)) END AS vendor_cost_amount
    FROM usage_prorated GROUP BY ALL
),
-- C and Pc: billable contract lines active in the month (annual lines in their anniversary month)
contract_lines AS (
    SELECT p.period, c.client, c.sku, c.quantity, c.unit_price, c.start_date, c.line_order
    FROM contracts AS c JOIN run_periods AS p
      ON c.start_date <= p.month_end AND (c.end_date IS NULL OR c.end_date >= p.month_start)
    WHERE coalesce(c.billable, TRUE)
      AND (coalesce(c.billing_frequency, '') <> 'annual' OR month(c.start_date) = month(p.month_start))
),
contract_keys AS (
    SELECT period, client, sku, coalesce(sum(quantity), 0) AS contract_qty, count(*) AS contract_lines,
           coalesce(price_of(sum(amount_of(coalesce(quantity, 0), unit_price)), coalesce(sum(quantity), 0)),
                    last(unit_price ORDER BY start_date, line_order)) AS contract_unit_price
    FROM contract_lines GROUP BY ALL
),
-- B, A and Pb: invoice lines of the service month. Lines repeating each other's client, sku, month,
-- quantity and unit price are one group: its first line (by date, number, file line) is kept, the
-- others are duplicates. The kept quantity is the group's quantity, the kept amount its first line's.
invoice_groups AS (
    SELECT strftime(period_start, '%Y-%m') AS period, client, sku, quantity,
           arg_min(amount, (invoice_date, invoice_number, source_file, source_line)) AS amount
    FROM invoices GROUP BY period, client, sku, quantity, unit_price
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
           coalesce(price_of(u.vendor_cost_amount, u.usage_qty), cat.catalog_unit_cost) AS vendor_unit_cost,
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
           expected_amount, billed_amount, billed_at_expected_price
    FROM judged
),
findings AS (
    SELECT period, client, sku, type,
           CASE WHEN type IN ('unbilled_usage', 'missed_recurring_charge') THEN -expected_amount
                WHEN type IN ('billed_without_usage', 'billed_outside_contract') THEN billed_amount
                ELSE billed_at_expected_price - expected_amount END AS variance
    FROM presence WHERE type IS NOT NULL
    UNION ALL
    SELECT period, client, sku,
           CASE WHEN billed_unit_price < contract_unit_price THEN 'price_below_contract'
                ELSE 'price_above_contract' END AS type,
           billed_amount - amount_of(billed_qty, contract_unit_price) AS variance
    FROM judged WHERE price_beyond_tolerance
)
SELECT period, client, sku, type, variance::BIGINT AS variance
FROM findings
WHERE abs(variance) >= {amount_tolerance}
ORDER BY period, client, sku, type
