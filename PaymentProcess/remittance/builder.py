"""Building the :class:`~PaymentProcess.remittance.model.Remittance` of one payee from what a
final run stored: ``PaymentSettlement``, ``ClaimFinCore``, ``PaymentInfo``, ``Payments``,
``PaymentCenter`` and the payer identity of the event's ``FundingSource``.

Each chain of the payee contributes, in the order of its versions (spec 4.1): the paid
original of a new chain, then for every version replaced or voided in this event a
reversal of it (CLP02 22) followed by the replacing version, if any. The chain's CLP04
then add up to its ledger ``benefit_amount`` for the event, which is checked. The
settlement's carried balances become PLB adjustments (see ``docs/remittance.md``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bson.decimal128 import Decimal128

from PaymentProcess.core.postal import address_problems, postal_zip
from PaymentProcess.remittance.model import (
    REVERSAL,
    ZERO,
    Address,
    Adjustment,
    ClaimPayment,
    Payee,
    Payer,
    ProviderAdjustment,
    Remittance,
    RemittanceError,
    ServicePayment,
)
from PaymentProcess.utils.error_handling import ConfigurationError
from PaymentProcess.utils.logging import get_logger

CENT = Decimal("0.01")
FILING_INDICATOR = "ZZ"
"""CLP06: the store does not carry the claim filing indicator, so "mutually defined"."""

DENIED = "4"
PROCESSED = "1"
DEFAULT_DENIAL = ("CO", "204")
"""CAS of a denied claim whose ClaimWSCore gives no ``denial_reason``: CARC 204, the service
is not covered under the patient's current benefit plan (needs no remark code)."""
_DENIAL_GROUPS = frozenset({"CO", "PR", "OA", "PI"})
_CARC = re.compile(r"[A-Z0-9]{1,5}")

log = get_logger(__name__)

# (line field, CAS group, CARC) in the order the patient share and other payer consume allowed
_SHARES = (
    ("deductible", "PR", "1"),
    ("coinsurance", "PR", "2"),
    ("copay", "PR", "3"),
    ("cob_paid", "OA", "23"),
)

Document = dict[str, Any]


def money(value: Any, what: str) -> Decimal:
    """A stored amount (BSON Decimal128, as the final run stores money) as a 2-place Decimal."""
    if not isinstance(value, Decimal128):
        raise RemittanceError(f"{what}: {value!r} is not a Decimal128 amount")
    amount = value.to_decimal()
    if not amount.is_finite() or amount.quantize(CENT) != amount:
        raise RemittanceError(f"{what}: {value!r} is not a whole number of cents")
    return amount.quantize(CENT)


def load_payer(db: Any, event: Document) -> Payer:
    """The payer identity stored on the event's funding source as ``payer``.

    ``{name, tax_id (9 digits), address: {line1, city, state, zip}, contact_phone}``;
    a missing or incomplete one is a configuration error (exit 2).
    """
    source_id = event.get("funding_source_id")
    source = db.FundingSource.find_one({"_id": source_id}) or {}
    payer = source.get("payer") or {}
    address = payer.get("address") or {}
    fields = {
        "name": payer.get("name"),
        "tax_id": payer.get("tax_id"),
        "contact_phone": payer.get("contact_phone"),
        **{f"address.{k}": address.get(k) for k in ("line1", "city", "state", "zip")},
    }
    missing = sorted(k for k, v in fields.items() if not isinstance(v, str) or not v)
    if missing:
        raise ConfigurationError(
            f"FundingSource {source_id!r} lacks the payer identity the 835 needs: "
            f"payer.{', payer.'.join(missing)}"
        )
    if not (len(payer["tax_id"]) == 9 and payer["tax_id"].isdigit()):
        raise ConfigurationError(f"FundingSource {source_id!r}: payer.tax_id is not 9 digits")
    problems = address_problems(address)
    if problems:
        raise ConfigurationError(f"FundingSource {source_id!r}: payer.{'; payer.'.join(problems)}")
    return Payer(
        name=payer["name"],
        tax_id=payer["tax_id"],
        address=_postal(address),
        contact_phone=payer["contact_phone"],
    )


@dataclass(frozen=True)
class _Prior:
    """A chain's version in force before the event and what the ledger credited for it."""

    claim_id: str
    amount: Decimal
    payment_info_id: str


