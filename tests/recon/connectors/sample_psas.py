"""The ConnectWise and Autotask stand-ins holding the sample MSP's PSA records: the agreements and additions
``sample_data/contracts_connectwise.csv`` was exported from, and the contracts, services and unit rows of
``sample_data/contracts_autotask.csv`` (issue 21's "done when" runs the sample's fixes against them)."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.recon.connectors import psa_writes

SAMPLE = Path(__file__).resolve().parents[3] / "sample_data"
COMPANY_BASE = 29_700_000  # the stand-in's company ids for the sample's Autotask clients


def _rows(name: str) -> list[dict[str, str]]:
    with (SAMPLE / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def sample_connectwise() -> psa_writes.WritableConnectWise:
    """The ConnectWise stand-in holding the sample MSP's ConnectWise agreements and additions and its catalog."""
    psa = psa_writes.WritableConnectWise()
    for row in _rows("contracts_connectwise.csv"):
        agreement = int(row["agreement.id"])
        if not any(item["id"] == agreement for item in psa.data["finance/agreements"]):
            psa.data["finance/agreements"].append({
                "id": agreement, "name": row["agreement.name"], "company": {"name": row["agreement.company.name"]},
                "billingCycle": {"name": row["agreement.billingCycle.name"]}, "startDate": row["agreement.startDate"]})
        psa.data.setdefault(f"finance/agreements/{agreement}/additions", []).append({
            "id": int(row["id"]), "product": {"identifier": row["product.identifier"]},
            "quantity": float(row["quantity"]), "lessIncluded": float(row["lessIncluded"] or 0),
            "unitPrice": float(row["unitPrice"]), "billCustomer": row["billCustomer"],
            "effectiveDate": row["effectiveDate"], "cancelledDate": row["cancelledDate"] or None,
            "agreementId": agreement, "description": row["description"]})
    psa.data["procurement/catalog"] += [{"id": 100 + number, "identifier": item["sku"], "price": item["list_price"]}
                                        for number, item in enumerate(_rows("catalog.csv"))]
    return psa


def sample_autotask() -> psa_writes.WritableAutotask:
    """The Autotask stand-in holding the sample MSP's Autotask clients: their companies, contracts, contract
    services and ContractServiceUnits as ``contracts_autotask.csv`` lists them, and the services they bill."""
    psa = psa_writes.WritableAutotask()
    for entity, records in psa.data.items():  # only the sample's records (the stand-in's own clients are not
        psa.fields[entity] = psa.fields.get(entity, set()).union(*(record.keys() for record in records))  # its)
        records.clear()
    rows = _rows("contracts_autotask.csv")
    catalog = {item["sku"]: item for item in _rows("catalog.csv")}
    names = dict.fromkeys(row["companyName"] for row in rows)
    companies = {name: COMPANY_BASE + number for number, name in enumerate(names)}
    psa.data["Companies"] += [{"id": company, "companyName": name, "companyNumber": f"S-{company}", "isActive": True}
                              for name, company in companies.items()]
    for row in rows:
        contract, service, item = int(row["contractID"]), int(row["contractServiceID"]), int(row["serviceID"])
        if not any(known["id"] == contract for known in psa.data["Contracts"]):
            psa.data["Contracts"].append({
                "id": contract, "companyID": companies[row["companyName"]],
                "contractName": f"{row['companyName']} services",
                "contractNumber": f"C-{contract}", "contractType": 7, "contractPeriodType": 1, "status": 1,
                "startDate": "2025-01-01T00:00:00", "endDate": None})
        if not any(known["id"] == item for known in psa.data["Services"]):
            product = catalog.get(row["serviceID"], {})
            psa.data["Services"].append({
                "id": item, "name": product.get("description") or row["serviceID"], "description": "",
                "invoiceDescription": product.get("description"), "unitPrice": float(row["price"]),
                "unitCost": float(row["cost"]), "periodType": 1, "isActive": True, "vendorCompanyID": None,
                "userDefinedFields": [{"name": "Vendor SKU", "value": None}]})
        if not any(known["id"] == service for known in psa.data["ContractServices"]):
            psa.data["ContractServices"].append({
                "id": service, "contractID": contract, "serviceID": item, "unitPrice": float(row["price"]),
                "unitCost": float(row["cost"]), "invoiceDescription": "Workstation backup",
                "internalCurrencyUnitPrice": float(row["price"])})
        psa.data["ContractServiceUnits"].append({
            "id": int(row["id"]), "contractID": contract, "contractServiceID": service, "serviceID": item,
            "startDate": row["startDate"], "endDate": row["endDate"], "units": int(row["units"]),
            "price": float(row["price"]), "cost": float(row["cost"]), "internalCurrencyPrice": float(row["price"]),
            "approveAndPostDate": row["approveAndPostDate"] or None})
    return psa
