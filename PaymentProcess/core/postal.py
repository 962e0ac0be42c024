"""US mailing addresses: what makes one complete, and the findings of payees without one.

A check is mailed to its payee's address and the 835 names it (N3/N4), so the dry run
reports every settled payee whose address is missing, partial or not a US postal address:
``ADDRESS_INVALID`` (critical) for a payee about to be paid by check, ``ADDRESS_INCOMPLETE``
(warning) for any other. A state must be a USPS code (``TX``), never a name cut to fit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from PaymentProcess.data.models.payment_center import PaymentMethod
from PaymentProcess.data.models.stats import FindingCode, Severity, ValidationReport

ADDRESS_INVALID = FindingCode(
    "ADDRESS_INVALID", Severity.CRITICAL,
    "a payee paid by check has no complete US mailing address (line1, city, USPS state, ZIP)")
ADDRESS_INCOMPLETE = FindingCode(
    "ADDRESS_INCOMPLETE", Severity.WARNING,
    "a payee's address is missing or not a complete US mailing address (835 without N3/N4)")

REQUIRED_FIELDS = ("line1", "city", "state", "zip")

USPS_STATES = frozenset({
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
    "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
    "VT", "VA", "WA", "WV", "WI", "WY", "AS", "GU", "MP", "PR", "VI", "FM", "MH", "PW", "AA",
    "AE", "AP",
})
"""The 50 states, DC, the territories and freely associated states, and the military codes."""

_ZIP = re.compile(r"\d{5}(-?\d{4})?")


def address_problems(address: Any) -> list[str]:
    """Why ``address`` is not a complete US mailing address, one phrase each (empty if it is)."""
    if not isinstance(address, Mapping):
        return ["no address"]
    problems = [f"address.{name} missing" for name in REQUIRED_FIELDS
                if not isinstance(address.get(name), str) or not address[name].strip()]
    state, zip_code = address.get("state"), address.get("zip")
    if isinstance(state, str) and state.strip() and state not in USPS_STATES:
        problems.append(f"address.state {state!r} is not a USPS state code")
    if isinstance(zip_code, str) and zip_code.strip() and not _ZIP.fullmatch(zip_code):
        problems.append(f"address.zip {zip_code!r} is not a 5 or 9 digit ZIP code")
    return problems


def postal_zip(zip_code: str) -> str:
    """A valid ZIP code as the 835 writes it: 5 or 9 digits, no hyphen."""
    return zip_code.replace("-", "")


def report_address_findings(settlements: Iterable[Any], addresses: Mapping[str, Any],
                            report: ValidationReport) -> None:
    """Add a finding for every settled payee whose address has problems.

    ``settlements`` are the event's payee settlements (``key``, ``method``, ``disbursed``);
    ``addresses`` maps a payee key to its stored address (or the new payee's from its claim).
    """
    for settlement in settlements:
        problems = address_problems(addresses.get(settlement.key))
        if not problems:
            continue
        by_check = settlement.method is PaymentMethod.CHECK and settlement.disbursed > 0
        report.add(ADDRESS_INVALID if by_check else ADDRESS_INCOMPLETE, settlement.key,
                   "; ".join(problems))


def payee_addresses(documents: Iterable[Mapping[str, Any]], missing_keys: Iterable[str],
                    sources: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Payee key -> address: stored payees' documents, new payees' claim data."""
    addresses = {d["key"]: d.get("address") for d in documents if isinstance(d.get("key"), str)}
    addresses.update({key: (sources.get(key) or {}).get("address") for key in missing_keys})
    return addresses