def build_remittance(db: Any, event: Document, settlement: Document, payer: Payer,
                     given_denials: Mapping[str, Any]) -> Remittance:
    """The remittance of the payee of ``settlement`` for the finished ``event``.

    ``given_denials`` is :func:`given_denial_reasons` (read once for all payees).
    """
    event_id = event["_id"]
    center_id = settlement["PaymentCenter_ID"]
    center = db.PaymentCenter.find_one({"_id": center_id})
    if center is None:
        raise RemittanceError(f"PaymentCenter {center_id} of {settlement['_id']} is missing")
    entries = list(
        db.ClaimFinCore.find({"PaymentEvent_ID": event_id, "PaymentCenter_ID": center_id}).sort(
            "ParentClaimCore_ID", 1
        )
    )
    chains = [e["ParentClaimCore_ID"] for e in entries]
    infos = _by_chain(
        db.PaymentInfo.find({"PaymentEvent_ID": event_id, "ParentClaimCore_ID": {"$in": chains}})
    )
    history = _by_chain(
        db.ClaimFinCore.find(
            {"ParentClaimCore_ID": {"$in": chains}, "PaymentEvent_ID": {"$ne": event_id}}
        )
    )
    priors = {e["ParentClaimCore_ID"]: _prior(e, history[e["ParentClaimCore_ID"]]) for e in entries}
    prior_ids = [p.payment_info_id for p in priors.values() if p is not None]
    prior_infos = {d["_id"]: d for d in db.PaymentInfo.find({"_id": {"$in": prior_ids}})}
    denied = [i for i in [*prior_infos.values(), *(i for c in infos.values() for i in c)]
              if i["ClaimStatus"] == "DENIED"]
    denials = {i["ClaimCore_ID"]: denial_reason(i["ClaimCore_ID"],
                                                given_denials.get(i["ClaimCore_ID"]))
               for i in denied}
    claims: list[ClaimPayment] = []
    for entry in entries:
        prior = priors[entry["ParentClaimCore_ID"]]
        prior_info = prior_infos.get(prior.payment_info_id) if prior else None
        claims.extend(_chain_claims(entry, infos[entry["ParentClaimCore_ID"]], prior, prior_info,
                                    denials))
    amount, method, trace_number = _payment(db, event_id, settlement)
    return Remittance(
        payment_event_id=event_id,
        payment_center_id=center_id,
        amount=amount,
        method=method,
        trace_number=trace_number,
        issue_date=_day(event["due_date"]),
        payer=payer,
        payee=_payee(center, method),
        claims=tuple(claims),
        adjustments=_provider_adjustments(db, settlement, entries),
    )


def _by_chain(documents: Iterable[Document]) -> defaultdict[str, list[Document]]:
    grouped: defaultdict[str, list[Document]] = defaultdict(list)
    for document in documents:
        grouped[document["ParentClaimCore_ID"]].append(document)
    return grouped


def _prior(entry: Document, others: list[Document]) -> _Prior | None:
    """The chain's version in force before ``entry``'s event, from the earlier ledger entries."""

    def order(e: Document) -> tuple[datetime, str]:
        return e["paid_date"], e["PaymentEvent_ID"]

    earlier = sorted((o for o in others if order(o) < order(entry)), key=order)
    if not earlier or earlier[-1]["final_ClaimCore_ID"] is None:
        return None
    latest = earlier[-1]
    return _Prior(
        claim_id=latest["final_ClaimCore_ID"],
        amount=sum((money(e["benefit_amount"], e["_id"]) for e in earlier), ZERO),
        payment_info_id=f"{latest['PaymentEvent_ID']}:{latest['final_ClaimCore_ID']}",
    )


