import pandas as pd
import pytest

from recon.identity import build_directory, match_clients, normalise_client_name, sku_lookup


@pytest.mark.parametrize(("name", "key"), [
    ("ACME Corp", "acme"), ("Acme Corporation, Inc.", "acme"), ("acme.onmicrosoft.com", "acme"),
    ("The Acme Company", "acme"), ("Smith & Sons Plumbing LLC", "smithandsonsplumbing"),
    ("Café Müller GmbH", "cafemuller"), ("  Bright   Coast Dental ", "brightcoastdental"),
    ("Co", "co"),  # a name that is only a suffix keeps it
])
def test_normalised_names(name: str, key: str) -> None:
    assert normalise_client_name(name) == key


def test_tiers_claim_in_order_and_fuzzy_only_suggests() -> None:
    directory = build_directory(pd.Series(["Acme Corp", "Northwind Traders Inc.", "Bright Coast Dental"]),
                                pd.DataFrame({"alias": ["BCS Holdings"], "client": ["Bright Coast Dental"]}))
    names = pd.Series(["Acme Corp", "ACME CORPORATION", "bcs holdings", "Nortwind Tradrs", "Zebra"])
    matches = match_clients(names, directory).set_index("name")
    assert matches["match_tier"].to_dict() == {
        "Acme Corp": "exact", "ACME CORPORATION": "normalised", "bcs holdings": "alias",
        "Nortwind Tradrs": "unmatched", "Zebra": "unmatched"}
    assert pd.isna(matches.loc["Nortwind Tradrs", "client"])
    assert matches.loc["Nortwind Tradrs", "suggestion"] == "Northwind Traders Inc."
    assert matches.loc["Nortwind Tradrs", "suggestion_score"] > 85
    assert pd.isna(matches.loc["Zebra", "suggestion"])


def test_sku_lookup_from_catalog_lists_and_saved_maps() -> None:
    catalog = pd.DataFrame({"sku": ["M365-BP", "EDR"], "vendor_sku": ["MS-OFF-BUS-PREM; CFQ7TTC0LCHC", None]})
    saved = pd.DataFrame({"vendor_sku": ["S1-CORE"], "sku": ["EDR"]})
    lookup = sku_lookup(catalog, saved)
    assert lookup["cfq7ttc0lchc"] == "M365-BP" and lookup["ms-off-bus-prem"] == "M365-BP"
    assert lookup["s1-core"] == "EDR" and lookup["m365-bp"] == "M365-BP"
