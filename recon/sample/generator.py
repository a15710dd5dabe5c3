"""A realistic sample MSP with an answer key: the demo data set, the test oracle and the benchmark input.

``generate_sample`` builds one managed service provider's books over ``months`` billing periods: PSA
contracts, four vendor usage reports that each spell client names their own way, invoices, time entries,
payments, the product catalog and saved client aliases. It then plants discrepancies of every type of
PRODUCT.md section 4 on distinct (period, client, sku) keys and records each one in ``answer_key`` with
the variance the spec's formula gives. Everything else is clean on purpose, including the edge cases a
careless engine would flag: prorated partial months, prices within tolerance, annual lines, block hours,
one-time projects, DoNotBill lines, cancelled services and vendor names resolved through an alias, and
the realities of PRODUCT.md 4a (anniversary cycles, a seat change's refund and new charge, a cancellation
credit, an annual term, trial seats, a one-time fee, and ConnectWise and Autotask contracts in their own
export shapes with included units, a cancelled agreement, a quarterly agreement, a mid-month unit change). Rows
that must stay unmapped (a typo'd client name, a vendor SKU missing from the catalog) are listed in
``expected_unmapped``.

Everything is vectorised over clients: no Python loop runs over rows, only over the handful of products,
vendors and discrepancy types, so 10,000 clients (about a million invoice lines) take seconds.
Money is held as Int64 units of 1/10,000 (``recon.money``) until the files are written.
"""

from __future__ import annotations

import operator
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import reduce
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from recon.errors import ReconError
from recon.identity import normalise_client_names
from recon.money import CENT, MONEY_SCALE, format_units, from_decimal, money_times_quantity
from recon.schema import LABOR_SKU, field_names

TYPES = (
    "duplicate_charge", "unbilled_usage", "billed_without_usage", "quantity_under_billed",
    "quantity_over_billed", "missed_recurring_charge", "billed_outside_contract",
    "price_below_contract", "price_above_contract", "unbilled_time", "negative_margin",
)
ANSWER_KEY_COLUMNS = ("period", "client", "sku", "type", "variance", "direction", "note")
UNMAPPED_COLUMNS = ("file", "client", "sku", "reason", "rows")
VENDOR_FILES = {
    "Pax8": "usage_pax8.csv", "Microsoft": "usage_microsoft.csv",
    "Datto": "usage_datto.csv", "SentinelOne": "usage_sentinelone.csv",
}
# Realities (PRODUCT.md 4a) in the PSAs' own formats, read by their presets: ConnectWise additions as the
# REST API returns them (flattened), Autotask ContractServiceUnits with the company name.
PSA_EXPORT_FILES = {"contracts_connectwise.csv": "connectwise-additions-api",
                    "contracts_autotask.csv": "autotask-contract-units"}
SOURCE_FILES = {
    "contracts.csv": "contracts", **dict.fromkeys(VENDOR_FILES.values(), "usage"),
    "invoices.csv": "invoices", "time_entries.csv": "time_entries", "payments.csv": "payments",
    "catalog.csv": "catalog", "client_aliases.csv": "client_aliases",
}

# sku, description, list price, unit cost, vendor, vendor skus (";"-separated)
_CATALOG = (
    ("M365-BP", "Microsoft 365 Business Premium", "22.00", "19.80", "Microsoft",
     "MS-OFF-BUS-PREM;CFQ7TTC0LCHC"),
    ("M365-BS", "Microsoft 365 Business Standard", "12.50", "11.25", "Microsoft",
     "MS-OFF-BUS-STD;CFQ7TTC0LDPB"),
    ("EXO-P1", "Exchange Online (Plan 1)", "4.00", "3.60", "Microsoft", "MS-EXO-P1;CFQ7TTC0LH16"),
    ("BACKUP-M365", "Datto SaaS Protection for Microsoft 365 (per user)", "4.00", "2.00", "Datto",
     "DATTO-SAAS-M365"),
    ("BACKUP-SRV", "Datto server backup (per server)", "150.00", "85.00", "Datto", "DATTO-SIRIS-SRV"),
    ("EDR-CORE", "SentinelOne Singularity Core EDR (per endpoint)", "8.00", "4.50", "SentinelOne",
     "S1-CORE"),
    ("MANAGED-WS", "Managed workstation (per device)", "45.00", "4.00", "", ""),
    ("MANAGED-SRV", "Managed server (per server)", "125.00", "8.00", "", ""),
    ("HELPDESK", "Unlimited remote helpdesk (flat monthly)", "750.00", "", "", ""),
    ("BLOCK-HOURS", "Block of 10 support hours (monthly)", "1250.00", "", "", ""),
    (LABOR_SKU, "Professional services (hourly)", "150.00", "", "", ""),
    ("PROJECT", "Project work (one-time)", "", "", "", ""),
    # the realities of PRODUCT.md 4a (``_realities``)
    ("VISIO-P2", "Visio Plan 2", "15.00", "13.50", "Microsoft", "CFQ7TTC0HD33"),
    ("PBI-PRO", "Power BI Pro (annual term)", "14.00", "10.00", "Microsoft", "CFQ7TTC0L3PB"),
    ("TEAMS-PREM", "Teams Premium", "10.00", "", "Microsoft", "CFQ7TTC0RM8K"),
    ("ONBOARD", "Onboarding fee (one-time)", "150.00", "120.00", "Pax8", "PX8-ONBOARD"),
    ("NETWORK-MON", "Network device monitoring (per device)", "12.00", "", "", ""),
    ("SECURITY-TRAINING", "Security awareness training (per user, per quarter)", "9.00", "", "", ""),
    ("29683450", "Workstation backup (Autotask service)", "6.00", "", "", ""),
)
# vendor, vendor sku, PSA sku, vendor product name, vendor unit cost
_VENDOR_SKUS = (
    ("Pax8", "MS-OFF-BUS-PREM", "M365-BP", "Microsoft 365 Business Premium", "19.80"),
    ("Pax8", "MS-OFF-BUS-STD", "M365-BS", "Microsoft 365 Business Standard", "11.25"),
    ("Pax8", "MS-EXO-P1", "EXO-P1", "Exchange Online (Plan 1)", "3.60"),
    ("Microsoft", "CFQ7TTC0LCHC", "M365-BP", "Microsoft 365 Business Premium", "19.80"),
    ("Microsoft", "CFQ7TTC0LDPB", "M365-BS", "Microsoft 365 Business Standard", "11.25"),
    ("Microsoft", "CFQ7TTC0LH16", "EXO-P1", "Exchange Online (Plan 1)", "3.60"),
    ("Datto", "DATTO-SAAS-M365", "BACKUP-M365", "SaaS Protection for Microsoft 365", "2.00"),
    ("Datto", "DATTO-SIRIS-SRV", "BACKUP-SRV", "SIRIS server backup", "85.00"),
    ("SentinelOne", "S1-CORE", "EDR-CORE", "Singularity Core", "4.50"),
)
# Vendors whose rows are consumption (``row_type`` usage); Pax8 and Microsoft rows are the seats a
# subscription holds over the row's dates (``recurring``: rows of one subscription replace one another).
_CONSUMPTION_VENDORS = ("Datto", "SentinelOne")
_UNKNOWN_VENDOR_SKU = "MS-TEAMS-ESS"  # a Pax8 SKU the catalog does not resell: its rows stay unmapped
# vendor sku -> (product name, unit cost in units), including the one the catalog lacks
_VENDOR_PRODUCTS = {
    vendor_sku: (product, from_decimal(Decimal(cost)))
    for _, vendor_sku, _, product, cost in (*_VENDOR_SKUS,
                                            ("Pax8", _UNKNOWN_VENDOR_SKU, "", "Microsoft Teams Essentials", "3.60"))
}

_HAND_NAMES = (
    "Acme Construction LLC", "Bright Coast Dental", "Northwind Traders Inc.",
    "Harbor View Veterinary Clinic", "Summit Ridge Accounting LLC", "Blue Heron Architects",
    "Café Lumière Bistro", "Smith & Sons Plumbing Co.", "The Daily Grind Coffee Roasters",
    "Pinecrest Family Medicine", "Redwood Legal Group LLP", "Granite State Logistics Inc.",
    "Oakridge Property Management", "Lakeside Physical Therapy", "Maple Leaf Insurance Agency",
    "Ironclad Manufacturing Corp.", "Silver Lake Realty", "Evergreen Landscaping LLC",
    "Coastal Breeze Pediatrics", "Keystone Engineering Ltd", "Riverbend Animal Hospital",
    "Cornerstone Community Church", "Golden Gate Travel Agency", "Prairie Wind Energy",
    "Highland Orthodontics", "Metro Auto Repair", "Sunrise Senior Living", "Twin Pines Golf Club",
    "Apex Structural Steel Inc.", "Bluebird Early Learning Center", "Canyon Creek Winery",
    "Driftwood Marine Supply", "Elm Street Pharmacy", "Fairview Chiropractic", "Frontier Title & Escrow",
    "Glacier Peak Outfitters", "Hillside Montessori School", "Juniper Creative Studio",
    "Kingfisher Seafood Co.", "Liberty Tax Advisors", "Meridian Wealth Partners",
    "Nordström Design Group GmbH", "O'Malley & Reyes CPAs", "Patriot Security Services",
    "Quarry Hill Dental Lab", "Rocky Mountain Roofing", "Sapphire Salon & Spa", "Tidewater Freight Lines",
    "Union Square Optometry", "Valley Green Grocers", "Westbrook Family Law", "Yellowstone Imaging Center",
    "Zephyr Aerospace Components", "Brookside Veterinary Partners", "Crescent City Brewing Company",
    "Dunmore Electric Ltd.", "Everett Mills Textile Co.", "Four Seasons Pool & Spa",
    "Greenfield Public Library", "Harmony Home Health", "Island Breeze Resorts", "Jade Garden Restaurant",
)
_NAME_PREFIXES = (
    "Summit", "Harbor", "Cedar", "Granite", "Blue Ridge", "Silver Creek", "Pioneer", "Evergreen",
    "Redwood", "Lakeside", "Maple", "Oak Hill", "Riverside", "Northgate", "Southpoint", "Westfield",
    "Eastwood", "Highland", "Valley", "Prairie", "Coastal", "Mountain View", "Sunset", "Sunrise",
    "Bayside", "Hilltop", "Stonebridge", "Ironwood", "Willow", "Aspen", "Birch", "Cypress", "Magnolia",
    "Sequoia", "Falcon", "Eagle", "Heritage", "Liberty", "Patriot", "Frontier", "Keystone", "Crescent",
    "Horizon", "Meadow", "Brookfield", "Clearwater", "Fox Run", "Golden Oak",
)
_NAME_TRADES = (
    "Dental", "Construction", "Logistics", "Accounting", "Legal", "Veterinary", "Realty", "Insurance",
    "Engineering", "Medical", "Architecture", "Plumbing", "Electric", "Landscaping", "Printing", "Auto",
    "Pharmacy", "Fitness", "Catering", "Marketing", "Roofing", "Flooring", "Optical", "Imaging",
    "Wellness", "Staffing", "Consulting", "Design", "Freight", "Energy",
)
_NAME_KINDS = (
    "Group", "Partners", "Associates", "Services", "Solutions", "Studio", "Center", "Works", "Clinic",
    "Collective", "Holdings", "Labs",
)
_LEGAL_SUFFIXES = ("", " LLC", " Inc.", " Ltd", " Corp.")
_PAX8_SUFFIXES = (", Inc.", " LLC", " Inc", ", LLC", " Corp.", " Ltd.")
_OLD_NAME_SURNAMES = (
    "Hughes", "Ortega", "Kowalski", "Brennan", "Nakamura", "Fitzgerald", "Lindqvist", "Abernathy",
    "Castillo", "Dubois", "Eriksen", "Gallagher", "Haddad", "Iverson", "Jablonski", "Kearney", "Lombardi",
    "Novak", "Petrakis", "Quintero", "Rasmussen", "Sorensen", "Tanaka", "Underwood", "Vasquez",
    "Whitaker", "Yamamoto", "Zielinski",
)
_OLD_NAME_KINDS = ("Associates", "Partners", "Group", "Consulting", "Services", "Enterprises", "Trading")
_LEGAL_PATTERN = (
    r"(?i)[ ,]+(?:inc|incorporated|llc|ltd|limited|gmbh|corp|corporation|co|company|plc|pty|llp|lp)\.?$"
)

_ACCOUNT_MANAGERS = ("Dana Whitfield", "Marcus Chen", "Priya Raman", "Tom Okafor")
_TECHNICIANS = ("Alex Rivera", "Jordan Lee", "Sam Patel", "Chris Novak", "Taylor Brooks", "Morgan Diaz")
_BILLABLE_WORK = ("Remote Support", "Onsite Support", "Project Work")
_INTERNAL_WORK = ("Internal", "Warranty", "Admin")
_HOURS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)
_HOURS_ODDS = (0.12, 0.2, 0.12, 0.2, 0.12, 0.12, 0.07, 0.05)
_BLOCK_ENTRY_HOURS = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0)
_BLOCK_HOURS = 10.0
_BLOCK_RATE = 150 * MONEY_SCALE
_PROJECTS = (
    "Server migration project", "Office move: network cabling", "Firewall replacement",
    "Windows 11 upgrade project", "Wi-Fi survey and installation", "Microsoft 365 tenant migration",
)
_PAYMENT_BEHAVIOURS = ("on_time", "late", "split", "short", "unpaid")
_PAYMENT_ODDS = (0.82, 0.07, 0.05, 0.02, 0.04)
_M365_SKUS = ("M365-BP", "M365-BS")
_SERVICE_SKUS = ("MANAGED-WS", "MANAGED-SRV", "HELPDESK")
_NO_END = 10**9  # "no end date" as a day number far in the future, so `end >= month start` just works
_PAYMENT_TERMS_DAYS = 30


@dataclass(frozen=True)
class SampleMSP:
    """One generated MSP.

    ``files`` maps a file name (``contracts.csv``, ``usage_pax8.csv``, ...) to its frame of text columns,
    exactly as written to CSV (canonical field names of ``recon.schema.SOURCES``, ``""`` for missing).
    ``answer_key`` has ``ANSWER_KEY_COLUMNS`` (one row per planted discrepancy); ``expected_unmapped`` has
    ``UNMAPPED_COLUMNS`` (usage rows an engine must leave unmapped). ``as_of`` is the ISO date the
    receivables are generated for (the day after the last period).
    """

    files: dict[str, pd.DataFrame]
    answer_key: pd.DataFrame
    expected_unmapped: pd.DataFrame
    as_of: str
    readme: str


@dataclass(frozen=True)
class _Context:
    """What every step reads: the periods, the client master and the catalog."""

    periods: pd.DataFrame
    clients: pd.DataFrame
    catalog: pd.DataFrame

    @property
    def months(self) -> int:
        return len(self.periods)

    @property
    def as_of(self) -> int:
        return int(self.periods["end"].iloc[-1]) + 1

    def list_price(self, sku: str) -> int:
        return int(self.catalog.loc[sku, "list_price"])


@dataclass(frozen=True)
class _Books:
    """The MSP's internal records: numeric money (units), day numbers for dates, ids for clients."""

    contracts: pd.DataFrame
    usage: pd.DataFrame
    lines: pd.DataFrame