def _chain_claims(
    entry: Document,
    infos: list[Document],
    prior: _Prior | None,
    prior_info: Document | None,
    denials: dict[str, tuple[str, str]],
) -> list[ClaimPayment]:
    """The CLPs of one chain for the event, in version order (see the module docstring)."""
    chain = entry["ParentClaimCore_ID"]
    replacing = _referencing(infos, "7", "OriginalClaimCore_ID", chain)
    voiding = _referencing(infos, "8", "VoidClaimCore_ID", chain)
    settled: set[str] = set()
    claims: list[ClaimPayment] = []
    current: ClaimPayment | None
    if prior is None:
        originals = [i for i in infos if i["FrequencyCode"] == "1"]
        if len(originals) != 1:
            raise RemittanceError(f"chain {chain}: new chain without exactly one original")
        current_id, current = originals[0]["ClaimCore_ID"], _claim(originals[0], denials)
        claims.append(current)
        settled.add(current_id)
    else:
        current_id = prior.claim_id
        current = _claim(prior_info, denials) if prior_info is not None else None
        if current is not None and current.paid != prior.amount:
            raise RemittanceError(
                f"chain {chain}: {prior.payment_info_id} paid {current.paid}, "
                f"the ledger credited {prior.amount}"
            )
    while current_id in replacing or current_id in voiding:
        replacement = replacing.get(current_id)
        void = voiding.get(current_id)
        if current is not None:
            claims.append(current.reversal())
        elif prior is not None:
            claims.append(_claim_level_reversal(prior, replacement or void))
        if void is not None:
            settled.add(void["ClaimCore_ID"])
        if replacement is None:
            current_id, current = None, None
            break
        if replacement["ClaimCore_ID"] in settled:
            raise RemittanceError(f"chain {chain}: {replacement['ClaimCore_ID']} replaces itself")
        current_id, current = replacement["ClaimCore_ID"], _claim(replacement, denials)
        claims.append(current)
        settled.add(current_id)
    unreached = sorted({i["ClaimCore_ID"] for i in infos} - settled)
    if unreached or current_id != entry["final_ClaimCore_ID"]:
        raise RemittanceError(
            f"chain {chain}: versions {unreached} unreached or the version in force "
            f"{current_id} is not the ledger's {entry['final_ClaimCore_ID']}"
        )
    interest = money(entry["interest_amount"], entry["_id"])
    if interest != ZERO:
        if current is None:
            raise RemittanceError(f"chain {chain}: interest on a voided chain")
        claims[-1] = replace(current, interest=interest)
    net = sum((c.paid for c in claims), ZERO)
    if net != money(entry["benefit_amount"], entry["_id"]):
        raise RemittanceError(
            f"chain {chain}: CLP04 add up to {net}, ledger {entry['benefit_amount']}"
        )
    return claims


def _referencing(infos: list[Document], code: str, field: str, chain: str) -> dict[str, Document]:
    """The claims of frequency ``code`` by the version their ``field`` references."""
    found: dict[str, Document] = {}
    for info in infos:
        if info["FrequencyCode"] != code:
            continue
        if info[field] in found:
            raise RemittanceError(
                f"chain {chain}: two frequency {code} claims reference {info[field]}"
            )
        found[info[field]] = info
    return found


def denial_reason(claim_id: str, value: Any) -> tuple[str, str]:
    """(CAS group, CARC) of a denied claim from its ClaimWSCore ``denial_reason`` (or None).

    ``denial_reason: {group: CO | PR | OA | PI, code: CARC}`` is optional; without it the
    default :data:`DEFAULT_DENIAL`. A malformed one is a RemittanceError naming the claim,
    never replaced by a guess.
    """
    if value is None:
        return DEFAULT_DENIAL
    group = value.get("group") if isinstance(value, dict) else None
    code = value.get("code") if isinstance(value, dict) else None
    if group not in _DENIAL_GROUPS or not isinstance(code, str) or not _CARC.fullmatch(code):
        raise RemittanceError(f"ClaimWSCore {claim_id}: denial_reason {value!r} is not "
                              "{group: CO|PR|OA|PI, code: a CARC}")
    return group, code


def given_denial_reasons(db: Any) -> dict[str, Any]:
    """ClaimCore_ID -> ``denial_reason`` of every ClaimWSCore document that gives one."""
    return {d["ClaimCore_ID"]: d["denial_reason"] for d in db.ClaimWSCore.find(
        {"denial_reason": {"$exists": True}}, {"ClaimCore_ID": 1, "denial_reason": 1})}


