-- The floor of `recon run` (issue 25): DuckDB reading the same CSV files and doing the core comparison,
-- usage vs billed vs contract per month, client and sku. No identity resolution (vendor names stay as the
-- vendors wrote them), no validation, no quarantine, no rules past the join, nothing written: the least
-- any tool must do to put the three sources side by side. `bench/run.py` fills in {usage} (a list of
-- the usage files), {invoices} and {contracts}, runs it in a fresh process and times that process.
CREATE TEMP TABLE keys AS
WITH
usage AS (SELECT * FROM read_csv({usage}, union_by_name = true)),
invoices AS (SELECT * FROM read_csv({invoices})),
contracts AS (SELECT * FROM read_csv({contracts})),
months AS (SELECT DISTINCT date_trunc('month', period_start)::DATE AS month_start FROM invoices),
usage_keys AS (
    SELECT strftime(period_start, '%Y-%m') AS period, client, sku, sum(quantity) AS usage_qty,
           sum(quantity * unit_cost) AS vendor_cost
    FROM usage GROUP BY ALL
),
billed_keys AS (
    SELECT strftime(period_start, '%Y-%m') AS period, client, sku, sum(quantity) AS billed_qty,
           sum(amount) AS billed_amount, count(*) AS invoice_lines
    FROM invoices GROUP BY ALL
),
contract_keys AS (
    SELECT strftime(m.month_start, '%Y-%m') AS period, client, sku, sum(quantity) AS contract_qty,
           max(unit_price) AS contract_unit_price
    FROM contracts JOIN months AS m
      ON start_date <= last_day(m.month_start) AND (end_date IS NULL OR end_date >= m.month_start)
    GROUP BY ALL
)
SELECT period, client, sku, u.usage_qty, u.vendor_cost, c.contract_qty, c.contract_unit_price,
       b.billed_qty, b.billed_amount,
       coalesce(u.usage_qty, c.contract_qty, 0) - coalesce(b.billed_qty, 0) AS quantity_gap
FROM usage_keys AS u
FULL OUTER JOIN contract_keys AS c USING (period, client, sku)
FULL OUTER JOIN billed_keys AS b USING (period, client, sku);