@dataclass(frozen=True)
class _Edits:
    """What one planting does to the clean books; applied all at once after every key is chosen."""

    drop_lines: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    line_changes: pd.DataFrame | None = None  # index line id; columns quantity, unit_price
    extra_lines: pd.DataFrame | None = None
    drop_usage: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    usage_cost: pd.Series | None = None  # index usage id -> new unit cost
    extra_usage: pd.DataFrame | None = None
    contract_end: pd.Series | None = None  # index contract id -> new end day


@dataclass(frozen=True)
class _Planted:
    answer: pd.DataFrame  # month, client_id, sku, type, variance (units), note
    used: np.ndarray  # bool over the key table: keys this planting took
    edits: _Edits


# ---------------------------------------------------------------------------------------------- API


def generate_sample(
    clients: int = 40,
    months: int = 12,
    seed: int = 7,
    first_period: str = "2025-11",
    discrepancy_rate: float = 0.02,
    usage_sites: int = 1,
) -> SampleMSP:
    """Generate a sample MSP with ``clients`` clients over ``months`` periods from ``first_period``.

    About ``discrepancy_rate`` of all (period, client, sku) keys get a planted discrepancy, split evenly
    over the types, with at least 3 of every type when the books are big enough (40 x 12 always is).
    Deterministic for a given ``seed``. Invoice lines come to about ``clients x months x 7``, usage rows
    to about ``clients x months x 3.5 x usage_sites``: with ``usage_sites`` above 1 the vendors report
    each subscription month per site, in that many rows whose quantities add up to the subscription's
    (the same keys, totals and findings; what a vendor reporting per device or location looks like).
    """
    _check_arguments(clients, months, first_period, discrepancy_rate, usage_sites)
    rng = np.random.default_rng(seed)
    periods = _periods(first_period, months)
    ctx = _Context(periods, _make_clients(clients, periods, rng), _catalog_table())
    subscriptions = _make_subscriptions(ctx, rng)
    usage = _make_usage(subscriptions, ctx, rng)
    contracts = _make_contracts(ctx, subscriptions, rng)
    recurring = _recurring_lines(ctx, contracts, usage, rng)
    entries = _make_time_entries(ctx, rng)
    quota = _quotas(len(recurring) + _labor_key_count(entries), discrepancy_rate)
    entries, time_answer = _plant_unbilled_time(ctx, entries, quota["unbilled_time"], rng)
    lines = pd.concat([recurring, _labor_lines(entries), _project_lines(ctx, rng)], ignore_index=True)
    books, key_answer = _plant_keys(ctx, _Books(contracts, usage, lines), quota, rng)
    names = _vendor_client_names(ctx.clients, rng)
    noise, expected_unmapped = _unmapped_noise(ctx, names, rng)
    realities = _realities(ctx, np.random.default_rng((seed, 4)))  # its own draws: the rest is unchanged
    books = _Books(books.contracts, pd.concat([books.usage, realities.usage], ignore_index=True),
                   pd.concat([books.lines, realities.lines], ignore_index=True))
    invoices, payments = _invoices_and_payments(ctx, books.lines, rng)
    files = _render_files(ctx, books, entries, names, noise, invoices, payments, usage_sites) | realities.files
    answer_key = _render_answer_key(ctx, pd.concat([time_answer, key_answer, realities.answer], ignore_index=True))
    as_of = str(_iso_dates(np.array([ctx.as_of])).iloc[0])
    readme = _readme(files, answer_key, expected_unmapped, _receivables_text(ctx, invoices), ctx, seed, as_of)
    return SampleMSP(files, answer_key, expected_unmapped, as_of, readme)


SAMPLE_FORMATS = ("csv", "parquet")


def write_sample(
    out_dir: Path | str,
    *,
    clients: int = 40,
    months: int = 12,
    seed: int = 7,
    first_period: str = "2025-11",
    discrepancy_rate: float = 0.02,
    usage_sites: int = 1,
    file_format: str = "csv",
) -> SampleMSP:
    """Generate a sample (arguments as ``generate_sample``) and write it to ``out_dir`` (created).

    Writes every source file as UTF-8 CSV (``file_format="parquet"``: as Parquet, the same text cells in
    text columns, as a data lake holds an export), plus ``answer_key.csv``, ``expected_unmapped.csv``
    and a ``README.md`` describing the sample and its planted cases. Returns the sample.
    """
    if file_format not in SAMPLE_FORMATS:
        raise ValueError(f"file_format must be one of {', '.join(SAMPLE_FORMATS)}, not {file_format!r}")
    sample = generate_sample(clients, months, seed, first_period, discrepancy_rate, usage_sites)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in sample.files.items():
        write_table(frame, out_dir / name, file_format)
    for name, frame in {"answer_key.csv": sample.answer_key, "expected_unmapped.csv": sample.expected_unmapped}.items():
        write_table(frame, out_dir / name, "csv")
    (out_dir / "README.md").write_text(sample.readme, encoding="utf-8")
    return sample


def write_table(frame: pd.DataFrame, path: Path, file_format: str = "csv") -> Path:
    """One table of text cells as UTF-8 CSV, or as Parquet (``path`` with a ``.parquet`` suffix, every
    column text); returns the path written."""
    if file_format == "parquet":
        path = path.with_suffix(".parquet")
        table = pa.Table.from_pandas(frame.astype("string"), preserve_index=False)
        pq.write_table(table.cast(pa.schema([(name, pa.string()) for name in table.column_names])), path)
        return path
    frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
    return path


def _check_arguments(clients: int, months: int, first_period: str, discrepancy_rate: float,
                     usage_sites: int) -> None:
    problems = []
    if clients < 1:
        problems.append(f"clients must be at least 1 (got {clients})")
    if months < 1:
        problems.append(f"months must be at least 1 (got {months})")
    if not pd.Series([first_period]).str.fullmatch(r"\d{4}-(0[1-9]|1[0-2])").iloc[0]:
        problems.append(f"first_period must be YYYY-MM (got {first_period!r})")
    if not 0 <= discrepancy_rate <= 0.5:
        problems.append(f"discrepancy_rate must be between 0 and 0.5 (got {discrepancy_rate})")
    if not 1 <= usage_sites <= 100:
        problems.append(f"usage_sites must be between 1 and 100 (got {usage_sites})")
    if problems:
        raise ReconError("; ".join(problems))


# ---------------------------------------------------------------------------------- small helpers


def _periods(first_period: str, months: int) -> pd.DataFrame:
    """One row per billing month: day numbers of its first and last day, its length and labels."""
    month_numbers = np.datetime64(first_period, "M") + np.arange(months)
    start = month_numbers.astype("datetime64[D]")
    end = (month_numbers + 1).astype("datetime64[D]") - np.timedelta64(1, "D")
    label = np.datetime_as_string(month_numbers, unit="M")
    return pd.DataFrame({
        "start": start.astype(np.int64), "end": end.astype(np.int64),
        "days": (end - start).astype(np.int64) + 1, "label": label,
        "compact": np.char.replace(label, "-", ""), "month_number": month_numbers.astype(np.int64),
    })


def _catalog_table() -> pd.DataFrame:
    """The catalog indexed by PSA sku, prices in units (-1 where the catalog has none)."""
    frame = pd.DataFrame(_CATALOG, columns=["sku", "description", "list", "cost", "vendor", "vendor_sku"])
    return frame.set_index("sku").assign(
        list_price=_units(frame["list"].to_numpy()), unit_cost=_units(frame["cost"].to_numpy()),
    )


def _vendor_sku_table() -> pd.DataFrame:
    frame = pd.DataFrame(_VENDOR_SKUS, columns=["vendor", "vendor_sku", "sku", "product_name", "cost"])
    return frame.assign(unit_cost=_units(frame.pop("cost").to_numpy()))


def _units(texts: np.ndarray) -> np.ndarray:
    """Decimal strings of the constant tables to money units; "" becomes -1."""
    return np.array([from_decimal(Decimal(text)) if text else -1 for text in texts], dtype=np.int64)