def _claim(info: Document, denials: dict[str, tuple[str, str]]) -> ClaimPayment:
    """A settled claim version from its PaymentInfo, with one SVC per stored line."""
    denied = info["ClaimStatus"] == "DENIED"
    denial = denials[info["ClaimCore_ID"]] if denied else None
    qualifier = "AD" if info.get("ClaimType") == "DENTAL" else "HC"
    where = info["_id"]
    services = tuple(
        _service(line, denial, qualifier, f"{where} line {line.get('line_no')}")
        for line in sorted(info["lines"], key=lambda line: line["line_no"])
    )
    billed = money(info["claim_billed"], f"{where} claim_billed")
    paid = money(info["claim_paid"], f"{where} claim_paid")
    if (
        sum((s.billed for s in services), ZERO) != billed
        or sum((s.paid for s in services), ZERO) != paid
    ):
        raise RemittanceError(f"{where}: claim_billed or claim_paid is not the sum of its lines")
    member = info.get("member") or {}
    return ClaimPayment(
        patient_control_number=info["patient_control_number"],
        status=DENIED if denied else PROCESSED,
        billed=billed,
        paid=paid,
        patient_responsibility=sum(
            (a.amount for s in services for a in s.adjustments if a.group == "PR"), ZERO
        ),
        filing_indicator=FILING_INDICATOR,
        payer_claim_id=info["ClaimCore_ID"],
        frequency_code=info.get("FrequencyCode"),
        patient_name=member.get("name"),
        member_id=info.get("MemberID"),
        received_date=_day(info["received_date"]) if info.get("received_date") else None,
        interest=ZERO,
        services=services,
    )


def _service(
    line: Document, denial: tuple[str, str] | None, qualifier: str, where: str
) -> ServicePayment:
    """One line with CAS explaining billed - paid.

    CO-45 billed - allowed; then deductible (PR-1), coinsurance (PR-2), copay (PR-3) and
    other payer (OA-23), each capped at what is left of allowed; CO-253 the reduction.
    A line of a denied claim (``denial`` its group and CARC) pays nothing: its whole charge
    is that denial reason and no allowed is reported.
    """
    billed = money(line["billed"], f"{where} billed")
    paid = money(line["paid"], f"{where} paid")
    if denial is not None:
        adjustments = [Adjustment(*denial, billed - paid)]
        allowed = None
    else:
        allowed = money(line["allowed"], f"{where} allowed")
        adjustments = [Adjustment("CO", "45", billed - allowed)]
        left = allowed
        for field, group, reason in _SHARES:
            share = min(money(line[field], f"{where} {field}"), left)
            adjustments.append(Adjustment(group, reason, share))
            left -= share
        adjustments.append(Adjustment("CO", "253", money(line["reduction"], f"{where} reduction")))
    kept = tuple(a for a in adjustments if a.amount != ZERO)
    if billed - sum((a.amount for a in kept), ZERO) != paid:
        raise RemittanceError(f"{where}: stored paid {paid} does not follow from its amounts")
    units = line.get("units")
    if units is None:  # the engine stores lines without units as they came: one unit
        units = 1
    return ServicePayment(
        qualifier=qualifier,
        procedure_code=line["procedure_code"],
        billed=billed,
        paid=paid,
        units=units.to_decimal() if isinstance(units, Decimal128) else Decimal(units),
        service_date=_day(line["service_date"]) if line.get("service_date") else None,
        allowed=allowed,
        adjustments=kept,
    )


def _claim_level_reversal(prior: _Prior, via: Document) -> ClaimPayment:
    """Reversal of a version paid before this engine (no PaymentInfo): the ledger's amount
    as charge and payment, no lines; patient and control number of the reversing claim."""
    member = via.get("member") or {}
    return ClaimPayment(
        patient_control_number=via["patient_control_number"],
        status=REVERSAL,
        billed=-prior.amount,
        paid=-prior.amount,
        patient_responsibility=ZERO,
        filing_indicator=FILING_INDICATOR,
        payer_claim_id=prior.claim_id,
        frequency_code=None,
        patient_name=member.get("name"),
        member_id=via.get("MemberID"),
        received_date=None,
        interest=ZERO,
        services=(),
    )


