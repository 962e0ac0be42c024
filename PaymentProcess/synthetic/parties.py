"""Synthetic payees, members and rendering providers with valid identifiers.

Every NPI made here passes the Luhn check with the 80840 prefix (spec section 4), every
TIN has exactly 9 digits, and every payee key follows spec section 5.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from PaymentProcess.core.validation import npi_check_digit
from PaymentProcess.synthetic.banking import payee_bank

_FIRST = ("Avery", "Blake", "Casey", "Devon", "Emery", "Finley", "Harper", "Jordan",
          "Kendall", "Logan", "Morgan", "Parker", "Quinn", "Riley", "Rowan", "Taylor")
_LAST = ("Adams", "Baker", "Chen", "Diaz", "Evans", "Garcia", "Hughes", "Ibarra", "Jones",
         "Khan", "Lopez", "Miller", "Nguyen", "Okafor", "Patel", "Reyes", "Smith", "Walker")
_ORG = ("North", "Lakeside", "Hill", "Riverbend", "Cedar", "Oak Street", "Bayview", "Summit",
        "Prairie", "Harbor", "Maple", "Granite", "Willow", "Sunrise", "Canyon", "Meadow")
_SPECIALTY = ("Clinic PA", "Family Medicine", "Orthopedics", "Therapy", "Labs", "Pharmacy",
              "Imaging", "Dental Group", "Pediatrics", "Cardiology", "Urgent Care", "Surgery")
_STREETS = ("Main St", "Oak Ave", "Elm St", "Park Blvd", "Lake Dr", "Pine Rd", "Cedar Ln")
_CITIES = (("Dallas", "TX", "75001"), ("Austin", "TX", "78701"), ("Houston", "TX", "77002"),
           ("Miami", "FL", "33101"), ("Tampa", "FL", "33602"), ("Albany", "NY", "12207"),
           ("Fresno", "CA", "93721"), ("Atlanta", "GA", "30303"))


def make_npi(number: int) -> str:
    """A valid NPI whose first 9 digits are ``number`` (100000000 <= number < 300000000)."""
    first9 = f"{number:09d}"
    return first9 + npi_check_digit(first9)


def _address(rng: random.Random) -> dict[str, str]:
    city, state, zip_code = rng.choice(_CITIES)
    return {
        "line1": f"{rng.randint(1, 9999)} {rng.choice(_STREETS)}",
        "city": city,
        "state": state,
        "zip": zip_code,
    }


@dataclass(frozen=True, slots=True)
class Party:
    """A provider or member as it appears on claims (and, for payees, in PaymentCenter).

    ``block`` is the claim's ``provider`` or ``member`` sub-document ``{name, address}``.
    """

    name: str
    address: dict[str, str]
    npi: str | None = None
    tin: str | None = None
    member_id: str | None = None

    @property
    def block(self) -> dict[str, Any]:
        """The ``{name, address}`` sub-document a claim carries for this party."""
        return {"name": self.name, "address": self.address}


@dataclass(frozen=True, slots=True)
class Payee:
    """A payment center of the synthetic store.

    ``pc_id`` is None for a payee that exists only on claims (the engine must create it).
    """

    key: str
    party: Party
    pc_id: int | None
    payment_method: str
    status: str

    def document(self, pc_type: str) -> dict[str, Any]:
        """The ``PaymentCenter`` document of an existing payee (spec 3.1), with the bank
        account of an EFT payee (spec 13)."""
        party = self.party
        bank = {"bank": payee_bank(self.pc_id)} if self.payment_method == "EFT" else {}
        return {
            "_id": self.pc_id,
            "key": self.key,
            "type": pc_type,
            "vendor_name": party.name,
            "tax_id": party.tin,
            "npi": party.npi,
            "member_id": party.member_id,
            "address": party.address,
            "payment_method": self.payment_method,
            "status": self.status,
            **bank,
        }


def make_providers(rng: random.Random, count: int) -> list[Party]:
    """``count`` distinct providers with valid NPIs; about a fifth share a group TIN."""
    npi_base = rng.randrange(100_000_000, 200_000_000 - count)
    tin_base = rng.randrange(100_000_000, 900_000_000 - count)
    providers: list[Party] = []
    for index in range(count):
        shares_group_tin = bool(providers) and rng.random() < 0.2
        tin = providers[-1].tin if shares_group_tin else f"{tin_base + index:09d}"
        name = f"{rng.choice(_ORG)} {rng.choice(_SPECIALTY)}"
        providers.append(Party(name, _address(rng), npi=make_npi(npi_base + index), tin=tin))
    return providers


def make_members(rng: random.Random, count: int) -> list[Party]:
    """``count`` distinct members with MemberIDs ``M`` + 9 digits."""
    base = rng.randrange(100_000_000, 900_000_000 - count)
    return [
        Party(
            f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
            _address(rng),
            member_id=f"M{base + index:09d}",
        )
        for index in range(count)
    ]


def payee_key(pc_type: str, party: Party) -> str:
    """The payee key of spec section 5 for ``party`` in a ``pc_type`` event."""
    if pc_type == "PROVIDER":
        return f"PROVIDER:{party.tin}:{party.npi}"
    return f"DMR:{party.member_id}"


def make_payees(rng: random.Random, pc_type: str, count: int) -> list[Payee]:
    """``count`` payees: most stored in PaymentCenter, about a tenth only on claims.

    Stored payees get increasing integer ids from 1001 with small gaps; about 40 % are
    paid by EFT and about 5 % (at least one when there are three or more) are on HOLD.
    The payees only on claims come last in the list.
    """
    parties = make_providers(rng, count) if pc_type == "PROVIDER" else make_members(rng, count)
    new_only = count // 10 if count >= 10 else (1 if count >= 2 else 0)
    stored = count - new_only
    hold = set(rng.sample(range(stored), k=max(1, stored // 20))) if stored >= 3 else set()
    payees: list[Payee] = []
    pc_id = 1000
    for index, party in enumerate(parties):
        if index < stored:
            pc_id += rng.choice((1, 1, 1, 2, 5))
            method = "EFT" if rng.random() < 0.4 else "CHECK"
            status = "HOLD" if index in hold else "ACTIVE"
            payees.append(Payee(payee_key(pc_type, party), party, pc_id, method, status))
        else:
            payees.append(Payee(payee_key(pc_type, party), party, None, "CHECK", "ACTIVE"))
    return payees