def _pick(candidates: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``count`` of ``candidates`` in random order (all of them when there are fewer)."""
    return rng.permutation(candidates)[: max(count, 0)]


def _month_of_year(days: np.ndarray) -> np.ndarray:
    return np.asarray(days).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12


def _cents(values: np.ndarray) -> np.ndarray:
    """Float amounts in units (a drawn price or share, never a computed total) to whole cents."""
    return (np.rint(np.asarray(values, dtype=float) / CENT) * CENT).astype(np.int64)


def _amount(quantity: np.ndarray, unit_price: np.ndarray) -> np.ndarray:
    """quantity x unit price in units, rounded half up to cents (``recon.money``)."""
    product = money_times_quantity(pd.Series(quantity, dtype=float), pd.Series(unit_price, dtype="Int64"))
    return product.to_numpy(np.int64)


def _discounted(price: np.ndarray, negotiated: np.ndarray) -> np.ndarray:
    """Negotiated clients pay 5 % below list, rounded to cents."""
    return np.where(negotiated, _cents(np.asarray(price) * 0.95), price)


def _normalise_names(names: pd.Series) -> pd.Series:
    """The engine's comparison key for each name (``recon.identity``), so variants are built against the
    very definition the engine resolves with."""
    return normalise_client_names(names)


def _strip_legal(names: pd.Series) -> pd.Series:
    """The name without its trailing legal form ("Acme Construction LLC" -> "Acme Construction")."""
    return names.str.replace(_LEGAL_PATTERN, "", regex=True).str.replace(_LEGAL_PATTERN, "", regex=True)


def _combine_words(
    count: int, parts: tuple[tuple[str, ...], ...], separators: tuple[str, ...], rng: np.random.Generator,
) -> pd.Series:
    """``count`` distinct names from the cartesian product of word lists; repeats get " 2", " 3", ..."""
    sizes = tuple(len(words) for words in parts)
    combos = int(np.prod(sizes))
    index = np.arange(count)
    picks = np.unravel_index(rng.permutation(combos)[index % combos], sizes)
    text = pd.Series(np.array(parts[0])[picks[0]], dtype="str")
    for words, chosen, separator in zip(parts[1:], picks[1:], separators, strict=True):
        text = text + separator + pd.Series(np.array(words)[chosen], dtype="str")
    rounds = pd.Series((index // combos + 1).astype(str), dtype="str")
    return text.where(rounds == "1", text + " " + rounds)


def _guids(count: int, rng: np.random.Generator) -> np.ndarray:
    """Random version-4-looking GUIDs, built without a Python loop."""
    digits = np.array(list("0123456789abcdef"))[rng.integers(0, 16, size=(count, 32))]
    text = pd.Series(np.ascontiguousarray(digits).view("<U32").ravel(), dtype="str")
    variant = pd.Series(np.array(list("89ab"))[rng.integers(0, 4, count)], dtype="str")
    parts = (text.str[0:8], text.str[8:12], "4" + text.str[13:16], variant + text.str[17:20], text.str[20:32])
    return (parts[0] + "-" + parts[1] + "-" + parts[2] + "-" + parts[3] + "-" + parts[4]).to_numpy()


# ------------------------------------------------------------------------------------- clients


def _client_names(count: int, rng: np.random.Generator) -> pd.Series:
    """Hand-written PSA names first; past those, combined names unique after normalisation."""
    hand = pd.Series(_HAND_NAMES[:count], dtype="str")
    missing = count - len(hand)
    if missing <= 0:
        return hand
    stems = _combine_words(missing + len(_HAND_NAMES), (_NAME_PREFIXES, _NAME_TRADES, _NAME_KINDS),
                           (" ", " "), rng)
    suffix = np.array(_LEGAL_SUFFIXES)[rng.integers(0, len(_LEGAL_SUFFIXES), len(stems))]
    names = stems + pd.Series(suffix, dtype="str")
    normalised = _normalise_names(names)
    fresh = ~normalised.isin(_normalise_names(hand).to_numpy()) & ~normalised.duplicated()
    return pd.concat([hand, names[fresh].iloc[:missing]], ignore_index=True)


def _make_clients(count: int, periods: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The client master: name, account manager, what each client buys and when it was onboarded."""
    months = len(periods)
    seats = np.clip(np.rint(rng.lognormal(2.7, 0.6, count)), 3, 250).astype(np.int64)
    servers = rng.choice(5, size=count, p=[0.3, 0.3, 0.2, 0.12, 0.08])
    onboarding = (rng.random(count) < 0.06) & (months > 1)
    onboard = np.where(onboarding, rng.integers(1, max(months, 2), count), 0)
    starts = periods["start"].to_numpy()
    support = rng.choice(np.array(["helpdesk", "block", "none"]), size=count, p=[0.5, 0.25, 0.25])
    clients = pd.DataFrame({
        "client_id": np.arange(count), "client": _client_names(count, rng),
        "account_manager": np.array(_ACCOUNT_MANAGERS)[rng.integers(0, len(_ACCOUNT_MANAGERS), count)],
        "m365_vendor": np.where(rng.random(count) < 0.62, "Pax8", "Microsoft"),
        "primary_sku": np.where(rng.random(count) < 0.65, "M365-BP", "M365-BS"),
        "seats": seats, "servers": servers,
        "workstations": np.maximum(1, np.rint(seats * rng.uniform(0.7, 1.1, count))).astype(np.int64),
        "exo_seats": np.where(rng.random(count) < 0.2, rng.integers(1, 6, count), 0),
        "has_backup365": rng.random(count) < 0.7,
        "has_backup_srv": (servers > 0) & (rng.random(count) < 0.8),
        "has_edr": rng.random(count) < 0.85, "has_ws": rng.random(count) < 0.92, "support": support,
        "rate": np.where(support == "block", 150, rng.choice([150, 175], count)) * MONEY_SCALE,
        "negotiated": rng.random(count) < 0.2, "onboard_month": onboard,
        "contract_start": np.where(onboarding, starts[onboard], starts[0] - rng.integers(20, 1500, count)),
    })
    return _assign_old_names(_assign_annual_support(clients, periods, rng), rng)


def _assign_annual_support(clients: pd.DataFrame, periods: pd.DataFrame,
                           rng: np.random.Generator) -> pd.DataFrame:
    """A few helpdesk clients pay annually, invoiced in the month of their start date's anniversary."""
    candidates = np.flatnonzero((clients["support"] == "helpdesk") & (clients["onboard_month"] == 0))
    chosen = _pick(candidates, max(2, round(len(clients) * 0.03)), rng)
    anniversary = rng.integers(0, min(12, len(periods)), len(chosen))
    start_month = periods["month_number"].iloc[0] + anniversary - 12 * rng.integers(1, 4, len(chosen))
    support = clients["support"].to_numpy().copy()
    support[chosen] = "annual"
    annual_start = np.full(len(clients), -1, np.int64)
    annual_start[chosen] = start_month.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return clients.assign(support=support, annual_start=annual_start)


def _assign_old_names(clients: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """A few clients still trade under an old name at Datto and SentinelOne (resolved by an alias)."""
    candidates = np.flatnonzero(clients["has_edr"] & (clients["onboard_month"] == 0))
    chosen = np.sort(_pick(candidates, min(max(2, len(clients) // 25), len(clients) // 4), rng))
    old = _combine_words(len(chosen) + len(clients), (_OLD_NAME_SURNAMES, _OLD_NAME_SURNAMES,
                                                       _OLD_NAME_KINDS), (" & ", " "), rng)
    fresh = old[~_normalise_names(old).isin(_normalise_names(clients["client"]).to_numpy())]
    old_name = np.full(len(clients), "", dtype=object)
    old_name[chosen] = fresh.iloc[: len(chosen)].to_numpy()
    return clients.assign(old_name=pd.Series(old_name, dtype="str"), plantable=old_name == "")


def _vendor_client_names(clients: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """How each vendor spells each client: (client_id, vendor, vendor_client).

    Microsoft: the tenant domain; Pax8: legal form swapped, some upper case; Datto: upper case;
    SentinelOne: "The ..." or a "Ltd." site name. All normalise to the PSA name, except old trading
    names (Datto and SentinelOne rows of alias clients), which ``client_aliases.csv`` resolves.
    """
    count = len(clients)
    names = clients["client"]
    stem = _strip_legal(names)
    pax8 = stem + pd.Series(np.array(_PAX8_SUFFIXES)[rng.integers(0, len(_PAX8_SUFFIXES), count)])
    pax8 = pax8.where(rng.random(count) < 0.7, pax8.str.upper())
    starts_with_the = names.str.match(r"(?i)the ")
    sentinel = ("The " + stem).where((rng.random(count) < 0.5) & ~starts_with_the, stem + " Ltd.")
    has_old = clients["old_name"] != ""
    spelled = {
        "Pax8": pax8, "Microsoft": _normalise_names(names) + ".onmicrosoft.com",
        "Datto": names.str.upper().where(~has_old, clients["old_name"]),
        "SentinelOne": sentinel.where(~has_old, clients["old_name"]),
    }
    return pd.concat([
        pd.DataFrame({"client_id": clients["client_id"], "vendor": vendor, "vendor_client": text})
        for vendor, text in spelled.items()
    ], ignore_index=True)


# ------------------------------------------------------------------------------ usage, contracts


def _subscriptions(clients: pd.DataFrame, sku: str | pd.Series, vendor: str | pd.Series,
                   quantity: pd.Series | np.ndarray, *, drift: bool) -> pd.DataFrame:
    """One vendor subscription per client of ``clients``, starting at the client's onboarding."""
    def values(item: str | pd.Series) -> str | np.ndarray:
        return item if isinstance(item, str) else item.to_numpy()

    return pd.DataFrame({
        "client_id": clients["client_id"].to_numpy(), "sku": values(sku), "vendor": values(vendor),
        "base_qty": np.asarray(quantity, dtype=np.int64), "drift": drift,
        "start_month": clients["onboard_month"].to_numpy(), "start_day": 0, "edge": False,
    })


def _partial_subscriptions(ctx: _Context, rng: np.random.Generator) -> pd.DataFrame:
    """Clean edge case: an Exchange add-on that starts mid-month, billed prorated from its first day."""
    clients = ctx.clients
    eligible = ((clients["exo_seats"] == 0) & clients["plantable"]
                & (clients["onboard_month"] <= ctx.months - 2))
    chosen = clients.iloc[np.sort(_pick(np.flatnonzero(eligible), max(2, len(clients) // 50), rng))]
    onboard = chosen["onboard_month"].to_numpy()
    start_month = onboard + 1 + np.floor(rng.random(len(chosen)) * (ctx.months - 1 - onboard))
    frame = _subscriptions(chosen, "EXO-P1", chosen["m365_vendor"], rng.integers(1, 5, len(chosen)),
                           drift=False)
    return frame.assign(start_month=start_month.astype(np.int64),
                        start_day=rng.integers(4, 25, len(chosen)), edge=True)


def _make_subscriptions(ctx: _Context, rng: np.random.Generator) -> pd.DataFrame:
    """Every vendor-tracked subscription: M365 (Pax8 or Microsoft), Exchange, Datto backup, EDR."""
    clients = ctx.clients
    exo, backup = clients[clients["exo_seats"] > 0], clients[clients["has_backup365"]]
    servers, edr = clients[clients["has_backup_srv"]], clients[clients["has_edr"]]
    subscriptions = pd.concat([
        _subscriptions(clients, clients["primary_sku"], clients["m365_vendor"], clients["seats"],
                       drift=True),
        _subscriptions(exo, "EXO-P1", exo["m365_vendor"], exo["exo_seats"], drift=False),
        _subscriptions(backup, "BACKUP-M365", "Datto", backup["seats"], drift=True),
        _subscriptions(servers, "BACKUP-SRV", "Datto", servers["servers"], drift=False),
        _subscriptions(edr, "EDR-CORE", "SentinelOne", edr["workstations"] + edr["servers"], drift=True),
        _partial_subscriptions(ctx, rng),
    ], ignore_index=True)
    subscriptions = subscriptions.merge(_vendor_sku_table(), on=["vendor", "sku"], how="left")
    return subscriptions.assign(sub_id=np.arange(len(subscriptions)),
                                subscription_id=_guids(len(subscriptions), rng))


def _make_usage(subscriptions: pd.DataFrame, ctx: _Context, rng: np.random.Generator) -> pd.DataFrame:
    """Monthly vendor rows; seat counts drift by a seat or two now and then."""
    steps = rng.choice([-1, 0, 1, 2], size=(len(subscriptions), ctx.months), p=[0.06, 0.86, 0.06, 0.02])
    steps[~subscriptions["drift"].to_numpy(bool)] = 0
    quantity = np.maximum(subscriptions["base_qty"].to_numpy()[:, None] + np.cumsum(steps, axis=1), 1)
    return _usage_rows(subscriptions, quantity, ctx.periods)


def _usage_rows(subscriptions: pd.DataFrame, quantity: np.ndarray, periods: pd.DataFrame) -> pd.DataFrame:
    """Expand subscriptions x months (from each start month) into usage rows with prorated ``usage_qty``.

    ``usage_qty`` is the spec's U: ``quantity x covered days / days in month``, numpy-rounded to 4 places.
    """
    position, month = np.nonzero(np.arange(len(periods))[None, :]
                                 >= subscriptions["start_month"].to_numpy()[:, None])
    rows = subscriptions.iloc[position].reset_index(drop=True)
    first = month == rows["start_month"].to_numpy()
    start = periods["start"].to_numpy()[month] + np.where(first, rows["start_day"].to_numpy(), 0)
    end = periods["end"].to_numpy()[month]
    seats = quantity[position, month].astype(float)
    covered = (end - start + 1) / periods["days"].to_numpy()[month]
    return rows[["sub_id", "client_id", "sku", "vendor", "vendor_sku", "product_name", "unit_cost",
                 "subscription_id"]].assign(
        month=month, quantity=seats, period_start=start, period_end=end,
        usage_qty=np.round(seats * covered, 4), partial=start != periods["start"].to_numpy()[month],
    )


def _contract_frame(ctx: _Context, clients: pd.DataFrame, sku: str | np.ndarray,
                    quantity: float | np.ndarray, unit_price: int | np.ndarray,
                    **columns: object) -> pd.DataFrame:
    """Contract lines for ``clients`` with the usual defaults (monthly, billable, open-ended)."""
    count = len(clients)
    frame = pd.DataFrame({
        "client_id": clients["client_id"].to_numpy(), "sku": np.broadcast_to(sku, count),
        "quantity": np.broadcast_to(np.asarray(quantity, dtype=float), count),
        "unit_price": np.broadcast_to(np.asarray(unit_price, dtype=np.int64), count),
        "start": clients["contract_start"].to_numpy(), "end": _NO_END, "frequency": "monthly",
        "billable": True, "included_hours": np.nan, "hourly_rate": -1, "sub_id": -1, "edge": False,
    })
    description = ctx.catalog["description"].reindex(frame["sku"]).to_numpy()
    return frame.assign(**{"description": description, **columns})


def _vendor_contract_lines(ctx: _Context, subscriptions: pd.DataFrame,
                           rng: np.random.Generator) -> pd.DataFrame:
    """A contract line per subscription; M365 lines often carry a (stale) seat count, others don't."""
    clients = ctx.clients.iloc[subscriptions["client_id"].to_numpy()]
    sku = subscriptions["sku"].to_numpy()
    list_price = ctx.catalog["list_price"].reindex(sku).to_numpy()
    counted = (sku == "BACKUP-SRV") | (np.isin(sku, _M365_SKUS) & (rng.random(len(sku)) < 0.5))
    partial_start = (ctx.periods["start"].to_numpy()[subscriptions["start_month"].to_numpy()]
                     + subscriptions["start_day"].to_numpy())
    return _contract_frame(
        ctx, clients, sku, np.where(counted, subscriptions["base_qty"], np.nan),
        _discounted(list_price, clients["negotiated"].to_numpy()),
        start=np.where(subscriptions["edge"], partial_start, clients["contract_start"].to_numpy()),
        sub_id=subscriptions["sub_id"].to_numpy(), edge=subscriptions["edge"].to_numpy(),
    )


def _service_contract_lines(ctx: _Context, rng: np.random.Generator) -> list[pd.DataFrame]:
    """Non-vendor lines: managed devices, helpdesk (monthly or annual), blocks of hours, DoNotBill."""
    clients = ctx.clients

    def price(sku: str, subset: pd.DataFrame, list_price: int | None = None) -> np.ndarray:
        base = ctx.list_price(sku) if list_price is None else list_price
        return _discounted(np.full(len(subset), base), subset["negotiated"].to_numpy())

    ws, srv = clients[clients["has_ws"]], clients[clients["servers"] > 0]
    desk, block = clients[clients["support"] == "helpdesk"], clients[clients["support"] == "block"]
    annual = clients[clients["support"] == "annual"]
    return [
        _contract_frame(ctx, ws, "MANAGED-WS", ws["workstations"].to_numpy(), price("MANAGED-WS", ws)),
        _with_clean_cancellations(
            _contract_frame(ctx, srv, "MANAGED-SRV", srv["servers"].to_numpy(), price("MANAGED-SRV", srv)),
            ctx, rng),
        _contract_frame(ctx, desk, "HELPDESK", 1.0, price("HELPDESK", desk)),
        _contract_frame(ctx, annual, "HELPDESK", 1.0,
                        price("HELPDESK", annual, ctx.list_price("HELPDESK") * 108 // 10),
                        start=annual["annual_start"].to_numpy(), frequency="annual", edge=True,
                        description="Unlimited remote helpdesk (billed annually)"),
        _contract_frame(ctx, block, "BLOCK-HOURS", 1.0, ctx.list_price("BLOCK-HOURS"),
                        included_hours=_BLOCK_HOURS, hourly_rate=_BLOCK_RATE),
        _do_not_bill_lines(ctx, rng),
    ]


def _with_clean_cancellations(lines: pd.DataFrame, ctx: _Context, rng: np.random.Generator) -> pd.DataFrame:
    """Clean edge case: a few managed-server lines end mid-window and are no longer invoiced after."""
    if ctx.months < 3:
        return lines
    onboarded = ctx.clients["onboard_month"].to_numpy()[lines["client_id"].to_numpy()] == 0
    chosen = _pick(np.flatnonzero(onboarded), max(1, len(ctx.clients) // 40), rng)
    end = lines["end"].to_numpy().copy()
    end[chosen] = ctx.periods["start"].to_numpy()[rng.integers(2, ctx.months, len(chosen))] - 1
    return lines.assign(end=end)


def _do_not_bill_lines(ctx: _Context, rng: np.random.Generator) -> pd.DataFrame:
    """Clean edge case: courtesy monitoring on a contract, marked DoNotBill (never expected revenue)."""
    clients = ctx.clients
    chosen = np.sort(_pick(np.flatnonzero(clients["servers"] == 0), max(2, len(clients) // 50), rng))
    return _contract_frame(ctx, clients.iloc[chosen], "MANAGED-SRV", 1.0, ctx.list_price("MANAGED-SRV"),
                           billable=False, description="Courtesy server monitoring (DoNotBill)")


def _make_contracts(ctx: _Context, subscriptions: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """All contract lines, one agreement per client, numbered by ``contract_id``."""
    contracts = pd.concat([_vendor_contract_lines(ctx, subscriptions, rng),
                           *_service_contract_lines(ctx, rng)], ignore_index=True)
    contracts = contracts.sort_values("client_id", kind="stable", ignore_index=True)
    return contracts.assign(contract_id=np.arange(len(contracts)))


# ---------------------------------------------------------------------------------- invoice lines


_LINE_COLUMNS = ("client_id", "month", "sku", "quantity", "unit_price", "amount", "description", "kind",
                 "contract_id", "sub_id", "frequency", "edge")


def _active_months(ctx: _Context, contracts: pd.DataFrame) -> np.ndarray:
    """Bool (contract line x month): billable, active in the month, and due (annual: anniversary only)."""
    periods = ctx.periods
    start, end = contracts["start"].to_numpy()[:, None], contracts["end"].to_numpy()[:, None]
    annual = (contracts["frequency"] == "annual").to_numpy()[:, None]
    anniversary = _month_of_year(contracts["start"].to_numpy())[:, None] == _month_of_year(
        periods["start"].to_numpy())[None, :]
    active = (start <= periods["end"].to_numpy()[None, :]) & (end >= periods["start"].to_numpy()[None, :])
    return active & contracts["billable"].to_numpy(bool)[:, None] & (~annual | anniversary)


def _recurring_lines(ctx: _Context, contracts: pd.DataFrame, usage: pd.DataFrame,
                     rng: np.random.Generator) -> pd.DataFrame:
    """Clean recurring invoice lines: vendor SKUs bill the usage (2 decimals), others the contract."""
    position, month = np.nonzero(_active_months(ctx, contracts))
    lines = contracts.iloc[position].reset_index(drop=True).assign(month=month)
    lines = lines.merge(usage[["sub_id", "month", "usage_qty"]], on=["sub_id", "month"], how="left")
    tracked = lines["sub_id"].to_numpy() >= 0
    lines = lines[~tracked | lines["usage_qty"].notna()].reset_index(drop=True)
    tracked = lines["sub_id"].to_numpy() >= 0
    quantity = np.where(tracked, np.round(lines["usage_qty"].to_numpy(), 2), lines["quantity"].to_numpy())
    lines = lines.assign(quantity=quantity, kind="recurring")
    lines = _with_price_edges(lines, rng)
    amount = _amount(lines["quantity"].to_numpy(), lines["unit_price"].to_numpy())
    return lines.assign(amount=amount)[list(_LINE_COLUMNS)]


def _with_price_edges(lines: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Clean edge case: a few lines billed about 0.3 % under the contract price (inside tolerance)."""
    unit_price = lines["unit_price"].to_numpy().copy()
    eligible = (unit_price >= 10 * MONEY_SCALE) & ~lines["edge"].to_numpy(bool) & (
        lines["frequency"] == "monthly").to_numpy()
    chosen = _pick(np.flatnonzero(eligible), max(2, len(lines) // 300), rng)
    unit_price[chosen] -= unit_price[chosen] * 3 // 1000 // CENT * CENT
    edge = lines["edge"].to_numpy(bool).copy()
    edge[chosen] = True
    return lines.assign(unit_price=unit_price, edge=edge)


def _line_frame(frame: pd.DataFrame, sku: str, kind: str, description: str | np.ndarray) -> pd.DataFrame:
    """Invoice lines of ``frame`` (client_id, month, quantity, unit_price) outside any contract."""
    return frame.assign(
        sku=sku, kind=kind, description=description, contract_id=-1, sub_id=-1, frequency="",
        edge=False, amount=_amount(frame["quantity"].to_numpy(), frame["unit_price"].to_numpy()),
    )[list(_LINE_COLUMNS)]


def _labor_lines(entries: pd.DataFrame) -> pd.DataFrame:
    """One LABOR line per client-month: the invoiced billable hours at the client's rate."""
    billed = entries[entries["invoiced"]].groupby(["client_id", "month"], as_index=False).agg(
        quantity=("hours", "sum"), unit_price=("rate", "first"))
    return _line_frame(billed, LABOR_SKU, "labor", "Professional services (billable time)")


def _project_lines(ctx: _Context, rng: np.random.Generator) -> pd.DataFrame:
    """Clean edge case: one-time project charges, on no contract and tracked by no vendor."""
    clients = ctx.clients
    chosen = clients.iloc[np.sort(_pick(np.arange(len(clients)), max(2, len(clients) // 15), rng))]
    onboard = chosen["onboard_month"].to_numpy()
    count = len(chosen)
    projects = pd.DataFrame({
        "client_id": chosen["client_id"].to_numpy(),
        "month": onboard + np.floor(rng.random(count) * (ctx.months - onboard)).astype(np.int64),
        "quantity": 1.0, "unit_price": rng.integers(30, 181, count) * 50 * MONEY_SCALE,
    })
    description = np.array(_PROJECTS)[rng.integers(0, len(_PROJECTS), count)]
    return _line_frame(projects, "PROJECT", "project", description)


# ---------------------------------------------------------------------------------- time entries


def _weekday_dates(periods: pd.DataFrame, month: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random working days (day numbers) inside each given month."""
    start = periods["start"].to_numpy()[month]
    date = start + np.floor(rng.random(len(month)) * periods["days"].to_numpy()[month]).astype(np.int64)
    weekday = (date + 3) % 7  # 1970-01-01, day 0, was a Thursday; Monday is 0
    to_friday = date - np.select([weekday == 5, weekday == 6], [1, 2], 0)
    to_monday = date + np.select([weekday == 5, weekday == 6], [2, 1], 0)
    return np.where(to_friday < start, to_monday, to_friday)


def _make_time_entries(ctx: _Context, rng: np.random.Generator) -> pd.DataFrame:
    """A few time entries per client-month, sorted by date, each marked invoiced or not.

    Block clients' billable hours within the block's 10 included hours are not invoiced (the block
    covers them); every other billable entry is. Non-billable entries never are.
    """
    clients = ctx.clients
    client_pos, month = np.nonzero(np.arange(ctx.months)[None, :]
                                   >= clients["onboard_month"].to_numpy()[:, None])
    block = (clients["support"].to_numpy() == "block")[client_pos]
    group = np.repeat(np.arange(len(block)), np.where(block, rng.integers(4, 10, len(block)),
                                                      rng.integers(1, 6, len(block))))
    count, in_block = len(group), block[group]
    hours = np.where(in_block, rng.choice(_BLOCK_ENTRY_HOURS, count), rng.choice(_HOURS, count, p=_HOURS_ODDS))
    billable = rng.random(count) < np.where(in_block, 0.9, 0.75)
    entries = pd.DataFrame({
        "group": group, "client_id": client_pos[group], "month": month[group],
        "date": _weekday_dates(ctx.periods, month[group], rng), "hours": hours, "billable": billable,
        "rate": clients["rate"].to_numpy()[client_pos[group]], "included": np.where(in_block, _BLOCK_HOURS, 0.0),
        "technician": np.array(_TECHNICIANS)[rng.integers(0, len(_TECHNICIANS), count)],
        "work_type": np.where(billable, np.array(_BILLABLE_WORK)[rng.integers(0, 3, count)],
                              np.array(_INTERNAL_WORK)[rng.integers(0, 3, count)]),
        "ticket": 20000 + rng.integers(0, 80000, count),
    }).sort_values(["group", "date"], kind="stable", ignore_index=True)
    cumulative = entries["hours"].where(entries["billable"], 0.0).groupby(entries["group"]).cumsum()
    covered = entries["billable"] & (entries["included"] > 0) & (cumulative <= entries["included"])
    return entries.assign(invoiced=entries["billable"] & ~covered)


def _labor_key_count(entries: pd.DataFrame) -> int:
    return int(entries.loc[entries["invoiced"], ["client_id", "month"]].drop_duplicates().shape[0])


# ------------------------------------------------------------------------------------- planting


def _quotas(key_count: int, rate: float) -> dict[str, int]:
    """Cases to plant per type: ``rate`` of all keys split evenly, never fewer than 3."""
    per_type = max(3, round(rate * key_count / len(TYPES)))
    return dict.fromkeys(TYPES, per_type)


def _answer(rows: pd.DataFrame, kind: str, variance: np.ndarray, note: pd.Series | np.ndarray) -> pd.DataFrame:
    """Answer-key rows (internal form: ids, month index, variance in units)."""
    return pd.DataFrame({
        "month": rows["month"].to_numpy(), "client_id": rows["client_id"].to_numpy(),
        "sku": rows["sku"].to_numpy(), "type": kind, "variance": np.asarray(variance, dtype=np.int64),
        "note": pd.Series(note, dtype="str").to_numpy(),
    })


def _join(*parts: str | pd.Series | np.ndarray) -> pd.Series:
    """Concatenate text parts element by element, by position (indexes are ignored)."""
    pieces = [part if isinstance(part, str) else pd.Series(np.asarray(part), dtype="str") for part in parts]
    return reduce(operator.add, pieces)


def _lookup(table: pd.Series | np.ndarray | tuple[str, ...], codes: np.ndarray) -> pd.Series:
    """The text column ``table[codes]``: one Arrow take from a small table, fast for millions of rows."""
    text = pa.array(np.asarray(table, dtype=object), type=pa.large_string())
    return pd.Series(text.take(pa.array(np.asarray(codes, dtype=np.int64))), dtype="str")


def _by_value(values: np.ndarray, render: Callable[[np.ndarray], pd.Series | np.ndarray]) -> pd.Series:
    """Render each distinct value once and spread it: text columns repeat few distinct values."""
    codes, distinct = pd.factorize(np.asarray(values), use_na_sentinel=False)
    return _lookup(render(np.asarray(distinct)), codes)


def _money_text(units: np.ndarray | pd.Series | list[int]) -> pd.Series:
    """Money units as plain decimals with two places ("1234.50"), through ``recon.money.format_units``."""
    return _by_value(np.asarray(units, dtype=np.int64),
                     lambda distinct: format_units(pd.Series(distinct, dtype="Int64"), 2))


def _quantity_text(values: np.ndarray | pd.Series) -> pd.Series:
    """Quantities as short decimal text: "27", "12.5", "7.0968"; NaN becomes ""."""
    return _by_value(np.asarray(values, dtype=float), _format_quantities)


def _format_quantities(values: np.ndarray) -> pd.Series:
    scaled = np.rint(np.nan_to_num(values) * 10_000).astype(np.int64)
    whole, fraction = np.divmod(scaled, 10_000)
    whole_text = pd.Series(whole).astype("str")
    fraction_text = pd.Series(fraction).astype("str").str.zfill(4).str.rstrip("0")
    text = whole_text.where(fraction_text == "", whole_text + "." + fraction_text)
    return text.where(~np.isnan(values), "")


def _iso_dates(days: np.ndarray | pd.Series) -> pd.Series:
    """Day numbers as ISO dates; the open-ended sentinel becomes ""."""
    def render(distinct: np.ndarray) -> np.ndarray:
        text = np.datetime_as_string(np.where(distinct == _NO_END, 0, distinct).astype("datetime64[D]"))
        return np.where(distinct == _NO_END, "", text)

    return _by_value(np.asarray(days, dtype=np.int64), render)


def _flags(values: np.ndarray | pd.Series) -> pd.Series:
    return _lookup(("false", "true"), np.asarray(values, dtype=np.int64))


def _constant(text: str, count: int) -> pd.Series:
    return _lookup((text,), np.zeros(count, dtype=np.int64))


def _plant_unbilled_time(ctx: _Context, entries: pd.DataFrame, count: int,
                         rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Leave the first invoiced billable entry of some client-months off the invoice.

    For a block client that entry is the one that crossed the block's 10 hours, so the uninvoiced
    hours exceed the block. Variance: ``-(uninvoiced billable hours - included hours) x rate``.
    """
    plantable = ctx.clients["plantable"].to_numpy()[entries["client_id"].to_numpy()]
    first = entries[entries["invoiced"] & plantable].drop_duplicates(["client_id", "month"])
    chosen = first.iloc[np.sort(_pick(np.arange(len(first)), count, rng))]
    entries = entries.assign(invoiced=entries["invoiced"] & ~entries.index.isin(chosen.index))
    unbilled = entries[entries["billable"] & ~entries["invoiced"]].groupby(["client_id", "month"])["hours"].sum()
    uninvoiced = unbilled.reindex(pd.MultiIndex.from_frame(chosen[["client_id", "month"]])).to_numpy()
    hours = uninvoiced - chosen["included"].to_numpy()
    beyond = np.where(chosen["included"].to_numpy() > 0, " beyond the 10-hour block", "")
    note = _join(_quantity_text(hours), " billable hours not invoiced", beyond)
    answer = _answer(chosen.assign(sku=LABOR_SKU), "unbilled_time",
                     -_amount(hours, chosen["rate"].to_numpy()), note)
    return entries, answer


def _key_table(ctx: _Context, books: _Books) -> pd.DataFrame:
    """One row per clean recurring key (period, client, sku) with its contract and usage facts."""
    keys = books.lines[books.lines["kind"] == "recurring"].rename_axis("line_id").reset_index()
    contract = books.contracts.set_index("contract_id")[["quantity", "unit_price", "end", "edge"]]
    keys = keys.join(contract.rename(columns={"quantity": "contract_qty", "unit_price": "contract_price",
                                              "end": "contract_end", "edge": "contract_edge"}),
                     on="contract_id")
    usage = books.usage.rename_axis("usage_id").reset_index()[
        ["usage_id", "sub_id", "month", "usage_qty", "unit_cost", "vendor", "vendor_sku", "partial"]]
    keys = keys.merge(usage, on=["sub_id", "month"], how="left")
    months_of_usage = books.usage.groupby("sub_id").size()
    plantable = (ctx.clients["plantable"].to_numpy()[keys["client_id"].to_numpy()]
                 & ~keys["edge"].to_numpy(bool) & ~keys["contract_edge"].to_numpy(bool)
                 & ~keys["partial"].fillna(False).to_numpy(bool))
    return keys.assign(
        usage_id=keys["usage_id"].fillna(-1).astype(np.int64), vendor=keys["vendor"].fillna(""),
        tracked=keys["sub_id"].to_numpy() >= 0, plantable=plantable,
        usage_months=keys["sub_id"].map(months_of_usage).fillna(0).astype(np.int64),
    )


def _choose(keys: pd.DataFrame, eligible: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``count`` random positions among ``eligible`` keys, at most one per contract line."""
    candidates = np.flatnonzero(eligible)
    # Draw a few times what is needed rather than shuffling every candidate; a short draw (many keys
    # of few lines) falls back to shuffling all of them.
    for size in (min(len(candidates), 4 * count + 20), len(candidates)):
        drawn = candidates[rng.choice(len(candidates), size, replace=False)]
        _, first = np.unique(keys["contract_id"].to_numpy()[drawn], return_index=True)
        picked = drawn[np.sort(first)][: max(count, 0)]
        if len(picked) >= count:
            break
    return picked


def _used(keys: pd.DataFrame, positions: np.ndarray) -> np.ndarray:
    used = np.zeros(len(keys), dtype=bool)
    used[positions] = True
    return used


def _changes(rows: pd.DataFrame, quantity: np.ndarray | pd.Series, unit_price: np.ndarray | pd.Series,
             ) -> pd.DataFrame:
    return pd.DataFrame({"quantity": np.asarray(quantity, dtype=float),
                         "unit_price": np.asarray(unit_price, dtype=np.int64)}, index=rows["line_id"].to_numpy())


def _plant_billed_outside_contract(ctx: _Context, keys: pd.DataFrame, available: np.ndarray,
                                   quota: dict[str, int], rng: np.random.Generator) -> _Planted:
    """End a service line's contract 1-3 months before the window ends but keep billing it: ``+A``."""
    eligible = (available & keys["plantable"] & ~keys["tracked"] & keys["sku"].isin(_SERVICE_SKUS)
                & (keys["contract_end"] == _NO_END))
    # Every month of the line must be free: a later month left clean would be billed outside too.
    whole_line = eligible.groupby(keys["contract_id"]).transform("all")
    pairs = keys[eligible & whole_line].groupby("contract_id")["month"].min()
    pairs = pairs.iloc[rng.permutation(len(pairs))]
    end_month = ctx.months - rng.integers(1, 4, len(pairs))
    keep = (pairs.to_numpy() < end_month) & (end_month >= 1)
    pairs, end_month = pairs[keep], end_month[keep]
    cases = ctx.months - end_month
    take = (np.cumsum(cases) - cases) < quota["billed_outside_contract"]
    end_month = pd.Series(end_month[take], index=pairs.index[take])
    used = (eligible & (keys["month"] >= keys["contract_id"].map(end_month))).to_numpy(bool)
    end_day = pd.Series(ctx.periods["start"].to_numpy()[end_month.to_numpy()] - 1, index=end_month.index)
    rows = keys[used]
    note = _join("contract ended ", _iso_dates(rows["contract_id"].map(end_day)),
                 ", still billed ", _quantity_text(rows["quantity"]), " x ", _money_text(rows["unit_price"]))
    return _Planted(_answer(rows, "billed_outside_contract", rows["amount"].to_numpy(), note), used,
                    _Edits(contract_end=end_day))


def _below_price(contract_price: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Last year's price: 4-10 % below the contract price, whole cents."""
    return _cents(contract_price * rng.uniform(0.90, 0.96, len(contract_price)))


def _above_cost(keys: pd.DataFrame, price: np.ndarray) -> np.ndarray:
    """Billing at ``price`` keeps a positive margin over the vendor cost (where a cost is known)."""
    cost = keys["unit_cost"].to_numpy(dtype=float, na_value=np.nan)
    return np.isnan(cost) | (price > cost + CENT)


def _plant_combination(ctx: _Context, keys: pd.DataFrame, available: np.ndarray,
                       quota: dict[str, int], rng: np.random.Generator) -> _Planted:
    """"Billed 24 at last year's price while the vendor says 27": quantity under plus price below."""
    last_year = _below_price(keys["contract_price"].to_numpy(), rng)
    eligible = (available & keys["plantable"] & keys["tracked"] & keys["sku"].isin(_M365_SKUS)
                & (keys["usage_id"] >= 0) & (keys["usage_qty"] >= 4) & _above_cost(keys, last_year))
    picked = _choose(keys, eligible.to_numpy(bool), 1, rng)
    rows = keys.iloc[picked]
    usage, price = rows["usage_qty"].to_numpy(), rows["contract_price"].to_numpy()
    billed = usage - 3
    amount = _amount(billed, last_year[picked])
    note = _join("billed ", _quantity_text(billed), " at last year's price ", _money_text(last_year[picked]),
                 "; ", rows["vendor"], " says ", _quantity_text(usage), ", contract ", _money_text(price))
    answer = pd.concat([
        _answer(rows, "quantity_under_billed", -_amount(usage - billed, price), note),
        _answer(rows, "price_below_contract", amount - _amount(billed, price), note),
    ], ignore_index=True)
    return _Planted(answer, _used(keys, picked), _Edits(line_changes=_changes(rows, billed, last_year[picked])))


def _plant_new_subscriptions(ctx: _Context, keys: pd.DataFrame, available: np.ndarray,
                             quota: dict[str, int], rng: np.random.Generator) -> _Planted:
    """A Datto SaaS subscription started on the 16th with no contract and never billed: each month
    ``-U x list price`` (no contract, no billed price: P is the catalog list price)."""
    clients = ctx.clients
    last_start = max(ctx.months - 2, 0)
    eligible = clients["plantable"] & ~clients["has_backup365"] & (clients["onboard_month"] <= last_start)
    chosen = clients.iloc[np.sort(_pick(np.flatnonzero(eligible), max(1, quota["unbilled_usage"] // 6), rng))]
    start_month = np.maximum(ctx.months - rng.integers(2, 4, len(chosen)), 0)
    subscriptions = _subscriptions(chosen, "BACKUP-M365", "Datto", chosen["seats"], drift=False).assign(
        start_month=start_month, start_day=15, edge=True)
    subscriptions = subscriptions.merge(_vendor_sku_table(), on=["vendor", "sku"], how="left").assign(
        sub_id=10**9 + chosen["client_id"].to_numpy(), subscription_id=_guids(len(chosen), rng))
    seats = np.repeat(chosen["seats"].to_numpy()[:, None], ctx.months, axis=1)
    usage = _usage_rows(subscriptions, seats, ctx.periods)
    list_price = ctx.list_price("BACKUP-M365")
    start_text = _iso_dates(usage.groupby("sub_id")["period_start"].transform("min").to_numpy())
    note = _join("new Datto subscription since ", start_text, " (usage ", _quantity_text(usage["usage_qty"]),
                 "): no contract, not invoiced; list price ", _money_text([list_price]).iloc[0])
    variance = -_amount(usage["usage_qty"].to_numpy(), np.full(len(usage), list_price))
    return _Planted(_answer(usage, "unbilled_usage", variance, note), np.zeros(len(keys), bool),
                    _Edits(extra_usage=usage))


def _plant_unbilled_usage(ctx: _Context, keys: pd.DataFrame, available: np.ndarray,
                          quota: dict[str, int], rng: np.random.Generator) -> _Planted:
    """Remove the invoice line of a vendor-tracked key: ``-U x Pc``."""
    eligible = available & keys["plantable"] & keys["tracked"] & (keys["usage_id"] >= 0)
    picked = _choose(keys, eligible.to_numpy(bool), quota["unbilled_usage"], rng)
    rows = keys.iloc[picked]
    note = _join(rows["vendor"], " reports ", _quantity_text(rows["usage_qty"]), " x ", rows["vendor_sku"],
                 "; not invoiced (contract price ", _money_text(rows["contract_price"]), ")")
    variance = -_amount(rows["usage_qty"].to_numpy(), rows["contract_price"].to_numpy())
    return _Planted(_answer(rows, "unbilled_usage", variance, note), _used(keys, picked),
                    _Edits(drop_lines=rows["line_id"].to_numpy()))


def _plant_billed_without_usage(ctx: _Context, keys: pd.DataFrame, available: np.ndarray,
                                quota: dict[str, int], rng: np.random.Generator) -> _Planted:
    """Remove one month's vendor row (cancelled) but keep billing it: ``+A``. Only consumption vendors
    (Datto, SentinelOne: ``row_type`` usage): a missing month inside a Pax8 or Microsoft subscription's
    life would carry its neighbours' seats (PRODUCT.md 4a)."""
    eligible = (available & keys["plantable"] & keys["tracked"] & (keys["usage_id"] >= 0)
                & (keys["usage_months"] >= 2) & keys["vendor"].isin(_CONSUMPTION_VENDORS))
    picked = _choose(keys, eligible.to_numpy(bool), quota["billed_without_usage"], rng)
    rows = keys.iloc[picked]
    note = _join("billed ", _quantity_text(rows["quantity"]), " x ", _money_text(rows["unit_price"]),
                 "; no ", rows["vendor"], " usage this month (cancelled)")
    return _Planted(_answer(rows, "billed_without_usage", rows["amount"].to_numpy(), note),
                    _used(keys, picked), _Edits(drop_usage=rows["usage_id"].to_numpy()))


def _plant_quantity(kind: str, sign: int, keys: pd.DataFrame, available: np.ndarray,
                    count: int, rng: np.random.Generator) -> _Planted:
    """Bill 1-3 units fewer (``sign`` -1) or more (+1) than expected; a third on MANAGED-WS (E = C)."""
    minimum = 2 if sign < 0 else 1
    base = available & keys["plantable"]
    vendor_ok = base & keys["tracked"] & (keys["usage_id"] >= 0) & (keys["usage_qty"] >= minimum)
    device_ok = base & (keys["sku"] == "MANAGED-WS") & (keys["contract_qty"] >= minimum)
    devices = _choose(keys, device_ok.to_numpy(bool), max(1, count // 3), rng)
    vendor = _choose(keys, vendor_ok.to_numpy(bool) & ~_used(keys, devices), count - len(devices), rng)
    picked = np.concatenate([devices, vendor])
    rows = keys.iloc[picked]
    expected = np.where(rows["tracked"], rows["usage_qty"], rows["contract_qty"])
    step = rng.integers(1, 4, len(rows))
    step = np.minimum(step, expected - 1) if sign < 0 else step
    billed = expected + sign * step
    basis = np.where(rows["tracked"], _join(rows["vendor"], " usage "), "contract ")
    note = _join("billed ", _quantity_text(billed), ", ", basis, _quantity_text(expected))
    variance = sign * _amount(step, rows["contract_price"].to_numpy())
    return _Planted(_answer(rows, kind, variance, note), _used(keys, picked),
                    _Edits(line_changes=_changes(rows, billed, rows["unit_price"])))


def _plant_quantity_under(ctx: _Context, keys: pd.DataFrame, available: np.ndarray,
                          quota: dict[str, int], rng: np.random.Generator) -> _Planted:
    """``0 < B < E``: ``-(E - B) x Pc``."""
    return _plant_quantity("quantity_under_billed", -1, keys, available, quota["quantity_under_billed"], rng)


def _plant_quantity_over(ctx: _Context, keys: pd.DataFrame, available: np.ndarray,
                         quota: dict[str, int], rng: np.random.Generator) -> _Planted:
    """``B > E > 0``: ``+(B - E) x Pc``."""
    return _plant_quantity("quantity_over_billed", 1, keys, available, quota["quantity_over_billed"], rng)


def _plant_missed_recurring(ctx: _Context, keys: pd.DataFrame, available: np.ndarray,
                            quota: dict[str, int], rng: np.random.Generator) -> _Planted:
    """Remove the invoice line of an active service contract: ``-C x Pc``."""
    eligible = available & keys["plantable"] & ~keys["tracked"] & keys["sku"].isin(_SERVICE_SKUS)
    picked = _choose(keys, eligible.to_numpy(bool), quota["missed_recurring_charge"], rng)
    rows = keys.iloc[picked]
    note = _join("contract ", _quantity_text(rows["contract_qty"]), " x ", _money_text(rows["contract_price"]),
                 " not invoiced")
    variance = -_amount(rows["contract_qty"].to_numpy(), rows["contract_price"].to_numpy())
    return _Planted(_answer(rows, "missed_recurring_charge", variance, note), _used(keys, picked),
                    _Edits(drop_lines=rows["line_id"].to_numpy()))


def _plant_price(kind: str, billed_price: np.ndarray, keys: pd.DataFrame, available: np.ndarray,
                 count: int, rng: np.random.Generator) -> _Planted:
    """Bill a key at ``billed_price`` instead of the contract price: ``A - B x Pc``."""
    contract_price = keys["contract_price"].to_numpy()
    tolerance = np.maximum(contract_price * 0.005, CENT)
    eligible = (available & keys["plantable"] & (np.abs(billed_price - contract_price) > 2 * tolerance)
                & _above_cost(keys, billed_price))
    picked = _choose(keys, eligible.to_numpy(bool), count, rng)
    rows, price = keys.iloc[picked], billed_price[picked]
    quantity = rows["quantity"].to_numpy()
    note = _join("billed at ", _money_text(price), ", contract ", _money_text(rows["contract_price"]))
    variance = _amount(quantity, price) - _amount(quantity, rows["contract_price"].to_numpy())
    return _Planted(_answer(rows, kind, variance, note), _used(keys, picked),
                    _Edits(line_changes=_changes(rows, quantity, price)))


def _plant_price_below(ctx: _Context, keys: pd.DataFrame, available: np.ndarray,
                       quota: dict[str, int], rng: np.random.Generator) -> _Planted:
    """Last year's price (4-10 % below the contract), still above the vendor cost."""
    price = _below_price(keys["contract_price"].to_numpy(), rng)
    return _plant_price("price_below_contract", price, keys, available, quota["price_below_contract"], rng)


def _plant_price_above(ctx: _Context, keys: pd.DataFrame, available: np.ndarray,
                       quota: dict[str, int], rng: np.random.Generator) -> _Planted:
    """A list-price or mistyped rate 3-10 % above the contract price."""
    price = _cents(keys["contract_price"].to_numpy() * rng.uniform(1.03, 1.10, len(keys)))
    return _plant_price("price_above_contract", price, keys, available, quota["price_above_contract"], rng)


def _plant_negative_margin(ctx: _Context, keys: pd.DataFrame, available: np.ndarray,
                           quota: dict[str, int], rng: np.random.Generator) -> _Planted:
    """A vendor price rise above the billed (= contract) price: ``(Pb - cost) x B``."""
    eligible = available & keys["plantable"] & keys["tracked"] & (keys["usage_id"] >= 0)
    picked = _choose(keys, eligible.to_numpy(bool), quota["negative_margin"], rng)
    rows = keys.iloc[picked]
    price = rows["contract_price"].to_numpy()
    cost = _cents(price * rng.uniform(1.03, 1.12, len(rows)))
    note = _join(rows["vendor"], " cost ", _money_text(cost), " above billed price ", _money_text(price))
    variance = _amount(rows["quantity"].to_numpy(), price - cost)
    return _Planted(_answer(rows, "negative_margin", variance, note), _used(keys, picked),
                    _Edits(usage_cost=pd.Series(cost, index=rows["usage_id"].to_numpy())))


def _plant_duplicate_charge(ctx: _Context, keys: pd.DataFrame, available: np.ndarray,
                            quota: dict[str, int], rng: np.random.Generator) -> _Planted:
    """Repeat an invoice line on the same invoice: ``+A`` of the extra line."""
    picked = _choose(keys, (available & keys["plantable"]).to_numpy(bool), quota["duplicate_charge"], rng)
    rows = keys.iloc[picked]
    note = _join("line repeated on the invoice: ", _quantity_text(rows["quantity"]), " x ",
                 _money_text(rows["unit_price"]))
    return _Planted(_answer(rows, "duplicate_charge", rows["amount"].to_numpy(), note), _used(keys, picked),
                    _Edits(extra_lines=rows[list(_LINE_COLUMNS)]))


_Plant = Callable[[_Context, pd.DataFrame, np.ndarray, dict[str, int], np.random.Generator], _Planted]

# Order matters only for who gets first pick: multi-month and combined cases go first.
_KEY_PLANTS: tuple[_Plant, ...] = (
    _plant_billed_outside_contract, _plant_combination, _plant_new_subscriptions, _plant_unbilled_usage,
    _plant_billed_without_usage, _plant_quantity_under, _plant_quantity_over, _plant_missed_recurring,
    _plant_price_below, _plant_price_above, _plant_negative_margin, _plant_duplicate_charge,
)


def _plant_keys(ctx: _Context, books: _Books, quota: dict[str, int],
                rng: np.random.Generator) -> tuple[_Books, pd.DataFrame]:
    """Run every planting on distinct clean keys, then apply all their edits to the books."""
    keys = _key_table(ctx, books)
    available = np.ones(len(keys), dtype=bool)
    remaining = {kind: count for kind, count in quota.items() if kind != "unbilled_time"}
    answers, edits = [], []
    for plant in _KEY_PLANTS:
        planted = plant(ctx, keys, available, remaining, rng)
        available &= ~planted.used
        counts = planted.answer["type"].value_counts()
        remaining = {kind: count - int(counts.get(kind, 0)) for kind, count in remaining.items()}
        answers.append(planted.answer)
        edits.append(planted.edits)
    return _apply_edits(books, edits), pd.concat(answers, ignore_index=True)


def _apply_edits(books: _Books, edits: list[_Edits]) -> _Books:
    return _Books(contracts=_edit_contracts(books.contracts, edits), usage=_edit_usage(books.usage, edits),
                  lines=_edit_lines(books.lines, edits))


def _edit_contracts(contracts: pd.DataFrame, edits: list[_Edits]) -> pd.DataFrame:
    ends = [edit.contract_end for edit in edits if edit.contract_end is not None]
    if not ends:
        return contracts
    end = pd.concat(ends)
    new_end = contracts["end"].to_numpy().copy()
    new_end[end.index.to_numpy()] = end.to_numpy()  # contract_id is the row position
    return contracts.assign(end=new_end)


def _edit_usage(usage: pd.DataFrame, edits: list[_Edits]) -> pd.DataFrame:
    costs = [edit.usage_cost for edit in edits if edit.usage_cost is not None]
    unit_cost = usage["unit_cost"].copy()
    if costs:
        cost = pd.concat(costs)
        unit_cost.loc[cost.index] = cost.to_numpy()
    dropped = usage.index.isin(np.concatenate([edit.drop_usage for edit in edits]))
    kept = usage.assign(unit_cost=unit_cost)[~dropped]
    extras = [edit.extra_usage for edit in edits if edit.extra_usage is not None]
    return pd.concat([kept, *extras], ignore_index=True)


def _edit_lines(lines: pd.DataFrame, edits: list[_Edits]) -> pd.DataFrame:
    next_id = int(lines.index.max()) + 1
    changes = [edit.line_changes for edit in edits if edit.line_changes is not None]
    change = pd.concat(changes) if changes else pd.DataFrame({"quantity": [], "unit_price": []})
    quantity, unit_price = lines["quantity"].copy(), lines["unit_price"].copy()
    quantity.loc[change.index] = change["quantity"].to_numpy()
    unit_price.loc[change.index] = change["unit_price"].to_numpy(np.int64)
    changed = lines.index.isin(change.index)
    amount = np.where(changed, _amount(quantity.to_numpy(), unit_price.to_numpy()), lines["amount"])
    edited = lines.assign(quantity=quantity, unit_price=unit_price, amount=amount)
    edited = edited[~edited.index.isin(np.concatenate([edit.drop_lines for edit in edits]))]
    extras = [edit.extra_lines for edit in edits if edit.extra_lines is not None]
    extra = pd.concat(extras, ignore_index=True) if extras else edited.iloc[:0]
    return pd.concat([edited, extra.set_axis(np.arange(next_id, next_id + len(extra)))])


# ----------------------------------------------------------------------- realities (PRODUCT.md 4a)
# Rows a real month holds that a careless reading gets wrong, each billed correctly so that none is a
# finding: an anniversary cycle (Microsoft, 20th-19th), a mid-month seat change (Microsoft's refund of the
# old quantity and charge of the new), a cancellation credit, a year billed up front, trial seats, a
# one-time fee (Pax8); on the PSA side, in its own export formats, an addition with included units
# (lessIncluded), an agreement cancelled mid-window, a quarterly agreement, and an Autotask adjustment.
# Each reality takes its own few clients and products no other part of the sample uses.


@dataclass(frozen=True)
class _Realities:
    usage: pd.DataFrame  # rows in ``_Books.usage`` shape plus row_type and the subscription's life
    lines: pd.DataFrame  # invoice lines (``_LINE_COLUMNS`` plus an optional service period)
    files: dict[str, pd.DataFrame]  # the PSA exports (``PSA_EXPORT_FILES``)
    answer: pd.DataFrame  # the discrepancies planted on them (``_answer`` rows)


_REALITY_KINDS = ("anniversary", "seat_change", "cancellation", "annual", "trial", "one_time",
                  "less_included", "cancelled_agreement", "quarterly", "autotask")


def _realities(ctx: _Context, rng: np.random.Generator) -> _Realities:
    """Every reality, each on its own clients (about one in 40, at least one), vectorised over them."""
    per_kind = max(1, len(ctx.clients) // 40)
    eligible = np.flatnonzero(ctx.clients["onboard_month"].to_numpy() == 0)
    chosen = _pick(eligible, per_kind * len(_REALITY_KINDS), rng)
    groups = {kind: np.sort(chosen[index::len(_REALITY_KINDS)]) for index, kind in enumerate(_REALITY_KINDS)}
    if ctx.months < 3:
        groups = {kind: clients[:0] if kind in ("seat_change", "cancellation", "cancelled_agreement", "autotask")
                  else clients for kind, clients in groups.items()}
    parts = [
        _anniversary_cycles(ctx, groups["anniversary"], rng), _seat_changes(ctx, groups["seat_change"], rng),
        _cancellations(ctx, groups["cancellation"], rng), _annual_terms(ctx, groups["annual"], rng),
        _trials(ctx, groups["trial"], rng), _one_time_fees(ctx, groups["one_time"], rng),
    ]
    usage = pd.concat([usage for usage, _ in parts], ignore_index=True)
    lines = [lines for _, lines in parts]
    connectwise, cw_lines = _connectwise_realities(ctx, groups, rng)
    autotask, at_lines = _autotask_adjustments(ctx, groups["autotask"], rng)
    at_lines, answer = _plant_autotask_shortfall(ctx, at_lines)
    return _Realities(usage, pd.concat([*lines, cw_lines, at_lines], ignore_index=True),
                      {"contracts_connectwise.csv": connectwise, "contracts_autotask.csv": autotask}, answer)


def _reality_rows(ctx: _Context, client_id: np.ndarray, vendor: str, vendor_sku: str, start: np.ndarray,
                  end: np.ndarray, quantity: np.ndarray, row_type: str | np.ndarray, unit_cost: int,
                  subscription: np.ndarray, life_start: np.ndarray, life_end: np.ndarray | int = -1,
                  cost_amount: np.ndarray | int = -1) -> pd.DataFrame:
    """Usage rows (``_Books.usage`` columns plus row_type, life and cost) of one vendor product."""
    product = _VENDOR_PRODUCT_NAMES.get(vendor_sku, vendor_sku)
    count = len(client_id)
    month = np.clip(np.searchsorted(ctx.periods["start"].to_numpy(), start, side="right") - 1, 0, None)
    return pd.DataFrame({
        "sub_id": -1, "client_id": client_id, "sku": "", "vendor": vendor, "vendor_sku": vendor_sku,
        "product_name": product, "unit_cost": unit_cost, "subscription_id": subscription, "month": month,
        "quantity": np.asarray(quantity, dtype=float), "period_start": start, "period_end": end, "usage_qty": np.nan,
        "partial": True, "row_type": row_type, "subscription_start": life_start,
        "subscription_end": np.broadcast_to(np.asarray(life_end, dtype=np.int64), (count,)),
        "cost_amount": np.broadcast_to(np.asarray(cost_amount, dtype=np.int64), (count,)),
    })


_VENDOR_PRODUCT_NAMES = {"CFQ7TTC0HD33": "Visio Plan 2", "CFQ7TTC0L3PB": "Power BI Pro",
                         "CFQ7TTC0RM8K": "Microsoft Teams Premium", "PX8-ONBOARD": "Microsoft 365 onboarding"}


def _monthly_lines(ctx: _Context, client_id: np.ndarray, month: np.ndarray, sku: str, quantity: np.ndarray,
                   unit_price: int | np.ndarray, description: str) -> pd.DataFrame:
    """Invoice lines billing ``quantity`` of ``sku`` at ``unit_price`` in each given month."""
    frame = pd.DataFrame({"client_id": client_id, "month": month, "quantity": np.asarray(quantity, dtype=float),
                          "unit_price": np.broadcast_to(np.asarray(unit_price, dtype=np.int64), (len(month),))})
    return _line_frame(frame, sku, "reality", description).assign(edge=True)


def _grid(ctx: _Context, clients: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(client position, month) for every client x month of the window."""
    position, month = np.divmod(np.arange(len(clients) * ctx.months), ctx.months)
    return position, month


def _month_day(ctx: _Context, month: np.ndarray | int, day: np.ndarray | int) -> np.ndarray:
    """The day number of ``day`` (1-based) of window month ``month`` (may be -1: the month before)."""
    first = (ctx.periods["month_number"].iloc[0] + np.asarray(month)).astype("datetime64[M]")
    return first.astype("datetime64[D]").astype(np.int64) + np.asarray(day) - 1


def _anniversary_cycles(ctx: _Context, clients: np.ndarray, rng: np.random.Generator) -> tuple[pd.DataFrame,
                                                                                                  pd.DataFrame]:
    """Visio charged 20th to 19th (each client its own day), from the cycle before the window: every
    calendar month is covered by two cycle rows; the invoice bills the seats each month."""
    seats, day = rng.integers(3, 16, len(clients)), rng.integers(5, 26, len(clients))
    position, cycle = np.divmod(np.arange(len(clients) * (ctx.months + 1)), ctx.months + 1)
    cycle = cycle - 1
    start = _month_day(ctx, cycle, day[position])
    end = _month_day(ctx, cycle + 1, day[position]) - 1
    subscription = _guids(len(clients), rng)
    usage = _reality_rows(ctx, clients[position], "Microsoft", "CFQ7TTC0HD33", start, end, seats[position],
                          "recurring", 135_000, subscription[position], _month_day(ctx, -1, day)[position])
    client, month = _grid(ctx, clients)
    return usage, _monthly_lines(ctx, clients[client], month, "VISIO-P2", seats[client], 150_000,
                                 "Visio Plan 2 (Microsoft anniversary cycle)")


def _seat_changes(ctx: _Context, clients: np.ndarray, rng: np.random.Generator) -> tuple[pd.DataFrame,
                                                                                           pd.DataFrame]:
    """Visio from 1st to last, seats up by 2 on a day mid-month: Microsoft refunds the old quantity and
    charges the new one for the rest of the month (two rows from that day); the invoice bills the month's
    day-weighted seats to two places."""
    before, change, day = rng.integers(4, 12, len(clients)), rng.integers(1, ctx.months, len(clients)), \
        rng.integers(8, 23, len(clients))
    after = before + 2
    client, month = _grid(ctx, clients)
    held = np.where(month <= change[client], before[client], after[client])
    start, end = ctx.periods["start"].to_numpy()[month], ctx.periods["end"].to_numpy()[month]
    subscription = _guids(len(clients), rng)
    life = ctx.periods["start"].iloc[0] - 40
    months = _reality_rows(ctx, clients[client], "Microsoft", "CFQ7TTC0HD33", start, end, held, "recurring",
                           135_000, subscription[client], np.full(len(client), life))
    change_start = _month_day(ctx, change, day)
    change_end = ctx.periods["end"].to_numpy()[change]
    refund = _reality_rows(ctx, clients, "Microsoft", "CFQ7TTC0HD33", change_start, change_end, -before, "credit",
                           135_000, subscription, np.full(len(clients), life))
    new = _reality_rows(ctx, clients, "Microsoft", "CFQ7TTC0HD33", change_start, change_end, after, "recurring",
                        135_000, subscription, np.full(len(clients), life))
    days = ctx.periods["days"].to_numpy()[change]
    changed_month = before + 2 * (change_end - change_start + 1) / days
    billed = np.where(month == change[client], np.round(changed_month[client], 2), held)
    return (pd.concat([months, refund, new], ignore_index=True),
            _monthly_lines(ctx, clients[client], month, "VISIO-P2", billed, 150_000, "Visio Plan 2"))


def _cancellations(ctx: _Context, clients: np.ndarray, rng: np.random.Generator) -> tuple[pd.DataFrame,
                                                                                            pd.DataFrame]:
    """Visio cancelled on a day mid-month: a credit refunds the rest of that month; the invoice bills the
    days held (two places) and nothing after."""
    seats, cancelled, day = rng.integers(3, 12, len(clients)), rng.integers(1, ctx.months - 1, len(clients)), \
        rng.integers(5, 26, len(clients))
    client, month = _grid(ctx, clients)
    held = month <= cancelled[client]
    client, month = client[held], month[held]
    start, end = ctx.periods["start"].to_numpy()[month], ctx.periods["end"].to_numpy()[month]
    subscription = _guids(len(clients), rng)
    life_start = ctx.periods["start"].iloc[0] - 200
    credit_start = _month_day(ctx, cancelled, day)
    months = _reality_rows(ctx, clients[client], "Microsoft", "CFQ7TTC0HD33", start, end, seats[client],
                           "recurring", 135_000, subscription[client], np.full(len(client), life_start),
                           (credit_start - 1)[client])
    credit = _reality_rows(ctx, clients, "Microsoft", "CFQ7TTC0HD33", credit_start,
                           ctx.periods["end"].to_numpy()[cancelled], -seats, "credit", 135_000, subscription,
                           np.full(len(clients), life_start), credit_start - 1)
    days = ctx.periods["days"].to_numpy()[cancelled]
    last = np.round(seats * (day - 1) / days, 2)
    billed = np.where(month == cancelled[client], last[client], seats[client])
    return (pd.concat([months, credit], ignore_index=True),
            _monthly_lines(ctx, clients[client], month, "VISIO-P2", billed, 150_000, "Visio Plan 2"))


def _annual_terms(ctx: _Context, clients: np.ndarray, rng: np.random.Generator) -> tuple[pd.DataFrame,
                                                                                           pd.DataFrame]:
    """Power BI billed a year up front (one charge for twelve months, 120.00 a seat: 10.00 a month),
    bought before the window and renewed in it; the invoice bills 14.00 a seat each month."""
    seats, first = rng.integers(2, 9, len(clients)), rng.integers(1, 12, len(clients))
    position, year = np.divmod(np.arange(len(clients) * 3), 3)
    start_month = first[position] - 12 + 12 * year
    start = _month_day(ctx, start_month, np.full(len(position), 10))
    end = _month_day(ctx, start_month + 12, np.full(len(position), 10)) - 1
    subscription = _guids(len(clients), rng)
    usage = _reality_rows(ctx, clients[position], "Microsoft", "CFQ7TTC0L3PB", start, end, seats[position],
                          "recurring", 100_000, subscription[position], start[::3][position],
                          cost_amount=1_200_000 * seats[position])
    usage = usage[usage["period_start"] <= ctx.periods["end"].iloc[-1]]
    client, month = _grid(ctx, clients)
    return usage, _monthly_lines(ctx, clients[client], month, "PBI-PRO", seats[client], 140_000,
                                 "Power BI Pro (annual term)")


def _trials(ctx: _Context, clients: np.ndarray, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Teams Premium trial seats for 30 days: not expected to be billed, never invoiced."""
    month = rng.integers(0, ctx.months, len(clients))
    start = _month_day(ctx, month, np.full(len(clients), 12))
    usage = _reality_rows(ctx, clients, "Microsoft", "CFQ7TTC0RM8K", start, start + 29, np.full(len(clients), 25),
                          "trial", 0, _guids(len(clients), rng), start, start + 29)
    return usage, _monthly_lines(ctx, clients[:0], month[:0], "TEAMS-PREM", np.zeros(0), 0, "")


def _one_time_fees(ctx: _Context, clients: np.ndarray, rng: np.random.Generator) -> tuple[pd.DataFrame,
                                                                                            pd.DataFrame]:
    """A Pax8 onboarding fee (one-time, 120.00 cost): expected once, in full, billed 150.00 that month."""
    month = rng.integers(0, ctx.months, len(clients))
    day = _month_day(ctx, month, np.full(len(clients), 10))
    usage = _reality_rows(ctx, clients, "Pax8", "PX8-ONBOARD", day, day, np.ones(len(clients)), "one_time",
                          1_200_000, np.full(len(clients), ""), np.full(len(clients), -1), cost_amount=1_200_000)
    return usage, _monthly_lines(ctx, clients, month, "ONBOARD", np.ones(len(clients)), 1_500_000,
                                 "Microsoft 365 onboarding (one-time)")


def _connectwise_realities(ctx: _Context, groups: dict[str, np.ndarray],
                           rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ConnectWise additions as the REST API returns them (flattened): 12 monitored devices with 2
    included (10 billable); an agreement cancelled at a month's end (its addition has no date of its own,
    and is billed through that month only); a quarterly agreement (price per quarter, billed every third
    month)."""
    window_start = int(ctx.periods["start"].iloc[0])
    less, ended, quarterly = groups["less_included"], groups["cancelled_agreement"], groups["quarterly"]
    devices = rng.integers(4, 15, len(less))
    cancel_month = rng.integers(2, ctx.months, len(ended)) if len(ended) else np.zeros(0, dtype=np.int64)
    ended_devices = rng.integers(3, 10, len(ended))
    users = rng.integers(5, 30, len(quarterly))
    additions = pd.concat([
        _cw_additions(ctx, less, "NETWORK-MON", devices + 2, 120_000, window_start - 100, less_included=2),
        _cw_additions(ctx, ended, "NETWORK-MON", ended_devices, 120_000, window_start - 100,
                      cancelled=ctx.periods["start"].to_numpy()[cancel_month] - 1 if len(ended) else None),
        _cw_additions(ctx, quarterly, "SECURITY-TRAINING", users, 90_000, window_start, cycle="Quarterly"),
    ], ignore_index=True)
    client, month = _grid(ctx, less)
    lines = [_monthly_lines(ctx, less[client], month, "NETWORK-MON", devices[client], 120_000,
                            "Network device monitoring")]
    client, month = _grid(ctx, ended)
    billed = month < cancel_month[client]
    lines.append(_monthly_lines(ctx, ended[client][billed], month[billed], "NETWORK-MON",
                                ended_devices[client][billed], 120_000, "Network device monitoring"))
    client, month = _grid(ctx, quarterly)
    due = month % 3 == 0
    lines.append(_monthly_lines(ctx, quarterly[client][due], month[due], "SECURITY-TRAINING", users[client][due],
                                90_000, "Security awareness training (quarter)"))
    return additions, pd.concat(lines, ignore_index=True)


CW_ADDITION_COLUMNS = (
    "id", "agreementId", "product.identifier", "description", "quantity", "lessIncluded", "unitPrice",
    "billCustomer", "effectiveDate", "cancelledDate", "prorateCurrentPeriodFlag", "proratePrice",
    "agreementStatus", "agreement.id", "agreement.name", "agreement.company.name", "agreement.billingCycle.name",
    "agreement.startDate", "agreement.endDate", "agreement.noEndingDateFlag", "agreement.cancelledFlag",
    "agreement.dateCancelled", "agreement.agreementStatus",
)


def _cw_additions(ctx: _Context, clients: np.ndarray, product: str, quantity: np.ndarray, unit_price: int,
                  start: int, less_included: int = 0, cancelled: np.ndarray | None = None,
                  cycle: str = "Monthly") -> pd.DataFrame:
    """One addition per client on an agreement of its own, in ConnectWise's flattened API shape."""
    count = len(clients)
    agreement = (7000 + clients + {"Monthly": 0, "Quarterly": 100_000}[cycle]
                 + (200_000 if cancelled is not None else 0)).astype(str)
    stamp = _iso_dates(np.full(count, start)) + "T00:00:00Z"
    cancelled_on = _iso_dates(cancelled) + "T00:00:00Z" if cancelled is not None else _constant("", count)
    status = "Cancelled" if cancelled is not None else "Active"
    return pd.DataFrame({
        "id": (900_000 + clients + (100_000 if cancelled is not None else 0)).astype(str), "agreementId": agreement,
        "product.identifier": product, "description": _CATALOG_DESCRIPTIONS[product],
        "quantity": _quantity_text(quantity), "lessIncluded": str(less_included),
        "unitPrice": _money_text(np.full(count, unit_price)), "billCustomer": "Billable", "effectiveDate": stamp,
        "cancelledDate": "", "prorateCurrentPeriodFlag": "false", "proratePrice": "0", "agreementStatus": status,
        "agreement.id": agreement, "agreement.name": _client_text(ctx, clients) + f" {cycle.lower()} services",
        "agreement.company.name": _client_text(ctx, clients), "agreement.billingCycle.name": cycle,
        "agreement.startDate": stamp, "agreement.endDate": "", "agreement.noEndingDateFlag": "true",
        "agreement.cancelledFlag": "true" if cancelled is not None else "false",
        "agreement.dateCancelled": cancelled_on, "agreement.agreementStatus": status,
    }, columns=list(CW_ADDITION_COLUMNS)).astype("str")


_CATALOG_DESCRIPTIONS = {sku: description for sku, description, *_ in _CATALOG}
AUTOTASK_COLUMNS = ("id", "contractID", "contractServiceID", "serviceID", "startDate", "endDate", "units", "price",
                    "cost", "approveAndPostDate", "companyName")


def _autotask_adjustments(ctx: _Context, clients: np.ndarray, rng: np.random.Generator) -> tuple[pd.DataFrame,
                                                                                                   pd.DataFrame]:
    """Autotask ContractServiceUnits (with the company name): a row per month, and from an adjustment's
    effective date a new row with 2 more units (the rows replace one another); the invoice bills the
    month's units and the 2 added units prorated from that day (as Autotask bills an adjustment)."""
    units, change, day = rng.integers(5, 20, len(clients)), rng.integers(1, ctx.months, len(clients)), \
        rng.integers(8, 23, len(clients))
    client, month = _grid(ctx, clients)
    held = np.where(month <= change[client], units[client], units[client] + 2)
    start, end = ctx.periods["start"].to_numpy()[month], ctx.periods["end"].to_numpy()[month]
    adjusted = _month_day(ctx, change, day)
    rows = pd.DataFrame({"client": np.concatenate([clients[client], clients]),
                         "start": np.concatenate([start, adjusted]),
                         "end": np.concatenate([end, ctx.periods["end"].to_numpy()[change]]),
                         "units": np.concatenate([held, units + 2])})
    rows = rows.sort_values(["client", "start"], kind="stable", ignore_index=True)
    width = len(rows)
    frame = pd.DataFrame({
        "id": (80_000_000 + np.arange(width)).astype(str), "contractID": (30_000 + rows["client"]).astype(str),
        "contractServiceID": (50_000 + rows["client"]).astype(str), "serviceID": "29683450",
        "startDate": _iso_dates(rows["start"]) + "T00:00:00", "endDate": _iso_dates(rows["end"]) + "T00:00:00",
        "units": rows["units"].astype(str), "price": "6.00", "cost": "2.50",
        "approveAndPostDate": _iso_dates(rows["start"]) + "T00:00:00",
        "companyName": _client_text(ctx, rows["client"].to_numpy()),
    }, columns=list(AUTOTASK_COLUMNS)).astype("str")
    days = ctx.periods["days"].to_numpy()[change]
    remaining = ctx.periods["end"].to_numpy()[change] - adjusted + 1
    # the month's expected amount is the day-weighted units at 6.00; the added units' line is what it
    # leaves after the units billed in full
    held_days = np.round(units + 2 * remaining / days, 4)
    expected = _amount(held_days, np.full(len(clients), 60_000))
    added = expected - _amount(units.astype(float), np.full(len(clients), 60_000))
    lines = _monthly_lines(ctx, clients[client], month, "29683450", held.astype(float), 60_000,
                           "Workstation backup")
    adjustment = pd.DataFrame({"client_id": clients, "month": change, "quantity": 2.0, "unit_price": added // 2})
    adjustment = _line_frame(adjustment, "29683450", "reality", "Workstation backup: 2 units added, prorated")
    adjustment = adjustment.assign(amount=added, edge=True, service_start=adjusted,
                                   service_end=ctx.periods["end"].to_numpy()[change])
    # the adjusted month bills the units held before the adjustment in full, beside the prorated line
    in_change = month == change[client]
    lines.loc[in_change, "quantity"] = units[client][in_change].astype(float)
    lines.loc[in_change, "amount"] = _amount(units[client][in_change].astype(float),
                                             np.full(int(in_change.sum()), 60_000))
    return frame, pd.concat([lines, adjustment], ignore_index=True)


_AUTOTASK_SERVICE, _AUTOTASK_SHORT = "29683450", 2


def _plant_autotask_shortfall(ctx: _Context, lines: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One discrepancy on an Autotask contract (issue 21: a fix the sample sends to Autotask): the last
    month of the first Autotask client whose adjustment came earlier bills 2 units of its contract service
    fewer than its ContractServiceUnits say: ``quantity_under_billed`` of ``-2 x 6.00`` (the line already
    says what is expected; the fix is a one-time charge on the contract). No random draw: the rest of the
    sample is unchanged."""
    last = ctx.months - 1
    monthly = lines[(lines["description"] == "Workstation backup").to_numpy(bool)]
    added = lines[(lines["description"] != "Workstation backup").to_numpy(bool)]
    adjusted_last = added.loc[(added["month"] == last).to_numpy(bool), "client_id"].to_numpy()
    candidates = monthly[(monthly["month"] == last).to_numpy(bool) & ~monthly["client_id"].isin(adjusted_last)]
    candidates = candidates[candidates["quantity"].to_numpy() > _AUTOTASK_SHORT]
    if not len(candidates):
        return lines, _answer(lines.iloc[:0].assign(sku=""), "quantity_under_billed", np.zeros(0, np.int64),
                              np.zeros(0, dtype=str))
    chosen = candidates.sort_values("client_id", kind="stable").iloc[:1]
    position = chosen.index[0]
    contracted = float(lines.loc[position, "quantity"])
    billed = contracted - _AUTOTASK_SHORT
    price = int(lines.loc[position, "unit_price"])
    out = lines.copy()
    out.loc[position, "quantity"] = billed
    out.loc[position, "amount"] = _amount(np.array([billed]), np.array([price]))[0]
    note = pd.Series([f"billed {billed:g}, Autotask contract units {contracted:g}"])
    return out, _answer(chosen, "quantity_under_billed", np.array([-_AUTOTASK_SHORT * price]), note)


# ------------------------------------------------------------------------------- noise, payments


def _typo_names(names: pd.Series) -> pd.Series:
    """Drop the fifth letter of every long word and the legal form: "Nortwind Tradrs"."""
    return _strip_legal(names).str.replace(r"\b(\w{4})\w(\w)", r"\1\2", regex=True)


def _typo_clients(clients: pd.DataFrame, rng: np.random.Generator) -> pd.Series:
    """Up to two misspelt client names that normalise to no client and no alias (fuzzy-only matches)."""
    sample = clients.iloc[np.sort(_pick(np.flatnonzero(clients["plantable"]), 40, rng))]
    typos = _typo_names(sample["client"])
    known = np.concatenate([_normalise_names(clients["client"]).to_numpy(),
                            _normalise_names(clients["old_name"]).to_numpy()])
    valid = (typos != _strip_legal(sample["client"])) & ~_normalise_names(typos).isin(known).to_numpy()
    return typos[valid].iloc[:2]


def _noise_rows(ctx: _Context, vendor_client: pd.Series, vendor: str, vendor_sku: str, last_months: int,
                rng: np.random.Generator) -> pd.DataFrame:
    """Usage rows (full months at the end of the window) under names or SKUs no engine may map."""
    product, unit_cost = _VENDOR_PRODUCTS[vendor_sku]
    count, first = len(vendor_client), max(ctx.months - last_months, 0)
    client_pos, month = np.divmod(np.arange(count * (ctx.months - first)), ctx.months - first)
    month = month + first
    quantity = rng.integers(1, 4, count)[client_pos].astype(float)
    return pd.DataFrame({
        "client_id": -1, "vendor_client": vendor_client.to_numpy()[client_pos], "vendor": vendor,
        "vendor_sku": vendor_sku, "product_name": product, "unit_cost": unit_cost,
        "subscription_id": _guids(count, rng)[client_pos], "month": month, "quantity": quantity,
        "period_start": ctx.periods["start"].to_numpy()[month], "period_end": ctx.periods["end"].to_numpy()[month],
    })


def _unmapped_noise(ctx: _Context, names: pd.DataFrame,
                    rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows an engine must list as unmapped, never value: two typo'd client names, one unknown SKU."""
    clients = ctx.clients
    typos = _typo_clients(clients, rng)
    pax8 = names[names["vendor"] == "Pax8"].set_index("client_id")["vendor_client"]
    pax8_clients = np.flatnonzero(clients["plantable"] & (clients["m365_vendor"] == "Pax8"))
    unknown_pick = np.sort(_pick(pax8_clients, 2, rng))
    specs = [  # (vendor's client names, vendor, vendor sku, months at the end of the window, reason)
        (typos.iloc[:1], "Pax8", "MS-EXO-P1", 3, "unknown client"),
        (typos.iloc[1:2].str.upper(), "Datto", "DATTO-SAAS-M365", 3, "unknown client"),
        (pax8.loc[unknown_pick], "Pax8", _UNKNOWN_VENDOR_SKU, 2, "unknown sku"),
    ]
    rows, expected = [], []
    for vendor_client, vendor, sku, last_months, reason in specs:
        frame = _noise_rows(ctx, vendor_client, vendor, sku, last_months, rng)
        rows.append(frame)
        expected.append(frame.groupby("vendor_client", as_index=False).size().assign(
            file=VENDOR_FILES[vendor], sku=sku, reason=reason))
    unmapped = pd.concat(expected, ignore_index=True).rename(columns={"vendor_client": "client", "size": "rows"})
    unmapped = unmapped.assign(rows=unmapped["rows"].astype(str))[list(UNMAPPED_COLUMNS)]
    return pd.concat(rows, ignore_index=True), unmapped.astype("str")


def _invoices_and_payments(ctx: _Context, lines: pd.DataFrame,
                           rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Invoice totals, payment rows and status per invoice.

    Most invoices are paid in full within terms; some late, some in two instalments, some short-paid
    (marked paid although payments fall short), some unpaid. Payments dated on or after ``as_of`` are
    not in the file yet, so recent invoices are still open.
    """
    invoices = lines.groupby(["client_id", "month"], as_index=False).agg(total=("amount", "sum"))
    date = ctx.periods["start"].to_numpy()[invoices["month"].to_numpy()]
    behaviour = rng.choice(np.array(_PAYMENT_BEHAVIOURS), len(invoices), p=_PAYMENT_ODDS)
    settled = date + 75 < ctx.as_of
    for label in ("late", "split", "short", "unpaid"):  # every behaviour shows up, even in a small sample
        behaviour = _at_least(behaviour, label, settled, 2, rng)
    payments = _payment_rows(invoices["total"].to_numpy(), date, behaviour, rng)
    payments = payments[payments["date"] < ctx.as_of]
    paid = payments.groupby("invoice")["amount"].sum().reindex(np.arange(len(invoices)), fill_value=0)
    is_paid = (paid.to_numpy() >= invoices["total"].to_numpy()) | ((behaviour == "short") & (paid.to_numpy() > 0))
    invoices = invoices.assign(date=date, status=np.where(is_paid, "paid", "open"), behaviour=behaviour)
    payments = payments.assign(client_id=invoices["client_id"].to_numpy()[payments["invoice"].to_numpy()],
                               month=invoices["month"].to_numpy()[payments["invoice"].to_numpy()])
    return invoices, payments.sort_values(["date", "invoice"], kind="stable", ignore_index=True)


def _at_least(behaviour: np.ndarray, label: str, eligible: np.ndarray, count: int,
              rng: np.random.Generator) -> np.ndarray:
    """Make sure ``count`` eligible invoices behave as ``label`` (switching on-time payers)."""
    missing = count - int(((behaviour == label) & eligible).sum())
    chosen = _pick(np.flatnonzero(eligible & (behaviour == "on_time")), missing, rng)
    result = behaviour.copy()
    result[chosen] = label
    return result


def _payment_rows(total: np.ndarray, date: np.ndarray, behaviour: np.ndarray,
                  rng: np.random.Generator) -> pd.DataFrame:
    count = len(total)
    late, split, short = behaviour == "late", behaviour == "split", behaviour == "short"
    offset = np.select([late, split], [rng.integers(35, 96, count), rng.integers(5, 21, count)],
                       rng.integers(5, 29, count))
    share = _cents(total * rng.uniform(0.3, 0.7, count))
    shortfall = np.maximum(CENT, _cents(total * rng.uniform(0.01, 0.08, count)))
    first_amount = np.select([split, short], [share, total - shortfall], total)
    first = pd.DataFrame({"invoice": np.arange(count), "date": date + offset, "amount": first_amount})
    second = pd.DataFrame({"invoice": np.arange(count), "date": date + rng.integers(25, 61, count),
                           "amount": total - share})
    return pd.concat([first[behaviour != "unpaid"], second[split]], ignore_index=True)


# -------------------------------------------------------------------------------------- rendering


def _text_frame(kind: str, columns: dict[str, pd.Series]) -> pd.DataFrame:
    """A frame of text columns in the canonical field order of ``kind``."""
    names = field_names(kind)
    if sorted(columns) != sorted(names):
        raise ReconError(f"sample {kind}: columns {sorted(columns)} differ from {sorted(names)}")
    return pd.DataFrame({name: _as_text(columns[name]) for name in names})


def _as_text(column: pd.Series | np.ndarray) -> pd.Series:
    if isinstance(column, pd.Series) and column.dtype == "str":
        return column.reset_index(drop=True)
    return pd.Series(np.asarray(column, dtype=object), dtype="str")


def _client_text(ctx: _Context, client_id: np.ndarray | pd.Series) -> pd.Series:
    return _lookup(ctx.clients["client"], np.asarray(client_id))


def _invoice_numbers(ctx: _Context, client_id: np.ndarray | pd.Series, month: np.ndarray | pd.Series) -> pd.Series:
    """``INV-<yyyymm>-<client number>``: one invoice per client per month."""
    width = max(4, len(str(len(ctx.clients))))
    compact = ctx.periods["compact"].to_numpy()

    def render(codes: np.ndarray) -> pd.Series:
        client_number = pd.Series(codes // ctx.months + 1).astype("str").str.zfill(width)
        return "INV-" + _lookup(compact, codes % ctx.months) + "-" + client_number

    return _by_value(np.asarray(client_id) * ctx.months + np.asarray(month), render)


def _render_contracts(ctx: _Context, contracts: pd.DataFrame) -> pd.DataFrame:
    client_id = contracts["client_id"].to_numpy()
    rate = contracts["hourly_rate"].to_numpy()
    width = max(4, len(str(len(ctx.clients))))
    return _text_frame("contracts", {
        "client": _client_text(ctx, client_id), "sku": contracts["sku"],
        "unit_price": _money_text(contracts["unit_price"]), "quantity": _quantity_text(contracts["quantity"]),
        "start_date": _iso_dates(contracts["start"]), "end_date": _iso_dates(contracts["end"]),
        "billing_frequency": contracts["frequency"],
        "agreement_id": "AGR-" + pd.Series(client_id + 1).astype("str").str.zfill(width),
        "description": contracts["description"], "currency": _constant("USD", len(contracts)),
        "account_manager": _lookup(ctx.clients["account_manager"], client_id),
        "included_hours": _quantity_text(contracts["included_hours"]),
        "hourly_rate": _money_text(rate).where(rate >= 0, ""), "billable": _flags(contracts["billable"]),
        "service_id": _constant("", len(contracts)), "prorate": _constant("", len(contracts)),
    })


def _render_usage(ctx: _Context, usage: pd.DataFrame, names: pd.DataFrame, noise: pd.DataFrame,
                  vendor: str, sites: int) -> pd.DataFrame:
    rows = _per_site(_with_row_types(usage[usage["vendor"] == vendor]), sites)
    rows = rows.merge(names, on=["client_id", "vendor"], how="left")
    rows = pd.concat([rows, _with_row_types(noise[noise["vendor"] == vendor])], ignore_index=True)
    rows = rows.sort_values(["month", "client_id", "vendor_sku"], kind="stable")
    life = {name: rows[name].fillna(-1).to_numpy(np.int64) for name in ("subscription_start", "subscription_end")}
    cost = rows["cost_amount"].fillna(-1).to_numpy(np.int64)
    return _text_frame("usage", {
        "client": rows["vendor_client"], "sku": rows["vendor_sku"], "quantity": _quantity_text(rows["quantity"]),
        "period_start": _iso_dates(rows["period_start"]), "period_end": _iso_dates(rows["period_end"]),
        "vendor": rows["vendor"], "unit_cost": _money_text(rows["unit_cost"]),
        "subscription_id": rows["subscription_id"], "product_name": rows["product_name"],
        "row_type": rows["row_type"],
        **{name: _iso_dates(np.where(days >= 0, days, _NO_END)) for name, days in life.items()},
        "cost_amount": _money_text(cost).where(cost >= 0, ""),
    })


def _with_row_types(usage: pd.DataFrame) -> pd.DataFrame:
    """Rows with a ``row_type`` (Pax8 and Microsoft subscriptions hold seats: ``recurring``; the others
    are consumption) and the realities' columns where they are missing."""
    row_type = np.where(usage["vendor"].isin(_CONSUMPTION_VENDORS), "usage", "recurring")
    defaults = {"row_type": row_type, "subscription_start": -1, "subscription_end": -1, "cost_amount": -1}
    return usage.assign(**{name: usage[name].fillna(pd.Series(value, index=usage.index)) if name in usage
                           else value for name, value in defaults.items()})


def _per_site(usage: pd.DataFrame, sites: int) -> pd.DataFrame:
    """Each full-month usage row as up to ``sites`` rows of whole seats adding up to it (the first site
    takes the remainder); prorated rows stay whole, so every key's usage is exactly what it was. Each
    site is a subscription of its own (``<id>-s2``, ...): a subscription's rows replace one another.

    A site of seats (``recurring``) that comes back after months without a row (the seats fell below
    its number) is a new subscription, ``<id>-s2-2`` for its second run: under its old id its seats
    would carry over the gap (PRODUCT.md 4a), a usage the answer key does not hold."""
    seats = usage["quantity"].to_numpy(dtype=float)
    split = ~usage["partial"].to_numpy(bool) & (seats == np.floor(seats))
    count = np.where(split, np.clip(np.minimum(sites, seats), 1, None), 1).astype(np.int64)
    share, remainder = np.divmod(seats, count)
    first = np.zeros(int(count.sum()), dtype=bool)
    first[np.cumsum(count) - count] = True
    quantity = np.repeat(share, count) + np.where(first, np.repeat(remainder, count), 0)
    site = np.arange(len(first)) - np.repeat(np.cumsum(count) - count, count) + 1
    split_rows = usage.loc[usage.index.repeat(count)]
    subscription = split_rows["subscription_id"].astype("str")
    subscription = subscription.where(site == 1, subscription + "-s" + pd.Series(site, index=split_rows.index)
                                      .astype("str"))
    run = _site_runs(subscription.to_numpy(), split_rows["month"].to_numpy(),
                     (site > 1) & (split_rows["row_type"] == "recurring").to_numpy())
    subscription = subscription.where(run <= 1, subscription + "-" + pd.Series(run, index=split_rows.index)
                                      .astype("str"))
    return split_rows.assign(quantity=quantity, subscription_id=subscription.to_numpy())


def _site_runs(subscription: np.ndarray, month: np.ndarray, counted: np.ndarray) -> np.ndarray:
    """For each ``counted`` row, which run of consecutive months of its subscription id it is in (1, 2,
    ...); 0 for the others."""
    run = np.zeros(len(subscription), dtype=np.int64)
    position = np.flatnonzero(counted)
    if not len(position):
        return run
    order = position[np.lexsort((month[position], subscription[position]))]
    ids, months = subscription[order], month[order]
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = (ids[1:] != ids[:-1]) | (months[1:] > months[:-1] + 1)
    first = np.ones(len(order), dtype=bool)
    first[1:] = ids[1:] != ids[:-1]
    total = np.cumsum(starts)
    run[order] = total - np.maximum.accumulate(np.where(first, total, 0)) + 1
    return run


def _render_invoices(ctx: _Context, lines: pd.DataFrame, invoices: pd.DataFrame) -> pd.DataFrame:
    lines = lines.sort_values(["month", "client_id"], kind="stable")
    client_id, month = lines["client_id"].to_numpy(), lines["month"].to_numpy()
    paid = invoices.set_index(["client_id", "month"])["status"].eq("paid")
    line_paid = paid.reindex(pd.MultiIndex.from_arrays([client_id, month])).to_numpy(bool)
    start = ctx.periods["start"].to_numpy()[month]
    end = ctx.periods["end"].to_numpy()[month]
    if "service_start" in lines:  # a prorated line says the days it bills
        start_of_service = lines["service_start"].fillna(-1).to_numpy(np.int64)
        end_of_service = lines["service_end"].fillna(-1).to_numpy(np.int64)
    else:
        start_of_service = end_of_service = np.full(len(lines), -1, dtype=np.int64)
    numbers = _invoice_numbers(ctx, client_id, month)
    line_ids = pd.Series(numbers).groupby(pd.Series(numbers), sort=False).cumcount() + 1
    return _text_frame("invoices", {
        "invoice_number": numbers, "invoice_date": _iso_dates(start), "line_id": line_ids.astype("str"),
        "client": _client_text(ctx, client_id), "sku": lines["sku"], "quantity": _quantity_text(lines["quantity"]),
        "unit_price": _money_text(lines["unit_price"]), "amount": _money_text(lines["amount"]),
        "period_start": _iso_dates(np.where(start_of_service >= 0, start_of_service, start)),
        "period_end": _iso_dates(np.where(end_of_service >= 0, end_of_service, end)),
        "due_date": _iso_dates(start + _PAYMENT_TERMS_DAYS), "status": _lookup(("open", "paid"), line_paid),
        "description": lines["description"], "tax": _constant("0.00", len(lines)),
        "line_type": _constant("", len(lines)), "agreement_id": _constant("", len(lines)),
        "discount": _constant("", len(lines)),
    })


def _render_time_entries(ctx: _Context, entries: pd.DataFrame) -> pd.DataFrame:
    client_id = entries["client_id"].to_numpy()
    invoice = _invoice_numbers(ctx, client_id, entries["month"])
    return _text_frame("time_entries", {
        "date": _iso_dates(entries["date"]), "client": _client_text(ctx, client_id),
        "hours": _quantity_text(entries["hours"]), "billable": _flags(entries["billable"]),
        "rate": _money_text(entries["rate"]), "invoice_number": invoice.where(entries["invoiced"].to_numpy(), ""),
        "entry_id": "TE-" + pd.Series(np.arange(1, len(entries) + 1)).astype("str").str.zfill(7),
        "technician": entries["technician"], "ticket": "T-" + entries["ticket"].astype("str"),
        "work_type": entries["work_type"],
    })


def _render_payments(ctx: _Context, payments: pd.DataFrame) -> pd.DataFrame:
    return _text_frame("payments", {
        "invoice_number": _invoice_numbers(ctx, payments["client_id"], payments["month"]),
        "payment_date": _iso_dates(payments["date"]), "amount": _money_text(payments["amount"]),
    })


def _render_catalog() -> pd.DataFrame:
    frame = pd.DataFrame(_CATALOG, columns=["sku", "description", "list_price", "unit_cost", "vendor",
                                            "vendor_sku"])
    return _text_frame("catalog", {name: frame[name] for name in frame.columns})


def _render_aliases(ctx: _Context) -> pd.DataFrame:
    clients = ctx.clients[ctx.clients["old_name"] != ""]
    return _text_frame("client_aliases", {"alias": clients["old_name"], "client": clients["client"]})


def _render_files(ctx: _Context, books: _Books, entries: pd.DataFrame, names: pd.DataFrame,
                  noise: pd.DataFrame, invoices: pd.DataFrame, payments: pd.DataFrame,
                  usage_sites: int) -> dict[str, pd.DataFrame]:
    usage = {file: _render_usage(ctx, books.usage, names, noise, vendor, usage_sites)
             for vendor, file in VENDOR_FILES.items()}
    return {
        "contracts.csv": _render_contracts(ctx, books.contracts), **usage,
        "invoices.csv": _render_invoices(ctx, books.lines, invoices),
        "time_entries.csv": _render_time_entries(ctx, entries),
        "payments.csv": _render_payments(ctx, payments), "catalog.csv": _render_catalog(),
        "client_aliases.csv": _render_aliases(ctx),
    }


def _render_answer_key(ctx: _Context, answer: pd.DataFrame) -> pd.DataFrame:
    answer = answer.assign(client=ctx.clients["client"].to_numpy()[answer["client_id"].to_numpy()])
    answer = answer.sort_values(["month", "client", "sku", "type"], kind="stable", ignore_index=True)
    variance = answer["variance"].to_numpy()
    frame = pd.DataFrame({
        "period": ctx.periods["label"].to_numpy()[answer["month"].to_numpy()], "client": answer["client"],
        "sku": answer["sku"], "type": answer["type"], "variance": _money_text(variance),
        "direction": np.where(variance < 0, "under", "over"), "note": answer["note"],
    })
    return frame.astype("str")


def _receivables_text(ctx: _Context, invoices: pd.DataFrame) -> str:
    """README lines on how the invoices were paid, naming a few short-paid invoices."""
    short = invoices[(invoices["behaviour"] == "short") & (invoices["status"] == "paid")]
    numbers = _invoice_numbers(ctx, short["client_id"], short["month"]).iloc[:5]
    counts = invoices["behaviour"].value_counts().reindex(list(_PAYMENT_BEHAVIOURS), fill_value=0)
    return (f"{len(invoices)} invoices ({(invoices['status'] == 'open').sum()} still open): "
            f"{counts['on_time']} paid within terms, {counts['late']} paid late, {counts['split']} paid in "
            f"two instalments, {counts['short']} short-paid (marked paid, payments below the total; e.g. "
            f"{', '.join(sorted(numbers))}), {counts['unpaid']} never paid. Payment terms are "
            f"{_PAYMENT_TERMS_DAYS} days; the last month's invoices are mostly not yet due.")


def _readme(files: dict[str, pd.DataFrame], answer_key: pd.DataFrame, unmapped: pd.DataFrame,
            receivables: str, ctx: _Context, seed: int, as_of: str) -> str:
    """A short README: what the sample is, its files, its planted cases and its clean edge cases."""
    periods = ctx.periods["label"]
    file_rows = "\n".join(f"| `{name}` | {len(frame)} |" for name, frame in files.items())
    counts = answer_key["type"].value_counts().reindex(list(TYPES), fill_value=0)
    case_rows = "\n".join(f"| `{kind}` | {count} |" for kind, count in counts.items())
    return _README.format(
        clients=len(ctx.clients), first=periods.iloc[0], last=periods.iloc[-1], months=ctx.months,
        seed=seed, as_of=as_of, file_rows=file_rows, case_rows=case_rows, cases=len(answer_key),
        receivables=textwrap.fill(receivables, 105, break_on_hyphens=False),
        unmapped_rows=unmapped["rows"].astype(int).sum(),
    )


_README = """# Sample MSP (generated)

A fictional managed service provider with {clients} clients, billed monthly from {first} to {last}
({months} periods), generated by `recon.sample.generate_sample(seed={seed})`. Receivables are as of
{as_of} (payments dated later are not in the file yet). Same seed, same files.

## Files

| file | rows |
|---|---|
{file_rows}

Money is a plain decimal with two places, dates are ISO, an empty cell is missing. Vendor files use the
vendor's SKUs and the vendor's spelling of client names (Microsoft: tenant domains; Pax8: another legal
form, some upper case; Datto: upper case; SentinelOne: "The ..." or "... Ltd."), which normalise to the
PSA name. A few clients appear at Datto and SentinelOne under an old trading name listed in
`client_aliases.csv`.

## Planted discrepancies: `answer_key.csv` ({cases} rows)

| type | cases |
|---|---|
{case_rows}

Each case sits on its own (period, client, sku) key, except one combination ("billed 24 at last year's
price while the vendor says 27") that is both `quantity_under_billed` and `price_below_contract`.
Variances are billed minus expected, computed with the spec's formulas (PRODUCT.md section 4).

## Clean on purpose (must not be flagged)

- mid-month Exchange add-ons: the first usage row covers part of the month and the prorated quantity is
  billed to two decimals;
- a few lines billed about 0.3 % below the contract price (inside the 0.5 % tolerance);
- annual helpdesk lines, invoiced only in their anniversary month;
- DoNotBill contract lines (`billable` false), never invoiced;
- managed-server lines whose contract ended and whose billing stopped with it;
- block-of-hours clients: billable time within the 10 included hours carries no invoice number;
- non-billable time entries; one-time `PROJECT` charges (no contract, no vendor);
- vendor rows under an old trading name, resolved through `client_aliases.csv`.

Realities of real billing data (PRODUCT.md 4a), each billed correctly, so none is a finding either:

- Microsoft charges on anniversary cycles (the 20th to the 19th), counted by the days each month holds;
- a mid-month seat change: Microsoft's refund of the old quantity beside the charge of the new one (the
  quantity in effect changes on that day, the two rows never add up);
- a cancellation credit that nets against its charge;
- a year billed up front (an annual term), its cost spread over the twelve months it covers;
- trial seats (counted apart, never expected on an invoice) and a one-time Pax8 onboarding fee (expected
  once, in full, never prorated);
- `contracts_connectwise.csv`: ConnectWise agreement additions as the REST API returns them (flattened
  field names): an addition with included units (`lessIncluded`), an agreement cancelled part way, an
  agreement billed quarterly;
- `contracts_autotask.csv`: Autotask ContractServiceUnits whose unit count changes mid-month (the new row
  replaces the old one from its start date), billed prorated.

## Receivables

{receivables}

## Must stay unmapped: `expected_unmapped.csv` ({unmapped_rows} usage rows)

Client names with a typo that only a fuzzy match would suggest, and a vendor SKU that is not in the
catalog. They are listed, never valued.
"""