def _provider_adjustments(
    db: Any, settlement: Document, entries: list[Document]
) -> tuple[ProviderAdjustment, ...]:
    """PLB: L6 interest paid (negative); a prior OVER recovered (positive): FB with the
    reference it was forwarded under when an earlier 835 forwarded it, else WO; FB balances
    carried: an UNDER consumed (negative), a new OVER (negative), a new UNDER (positive)."""
    where = settlement["_id"]
    interest = sum((money(e["interest_amount"], e["_id"]) for e in entries), ZERO)
    items = [ProviderAdjustment("L6", None, -interest)]
    applied = settlement.get("over_applied", [])
    forwarded = {s["new_over_id"] for s in db.PaymentSettlement.find(
        {"new_over_id": {"$in": [a["ou_id"] for a in applied]}}, {"new_over_id": 1})
    } if applied else set()
    items += [
        ProviderAdjustment("FB" if a["ou_id"] in forwarded else "WO", a["ou_id"],
                           money(a["amount"], f"{where} over_applied"))
        for a in applied
    ]
    items += [
        ProviderAdjustment("FB", a["ou_id"], -money(a["amount"], f"{where} under_consumed"))
        for a in settlement.get("under_consumed", [])
    ]
    new_over = money(settlement["new_over"], f"{where} new_over")
    new_under = money(settlement["new_under"], f"{where} new_under")
    if new_over != ZERO:
        items.append(ProviderAdjustment("FB", settlement["new_over_id"], -new_over))
    if new_under != ZERO:
        items.append(ProviderAdjustment("FB", settlement["new_under_id"], new_under))
    return tuple(i for i in items if i.amount != ZERO)


def _payment(db: Any, event_id: str, settlement: Document) -> tuple[Decimal, str, str]:
    """(BPR02, BPR04, TRN02): the disbursement, or no payment with a trace of event-payee."""
    center_id = settlement["PaymentCenter_ID"]
    disbursed = money(settlement["disbursed"], f"{settlement['_id']} disbursed")
    if settlement["outcome"] != "DISBURSED":
        if disbursed != ZERO:
            raise RemittanceError(f"{settlement['_id']}: {settlement['outcome']} with {disbursed}")
        return ZERO, "NON", f"{event_id}-{center_id}"
    payment = db.Payments.find_one({"_id": f"{event_id}:{center_id}"})
    if payment is None:
        raise RemittanceError(f"{settlement['_id']}: disbursed but no Payments document")
    amount = money(payment["amount"], f"{payment['_id']} amount")
    if amount != disbursed:
        raise RemittanceError(f"{payment['_id']}: amount {amount}, settlement {disbursed}")
    methods = {"CHECK": "CHK", "EFT": "ACH"}
    if payment["method"] not in methods:
        raise RemittanceError(f"{payment['_id']}: unknown method {payment['method']!r}")
    return amount, methods[payment["method"]], str(payment["number"])


def _payee(center: Document, method: str) -> Payee:
    """Providers: NPI (XX) and TIN in REF*TJ, interchange id the TIN; DMR: the member.

    N3/N4 when the address is a complete US mailing address (spec 3.1 fields). Without
    one a check cannot be mailed (RemittanceError); any other payee's 835 goes without
    N3/N4, as its dry run reported (``ADDRESS_INCOMPLETE``), and the log says so again.
    """
    address = center.get("address")
    problems = address_problems(address)
    if problems and method == "CHK":
        raise RemittanceError(f"PaymentCenter {center['_id']} is paid by check but has no "
                              f"mailing address: {'; '.join(problems)}")
    if problems:
        log.warning("835 without payee address", payment_center_id=center["_id"],
                    problems=problems)
    postal = None if problems else _postal(address)
    if center["type"] == "DMR":
        member_id = center["member_id"]
        return Payee(center["vendor_name"], "FI", member_id, postal, (), "ZZ", member_id)
    tax_id = center["tax_id"]
    return Payee(
        center["vendor_name"], "XX", center["npi"], postal, (("TJ", tax_id),), "30", tax_id
    )


def _postal(address: Document) -> Address:
    """A complete US mailing address (checked by ``address_problems``) as N3/N4 carry it."""
    line2 = address.get("line2")
    return Address(address["line1"], address["city"], address["state"],
                   postal_zip(address["zip"]),
                   line2 if isinstance(line2, str) and line2.strip() else None)


def _day(value: datetime | date) -> date:
    return value.date() if isinstance(value, datetime) else value
