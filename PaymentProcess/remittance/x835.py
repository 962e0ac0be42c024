"""Rendering a :class:`~PaymentProcess.remittance.model.Remittance` as ASC X12 005010X221A1.

One interchange per file, holding one functional group with one 835 transaction set.
Delimiters are fixed: ``*`` between elements, ``>`` between components (``:`` occurs in
the store's O/U record ids, which PLB03-2 carries verbatim), ``^`` for repetitions and
``~`` followed by a newline after each segment. The ISA has its fixed width. Amounts are
written without trailing zeros (``97.82``, ``50``, ``-3.88``). The interchange and
group date are the issue date at 00:00, so the bytes depend on the stored run only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from PaymentProcess.remittance.model import (
    ZERO,
    Address,
    ClaimPayment,
    Payee,
    Remittance,
    RemittanceError,
    ServicePayment,
)
from PaymentProcess.utils.text import plain_ascii

ELEMENT = "*"
COMPONENT = ">"
REPETITION = "^"
TERMINATOR = "~\n"
VERSION = "005010X221A1"
DELIMITERS = frozenset("*>^~")

_CAS_TRIPLETS = 6
_PLB_ADJUSTMENTS = 6
_GROUP_ORDER = ("CO", "PR", "OA")

Element = str | tuple[str, ...]
Segment = list[Element]


class RenderError(RemittanceError):
    """A value cannot be written into the 835 (a delimiter inside an identifier, a bad id)."""


def render(remittance: Remittance, control_number: int) -> bytes:
    """The 835 interchange of ``remittance`` with interchange and group ``control_number``."""
    if not 1 <= control_number <= 999_999_999:
        raise RenderError(f"interchange control number {control_number} is out of range")
    segments = [
        _isa(remittance, control_number),
        [
            "GS",
            "HP",
            _id(remittance.payer.tax_id),
            _id(remittance.payee.interchange_id),
            _date(remittance.issue_date),
            "0000",
            str(control_number),
            "X",
            VERSION,
        ],
        *_transaction(remittance),
        ["GE", "1", str(control_number)],
        ["IEA", "1", f"{control_number:09d}"],
    ]
    return "".join(_segment(s) for s in segments).encode("ascii")


def _isa(remittance: Remittance, control_number: int) -> Segment:
    payee = remittance.payee
    return [
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        "30",
        _fixed(remittance.payer.tax_id, 15),
        payee.interchange_qualifier,
        _fixed(payee.interchange_id, 15),
        remittance.issue_date.strftime("%y%m%d"),
        "0000",
        REPETITION,
        "00501",
        f"{control_number:09d}",
        "0",
        "P",
        COMPONENT,
    ]


def _transaction(remittance: Remittance) -> list[Segment]:
    """ST through SE of the 835."""
    segments: list[Segment] = [["ST", "835", "0001"]]
    segments.append(_bpr(remittance))
    segments.append(reassociation_trace(remittance.trace_number, remittance.payer.tax_id))
    segments.append(["DTM", "405", _date(remittance.issue_date)])
    payer = remittance.payer
    segments.append(["N1", "PR", _text(payer.name, 60)])
    segments.extend(_address(payer.address))
    segments.append(["PER", "BL", "", "TE", _id(payer.contact_phone)])
    segments.extend(_payee(remittance.payee))
    if remittance.claims:
        segments.append(["LX", "1"])
        for claim in remittance.claims:
            segments.extend(_claim(claim))
    segments.extend(_plb(remittance))
    segments.append(["SE", str(len(segments) + 1), "0001"])
    return segments


def reassociation_trace(trace_number: str, payer_tax_id: str) -> list[str]:
    """The TRN segment's elements: ``TRN*1*<trace>*1<payer TIN>``.

    The 835 carries it, and so does the addenda of the payee's ACH entry (the HIPAA EFT
    standard), so the bank deposit and the remittance are matched by the same trace.
    """
    return ["TRN", "1", _id(trace_number), "1" + _id(payer_tax_id)]


def _bpr(remittance: Remittance) -> Segment:
    """BPR: I (remittance information only) with a payment, H (notification only) without."""
    issued = _date(remittance.issue_date)
    amount = _amount(remittance.amount)
    if remittance.method == "NON":
        return ["BPR", "H", amount, "C", "NON", *[""] * 11, issued]
    if remittance.method == "ACH":
        return ["BPR", "I", amount, "C", "ACH", "CCP", *[""] * 10, issued]
    return ["BPR", "I", amount, "C", "CHK", *[""] * 11, issued]


def _payee(payee: Payee) -> Iterator[Segment]:
    yield ["N1", "PE", _text(payee.name, 60), payee.id_qualifier, _id(payee.identifier)]
    if payee.address is not None:
        yield from _address(payee.address)
    for qualifier, value in payee.references:
        yield ["REF", qualifier, _id(value)]


def _address(address: Address) -> Iterator[Segment]:
    yield ["N3", _text(address.line1, 55), _text(address.line2 or "", 55)]
    yield ["N4", _text(address.city, 30), _id(address.state), _id(address.zip)]


def _claim(claim: ClaimPayment) -> Iterator[Segment]:
    yield [
        "CLP",
        _id(claim.patient_control_number),
        claim.status,
        _amount(claim.billed),
        _amount(claim.paid),
        "" if claim.patient_responsibility == ZERO else _amount(claim.patient_responsibility),
        claim.filing_indicator,
        _id(claim.payer_claim_id),
        "",
        claim.frequency_code or "",
    ]
    last, first = _person_name(claim.patient_name)
    member = ("MI", _id(claim.member_id)) if claim.member_id else ("", "")
    yield ["NM1", "QC", "1", last, first, "", "", "", *member]
    if claim.received_date is not None:
        yield ["DTM", "050", _date(claim.received_date)]
    if claim.interest != ZERO:
        yield ["AMT", "I", _amount(claim.interest)]
    for service in claim.services:
        yield from _service(service)


def _service(service: ServicePayment) -> Iterator[Segment]:
    yield [
        "SVC",
        (service.qualifier, _id(service.procedure_code)),
        _amount(service.billed),
        _amount(service.paid),
        "",
        _quantity(service.units),
    ]
    if service.service_date is not None:
        yield ["DTM", "472", _date(service.service_date)]
    for group in _GROUP_ORDER:
        triplets = [a for a in service.adjustments if a.group == group]
        for start in range(0, len(triplets), _CAS_TRIPLETS):
            elements: Segment = ["CAS", group]
            for adjustment in triplets[start : start + _CAS_TRIPLETS]:
                elements.extend([adjustment.reason, _amount(adjustment.amount), ""])
            yield elements
    if service.allowed is not None:
        yield ["AMT", "B6", _amount(service.allowed)]


def _plb(remittance: Remittance) -> Iterator[Segment]:
    """PLB segments of up to six adjustments each, dated the end of the issue year."""
    items = remittance.adjustments
    fiscal_end = date(remittance.issue_date.year, 12, 31)
    for start in range(0, len(items), _PLB_ADJUSTMENTS):
        elements: Segment = ["PLB", _id(remittance.payee.identifier), _date(fiscal_end)]
        for item in items[start : start + _PLB_ADJUSTMENTS]:
            code: Element = (item.code, _id(item.reference)) if item.reference else item.code
            elements.extend([code, _amount(item.amount)])
        yield elements


def _segment(elements: Segment) -> str:
    """Join elements and components, dropping trailing empty ones."""
    texts = [COMPONENT.join(e).rstrip(COMPONENT) if isinstance(e, tuple) else e for e in elements]
    while texts and texts[-1] == "":
        texts.pop()
    return ELEMENT.join(texts) + TERMINATOR


def _amount(value: Decimal) -> str:
    """An X12 R value: two places at most, no trailing zeros, no negative zero."""
    quantized = value.quantize(Decimal("0.01"))
    if quantized != value:
        raise RenderError(f"amount {value} has more than two decimal places")
    if quantized == 0:
        return "0"
    return format(quantized.normalize(), "f")


def _quantity(value: Decimal) -> str:
    return "0" if value == 0 else format(value.normalize(), "f")


def _date(value: date) -> str:
    return value.strftime("%Y%m%d")


def _id(value: str) -> str:
    """An identifier, written verbatim: one that holds a delimiter cannot be written."""
    if not value or DELIMITERS.intersection(value) or not value.isascii():
        raise RenderError(f"identifier {value!r} is empty or holds a delimiter or non-ASCII")
    return value


def _fixed(value: str, width: int) -> str:
    if len(_id(value)) > width:
        raise RenderError(f"interchange id {value!r} is longer than {width} characters")
    return value.ljust(width)


def _text(value: str, limit: int) -> str:
    """Free text (names, addresses): ASCII, delimiters replaced by spaces, cut to ``limit``."""
    return plain_ascii(value, DELIMITERS)[:limit].rstrip()


def _person_name(name: str | None) -> tuple[str, str]:
    """(last, first) of a free-text name: the last word is the last name."""
    if not name:
        return "", ""
    words = _text(name, 200).split(" ")
    return words[-1][:60], " ".join(words[:-1])[:35]
