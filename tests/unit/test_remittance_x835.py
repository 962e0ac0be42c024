"""Rendering a remittance model as X12: envelope, amounts, text and PLB packing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from test_remittance_store import assert_valid

from PaymentProcess.remittance.model import (
    Address,
    Adjustment,
    ClaimPayment,
    Payee,
    Payer,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
    imbalances,
)
from PaymentProcess.remittance.x835 import RenderError, render

D = Decimal
PAYER = Payer(
    "Plan * Co: ~North^", "750000001", Address("1 Way", "Dallas", "TX", "75201"), "8005550100"
)
PAYEE = Payee(
    name="Clínica Norte",
    id_qualifier="XX",
    identifier="1000000012",
    address=None,
    references=(("TJ", "741000001"),),
    interchange_qualifier="30",
    interchange_id="741000001",
)


def line(billed: str, paid: str, *adjustments: Adjustment) -> ServicePayment:
    return ServicePayment(
        "HC", "99213", D(billed), D(paid), D(1), date(2026, 8, 20), None, adjustments
    )


def claim(paid: str, interest: str = "0.00") -> ClaimPayment:
    service = line("100.00", paid, Adjustment("CO", "45", D("100.00") - D(paid)))
    return ClaimPayment(
        patient_control_number="PCN-1",
        status="1",
        billed=D("100.00"),
        paid=D(paid),
        patient_responsibility=D("0.00"),
        filing_indicator="ZZ",
        payer_claim_id="C1",
        frequency_code="1",
        patient_name=None,
        member_id=None,
        received_date=None,
        interest=D(interest),
        services=(service,),
    )


def remittance(
    amount: str, claims: tuple, adjustments: tuple = (), method: str = "CHK"
) -> Remittance:
    return Remittance(
        "PE-1",
        101,
        D(amount),
        method,
        "500120",
        date(2026, 11, 20),
        PAYER,
        PAYEE,
        claims,
        adjustments,
    )


def test_envelope_has_fixed_width_isa_and_matching_control_numbers():
    text = render(remittance("80.00", (claim("80.00"),)), 42).decode()
    isa, gs = text.split("~\n")[:2]
    assert len(isa) + 1 == 106
    assert isa.split("*")[13] == "000000042" and isa[-1] == ">"
    assert gs.split("*")[6] == "42"
    assert text.endswith("GE*1*42~\nIEA*1*000000042~\n")
    assert "ST*835*0001~\n" in text  # no ST03: pyx12 rejects it in the 835


def test_amounts_have_no_trailing_zeros_and_no_negative_zero():
    reversal = claim("0.00").reversal()
    text = render(remittance("0.00", (reversal,), method="NON"), 1).decode()
    assert "CLP*PCN-1*22*-100*0**ZZ*C1**1~" in text
    assert "SVC*HC>99213*-100*0**1~" in text
    assert "BPR*H*0*C*NON" in text


def test_more_than_two_places_is_refused():
    with pytest.raises(RenderError, match="two decimal places"):
        render(remittance("80.005", (claim("80.00"),)), 1)


def test_free_text_is_ascii_without_delimiters():
    text = render(remittance("80.00", (claim("80.00"),)), 1).decode()
    assert "N1*PR*Plan Co: North~" in text
    assert "N1*PE*Clinica Norte*XX*1000000012~" in text


def test_identifiers_holding_a_delimiter_are_refused():
    bad = ProviderAdjustment("WO", "OU~1", D("1.00"))
    with pytest.raises(RenderError, match="delimiter"):
        render(remittance("79.00", (claim("80.00"),), (bad,)), 1)


def test_control_number_must_fit_nine_digits():
    with pytest.raises(RenderError, match="out of range"):
        render(remittance("80.00", (claim("80.00"),)), 1_000_000_000)


def test_imbalances_name_each_broken_rule():
    broken = claim("80.00")
    assert imbalances(remittance("80.00", (broken,))) == []
    assert imbalances(remittance("81.00", (broken,))) == [
        "payment 81.00 != claims 80.00 - adjustments 0.00"
    ]


def test_seven_adjustments_take_a_second_plb(tmp_path: Path, monkeypatch):
    items = tuple(ProviderAdjustment("WO", f"OU-{n}", D("1.00")) for n in range(7))
    path = tmp_path / "plb.835"
    path.write_bytes(render(remittance("73.00", (claim("80.00"),), items), 1))
    plb = [s for s in path.read_text().split("~\n") if s.startswith("PLB")]
    assert [len(s.split("*")) for s in plb] == [15, 5]
    assert_valid(path, monkeypatch)  # pyx12 with the footer as the guide repeats it


def test_payee_address_is_written_with_its_usps_state(tmp_path: Path, monkeypatch):
    payee = replace(PAYEE, address=Address("9 Elm St", "Reno", "NV", "895011234", "Suite 4"))
    path = tmp_path / "addr.835"
    path.write_bytes(render(replace(remittance("80.00", (claim("80.00"),)), payee=payee), 1))
    assert "N1*PE*Clinica Norte*XX*1000000012~\nN3*9 Elm St*Suite 4~\nN4*Reno*NV*895011234~" in (
        path.read_text())
    assert "N3*1 Way~\nN4*Dallas*TX*75201~" in path.read_text()  # the payer: no line2
    assert_valid(path, monkeypatch)


def test_ach_payment_with_interest_validates(tmp_path: Path, monkeypatch):
    path = tmp_path / "ach.835"
    interest = (ProviderAdjustment("L6", None, D("-1.25")),)
    path.write_bytes(render(remittance("81.25", (claim("80.00", "1.25"),), interest, "ACH"), 9))
    assert_valid(path, monkeypatch)
    assert "BPR*I*81.25*C*ACH*CCP***********20261120~" in path.read_text()
    assert "AMT*I*1.25~" in path.read_text()
