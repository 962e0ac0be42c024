"""Bank data of the synthetic store (spec 13), derived from ids only.

Nothing here draws from the generator's random streams, so adding bank data changes no
other synthetic figure. Routing numbers are real-format ABA numbers that pass the check
digit; account numbers are made up.
"""

from __future__ import annotations

ROUTINGS = ("011000015", "021000021", "111000025", "121000248", "091000019")
"""ABA routing numbers (valid check digits) the synthetic accounts are spread over."""


def funding_bank(index: int) -> dict[str, str]:
    """``FundingSource.bank`` of funding source ``index``: the ODFI account and ACH identity."""
    company_id = f"175000000{index + 1}"
    return {
        "routing": ROUTINGS[-1 - index % len(ROUTINGS)],
        "account": f"90000{index + 1:07d}",
        "company_id": company_id,
        "company_name": f"SYN HEALTH {index + 1}",
        "odfi_name": "SYNTHETIC NATIONAL BANK",
        "immediate_origin": company_id,
    }


def payee_bank(payment_center_id: int) -> dict[str, str]:
    """``PaymentCenter.bank`` of an EFT payee: every fifth a savings account."""
    return {
        "routing": ROUTINGS[payment_center_id % len(ROUTINGS)],
        "account": f"{payment_center_id * 7919:012d}",
        "type": "SAVINGS" if payment_center_id % 5 == 0 else "CHECKING",
    }
