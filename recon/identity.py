"""Identity: which PSA client and which PSA product each row means (PRODUCT.md section 3).

Client names resolve in ordered tiers, each unique name claimed by the first tier that matches and
carrying ``match_tier`` and ``match_score`` so the UI can explain the match: saved ``alias``, ``exact``,
``normalised`` (case, accents, punctuation, legal suffixes, "The", domains), and finally a ``fuzzy``
*suggestion* that is reported for a person to confirm and never applied. Vendor SKUs map to PSA SKUs
through the catalog's ``vendor_sku`` list and saved SKU mappings. Work is done on unique names, never
per row, so it stays linear in rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from recon.cells import per_distinct

LEGAL_SUFFIXES = frozenset({
    "inc", "incorporated", "llc", "ltd", "limited", "gmbh", "corp", "corporation", "co", "company",
    "plc", "pty", "llp", "lp",
})
MATCH_TIERS = ("alias", "exact", "normalised", "fuzzy", "unmatched")

MATCH_COLUMNS = ("name", "client", "match_tier", "match_score", "suggestion", "suggestion_score")
SKU_MAP_COLUMNS = ("vendor_sku", "sku")



_SUFFIX_ALTERNATIVES = "|".join(sorted(LEGAL_SUFFIXES))


def normalise_client_names(names: pd.Series) -> pd.Series:
    """The comparison key of each client name: ``"The ACME Corp., Inc."``, ``"acme.onmicrosoft.com"`` and
    ``"Acme"`` all give ``"acme"``; empty for a name with nothing left.

    Accents and non-Latin marks go (NFKD), case folds, ``&`` reads "and", a tenant domain keeps its first
    label, punctuation becomes a space, a leading "the" and trailing legal suffixes (Inc, LLC, Ltd, GmbH,
    Corp, ...) are dropped while at least one word remains, then spaces go. Vectorised string operations
    only (Arrow regular expressions), so it costs no Python call per name.
    """
    text = pd.Series(names, dtype="str").fillna("").str.normalize("NFKD")
    text = text.str.replace(r"[^\x00-\x7f]", "", regex=True).str.lower().str.strip()
    text = text.str.replace("&", " and ", regex=False)
    is_domain = ~text.str.contains(r"\s", regex=True) & text.str.strip(".").str.contains(".", regex=False)
    text = text.where(~is_domain, text.str.replace(r"\..*$", "", regex=True))
    text = text.str.replace(r"[^a-z0-9]+", " ", regex=True).str.strip()
    text = text.str.replace(r"^the ", "", regex=True)
    text = text.str.replace(rf"(?: (?:{_SUFFIX_ALTERNATIVES}))+$", "", regex=True)
    return text.str.replace(" ", "", regex=False)


def normalise_client_name(name: str) -> str:
    """``normalise_client_names`` for one name."""
    return str(normalise_client_names(pd.Series([name])).iloc[0])


def _fold(text: pd.Series) -> pd.Series:
    return text.astype("string").str.strip().str.casefold()


@dataclass(frozen=True)
class ClientDirectory:
    """The PSA's clients and the saved aliases, indexed for each tier."""

    clients: tuple[str, ...]
    by_exact: dict[str, str]
    by_normalised: dict[str, str]
    by_alias: dict[str, str]


def build_directory(psa_names: pd.Series, aliases: pd.DataFrame | None = None) -> ClientDirectory:
    """Index the PSA client names (first spelling wins for names that normalise alike) and the aliases
    (``alias`` -> ``client``; an alias pointing at a PSA spelling variant lands on its canonical name)."""
    unique = pd.Series(pd.unique(psa_names.dropna().astype(str).str.strip()), dtype="str")
    keyed = pd.DataFrame({"key": normalise_client_names(unique), "name": unique})
    keyed = keyed[keyed["key"] != ""].drop_duplicates("key", keep="first")
    by_normalised = dict(zip(keyed["key"], keyed["name"], strict=True))
    by_exact = {name: name for name in by_normalised.values()}
    by_alias: dict[str, str] = {}
    if aliases is not None and len(aliases):
        targets = aliases["client"].astype(str).str.strip()
        target_keys = normalise_client_names(targets)
        for alias, client, key in zip(_fold(aliases["alias"]), targets, target_keys, strict=True):
            by_alias[alias] = by_exact.get(client) or by_normalised.get(key, client)
    return ClientDirectory(tuple(by_exact), by_exact, by_normalised, by_alias)


def match_clients(names: pd.Series, directory: ClientDirectory, suggest_min: float = 70.0) -> pd.DataFrame:
    """Resolve unique ``names`` against the directory; one row per unique name (``MATCH_COLUMNS``).

    ``client`` is the canonical PSA name, or ``<NA>`` when unmatched; an unmatched name gets the best
    fuzzy ``suggestion`` with its 0-100 ``suggestion_score`` when it reaches ``suggest_min``.
    """
    unique = pd.Series(pd.unique(names.dropna().astype(str).str.strip()), dtype="string")
    folded = _fold(unique)
    normalised = normalise_client_names(unique).astype("string")
    tiers = [
        ("alias", folded.map(directory.by_alias)),
        ("exact", unique.map(directory.by_exact)),
        ("normalised", normalised.map(directory.by_normalised)),
    ]
    client = pd.Series(pd.NA, index=unique.index, dtype="string")
    tier = pd.Series("unmatched", index=unique.index, dtype="string")
    for tier_name, candidates in tiers:
        claim = client.isna() & candidates.notna()
        client = client.where(~claim, candidates.astype("string"))
        tier = tier.where(~claim, tier_name)
    score = pd.Series(np.where(client.notna(), 100.0, 0.0), index=unique.index)
    result = pd.DataFrame({"name": unique, "client": client, "match_tier": tier, "match_score": score})
    suggestions = suggest_clients(normalised[client.isna()], directory, suggest_min)
    return result.join(suggestions).reindex(columns=list(MATCH_COLUMNS))


def suggest_clients(normalised: pd.Series, directory: ClientDirectory, suggest_min: float) -> pd.DataFrame:
    """Best fuzzy candidate per unmatched name (scored on the normalised keys), at or above
    ``suggest_min``. A suggestion is only ever shown for confirmation, never applied."""
    keys = list(directory.by_normalised)
    suggestion = pd.Series(pd.NA, index=normalised.index, dtype="string")
    suggestion_score = pd.Series(np.nan, index=normalised.index, dtype="float64")
    for index, key in normalised.items():
        best = process.extractOne(key, keys, scorer=fuzz.ratio, score_cutoff=suggest_min) if key else None
        if best is not None:
            suggestion[index] = directory.by_normalised[best[0]]
            suggestion_score[index] = round(float(best[1]), 1)
    return pd.DataFrame({"suggestion": suggestion, "suggestion_score": suggestion_score})


def without_rejected(suggested: pd.DataFrame, rejected: pd.DataFrame | None) -> pd.DataFrame:
    """A copy of ``suggested`` (unmapped rows or client matches: a name in ``client_raw``, else ``name``,
    with its ``suggestion`` and ``suggestion_score``) where the suggestions people rejected are blanked
    out, so they are not offered again. ``rejected``: the rejected pairs (``name``, ``client``); a name
    matches stripped and case-insensitively, the client exactly. The one rule for the Mappings queue,
    wherever the rejections are kept."""
    if rejected is None or not len(rejected):
        return suggested
    name_column = "client_raw" if "client_raw" in suggested else "name"
    refused = pd.MultiIndex.from_arrays([_folded(rejected["name"]), rejected["client"].astype("string")])
    offered = pd.MultiIndex.from_arrays([_folded(suggested[name_column]), suggested["suggestion"].astype("string")])
    hit = offered.isin(refused)
    blanked = {column: suggested[column].mask(hit) for column in ("suggestion", "suggestion_score")
               if column in suggested}
    return suggested.assign(**blanked)


def _folded(names: pd.Series) -> pd.Series:
    return names.astype("string").str.strip().str.casefold()


def sku_lookup(catalog: pd.DataFrame, sku_map: pd.DataFrame | None = None,
               psa_skus: pd.Series | None = None) -> dict[str, str]:
    """Folded vendor SKU -> PSA SKU: saved SKU mappings win over the catalog's ``vendor_sku`` lists, and a
    vendor row that already uses a PSA SKU (catalog or contract/invoice SKU) maps to itself."""
    lookup: dict[str, str] = {}
    known = pd.concat([catalog["sku"], psa_skus if psa_skus is not None else pd.Series(dtype="string")])
    for sku in pd.unique(known.dropna().astype(str).str.strip()):
        lookup.setdefault(sku.casefold(), sku)
    listed = catalog[["sku", "vendor_sku"]].dropna()
    exploded = listed.assign(vendor_sku=listed["vendor_sku"].str.split(";")).explode("vendor_sku")
    for vendor_sku, sku in zip(exploded["vendor_sku"].str.strip(), exploded["sku"].str.strip(), strict=True):
        if vendor_sku:
            lookup[vendor_sku.casefold()] = sku
    if sku_map is not None:
        lookup |= dict(zip(_fold(sku_map["vendor_sku"]), sku_map["sku"].astype(str).str.strip(), strict=True))
    return lookup


def map_skus(skus: pd.Series, lookup: dict[str, str]) -> pd.Series:
    """Vendor SKUs -> PSA SKUs (``<NA>`` where unknown), case-insensitively. A Microsoft product is
    ``ProductId:SkuId`` (PRODUCT.md 4a): where that exact pair is not mapped, the ``ProductId`` alone is
    (a catalog ``vendor_sku`` naming only the product matches all its SKUs)."""
    return per_distinct(lambda distinct: _mapped_skus(_fold(distinct), lookup), skus).astype("string")


def _mapped_skus(folded: pd.Series, lookup: dict[str, str]) -> pd.Series:
    mapped = folded.map(lookup)
    product = folded.str.split(":", n=1).str[0].where(folded.str.contains(":", regex=False).fillna(False))
    return mapped.fillna(product.map(lookup))
