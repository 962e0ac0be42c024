"""Per-claim validation (spec section 4): identifiers, claim structure, codes, the report."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from bson.decimal128 import Decimal128

from PaymentProcess.core import validation as codes
from PaymentProcess.core.validation import (
    Validation,
    npi_is_valid,
    tin_is_valid,
)
from PaymentProcess.data.models.claim import Claim
from PaymentProcess.data.models.payment_center import PaymentCenterType
from PaymentProcess.data.models.stats import Severity, ValidationReport

PROVIDER = Validation(PaymentCenterType.PROVIDER)
DMR = Validation(PaymentCenterType.DMR)


def line(**amounts: Any) -> dict[str, Any]:
    values = {"billed": "100.00", "allowed": "80.00", "deductible": "0.00",
              "coinsurance": "0.00", "copay": "0.00", "cob_paid": "0.00"}
    values.update(amounts)
    return {"line_no": 1, "procedure_code": "99213", "units": 1,
            "service_date": datetime(2026, 8, 20),
            **{k: Decimal128(v) if isinstance(v, str) and v[-3:-2] == "." else v
               for k, v in values.items()}}


def claim_doc(claim_id: str = "C1", **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": claim_id, "ClaimCore_ID": claim_id, "PaymentEvent_ID": "PE-1",
        "ClaimType": "PROFESSIONAL", "ClaimStatus": "APPROVED", "FrequencyCode": "1",
        "ParentClaimCore_ID": claim_id, "OriginalClaimCore_ID": None, "VoidClaimCore_ID": None,
        "BenefitPlan_ID": "BP-100", "received_date": datetime(2026, 9, 1),
        "patient_control_number": f"PCN-{claim_id}", "NPI": "1000000012", "TIN": "741000001",
        "MemberID": "M1", "provider": {"name": "North Clinic PA"}, "member": {"name": "Pat"},
        "service_lines": [line()],
    }
    doc.update(fields)
    return doc


def parse(doc: dict[str, Any], validation: Validation = PROVIDER) -> tuple[Claim | None,
                                                                            ValidationReport]:
    report = ValidationReport()
    return validation.parse_claim(doc, report), report


def judge(doc: dict[str, Any], validation: Validation = PROVIDER) -> tuple[bool, ValidationReport]:
    claim, report = parse(doc, validation)
    assert claim is not None, report.as_documents()
    return validation.validate_claim(claim, report), report


def codes_of(report: ValidationReport) -> dict[str, int]:
    return {code: finding.count for code, finding in report.findings.items()}


# --- NPI and TIN --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "npi",
    ["1000000012", "1000000020", "1000000038", "1000000046", "1000000053", "1000000061",
     "1000000079", "1000000087", "1000000095", "1000000103", "1234567893"],
)
def test_valid_npis(npi: str) -> None:
    assert npi_is_valid(npi)


@pytest.mark.parametrize(
    "npi",
    [
        "1234567890",  # classic wrong check digit
        "1000000010", "1000000011", "1000000013", "1000000019", "1000000021",
        "1234567894",
        "",
        "100000001",  # 9 digits
        "10000000120",  # 11 digits
        "100000001a",
        "10000000-2",
        " 100000001",
        "1000000012 ",
        "+100000001",
        "\uff11\uff10\uff10\uff10\uff10\uff10\uff10\uff10\uff11\uff12",  # full-width digits
        "100000001\u0662",  # Arabic-Indic 2 as the check digit
        "\u0661" + "000000012",  # Arabic-Indic 1 first
        "1000000012\n",
    ],
)
def test_invalid_npis(npi: str) -> None:
    assert not npi_is_valid(npi)


def test_npi_check_digit_is_the_only_one_that_passes() -> None:
    passing = [d for d in "0123456789" if npi_is_valid("100000001" + d)]
    assert passing == ["2"]
    passing = [d for d in "0123456789" if npi_is_valid("123456789" + d)]
    assert passing == ["3"]


@pytest.mark.parametrize("tin", ["741000001", "000000000", "999999999"])
def test_valid_tins(tin: str) -> None:
    assert tin_is_valid(tin)


@pytest.mark.parametrize(
    "tin",
    ["", "74100000", "7410000011", "74-100001", "74100000a", " 74100000", "741000001 ",
     "\uff17\uff14\uff11\uff10\uff10\uff10\uff10\uff10\uff11", "74100000\u0661"],
)
def test_invalid_tins(tin: str) -> None:
    assert not tin_is_valid(tin)


# --- parse_claim: BAD_AMOUNT vs CLAIM_INVALID ---------------------------------------------


def test_a_good_document_parses_into_exact_amounts() -> None:
    claim, report = parse(claim_doc(service_lines=[line(allowed="65.55", copay=15,
                                                        deductible="10.00")]))
    assert claim is not None
    assert report.findings == {}
    assert claim.service_lines[0].allowed == Decimal("65.55")
    assert claim.service_lines[0].copay == Decimal("15.00")
    assert claim.service_lines[0].deductible == Decimal("10.00")
    assert claim.received_date.isoformat() == "2026-09-01"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("billed", "ten dollars"),
        ("allowed", Decimal128("10.005")),
        ("deductible", Decimal128("NaN")),
        ("coinsurance", float("inf")),
        ("copay", True),
        ("cob_paid", None),
        ("allowed", Decimal128("1E+13")),
        ("allowed", "1" * 41),
        ("billed", [1]),
    ],
)
def test_bad_amounts_are_bad_amount(field: str, value: Any) -> None:
    claim, report = parse(claim_doc("C9104", service_lines=[line(**{field: value})]))
    assert claim is None
    assert codes_of(report) == {"BAD_AMOUNT": 1}
    finding = report.findings["BAD_AMOUNT"]
    assert finding.samples == ["C9104"]
    assert finding.details["C9104"].startswith(f"service_lines.0.{field}: ")
    assert finding.severity is Severity.CRITICAL


@pytest.mark.parametrize("field", ["billed", "allowed", "deductible", "coinsurance", "copay",
                                   "cob_paid"])
def test_a_missing_amount_is_bad_amount(field: str) -> None:
    bad_line = line()
    del bad_line[field]
    claim, report = parse(claim_doc(service_lines=[line(), bad_line]))
    assert claim is None
    assert codes_of(report) == {"BAD_AMOUNT": 1}
    assert report.findings["BAD_AMOUNT"].details["C1"].startswith(f"service_lines.1.{field}:")


@pytest.mark.parametrize(
    ("fields", "where", "label"),
    [
        ({"received_date": "2026-09-01"}, "received_date", "C7"),
        ({"received_date": None}, "received_date", "C7"),
        ({"ClaimType": "VISION"}, "ClaimType", "C7"),
        ({"ClaimStatus": "PENDING"}, "ClaimStatus", "C7"),
        ({"ClaimCore_ID": 12}, "ClaimCore_ID", "12"),
        ({"ClaimCore_ID": "C" * 201}, "ClaimCore_ID", "C" * 61 + "..."),
        ({"PaymentEvent_ID": ""}, "PaymentEvent_ID", "C7"),
        ({"service_lines": {"0": {}}}, "service_lines", "C7"),
        ({"service_lines": ["line"]}, "service_lines.0", "C7"),
        ({"provider": "North Clinic"}, "provider", "C7"),
    ],
)
def test_structural_defects_are_claim_invalid(fields: dict[str, Any], where: str,
                                              label: str) -> None:
    claim, report = parse(claim_doc("C7", **fields))
    assert claim is None
    assert codes_of(report) == {"CLAIM_INVALID": 1}
    assert report.findings["CLAIM_INVALID"].samples == [label]
    assert report.findings["CLAIM_INVALID"].details[label].startswith(f"{where}: ")


@pytest.mark.parametrize(("fields", "code"), [
    ({"ParentClaimCore_ID": None}, "VOID_LINKAGE"),
    ({"OriginalClaimCore_ID": ["C1"]}, "VOID_LINKAGE"),
    ({"NPI": ["1000000012"]}, "NPI_INVALID"),
    ({"TIN": {"v": 1}}, "TIN_INVALID"),
    ({"FrequencyCode": ["1"]}, "FREQ_INVALID"),
    ({"service_lines": None}, "NO_LINES"),
])
def test_malformed_rule_fields_keep_their_own_code(fields: dict[str, Any], code: str) -> None:
    claim, report = parse(claim_doc("C7", **fields))
    assert claim is None
    assert codes_of(report) == {code: 1}
    assert report.findings[code].samples == ["C7"]


@pytest.mark.parametrize("missing", ["_id", "received_date", "ClaimType"])
def test_missing_structure_is_claim_invalid(missing: str) -> None:
    doc = claim_doc("C8")
    del doc[missing]
    claim, report = parse(doc)
    assert claim is None
    assert codes_of(report) == {"CLAIM_INVALID": 1}
    assert report.findings["CLAIM_INVALID"].samples == ["C8"]


def test_line_level_structure_is_claim_invalid_not_bad_amount() -> None:
    claim, report = parse(claim_doc(service_lines=[line(line_no="one",
                                                        service_date="2026-08-20")]))
    assert claim is None
    assert codes_of(report) == {"CLAIM_INVALID": 1}  # a claim counts once per code


def test_a_document_with_both_defects_gets_both_codes() -> None:
    claim, report = parse(claim_doc("C5", ClaimType="VISION",
                                    service_lines=[line(allowed="x")]))
    assert claim is None
    assert set(codes_of(report)) == {"BAD_AMOUNT", "CLAIM_INVALID"}


def test_unidentified_document_label() -> None:
    doc = claim_doc()
    del doc["_id"]
    doc["ClaimCore_ID"] = None
    _, report = parse(doc)
    assert report.findings["CLAIM_INVALID"].samples == ["<unidentified>"]


def test_label_falls_back_to_the_document_id() -> None:
    _, report = parse(claim_doc("C3", ClaimCore_ID=None))
    assert report.findings["CLAIM_INVALID"].samples == ["C3"]


def test_bad_amount_counts_claims_not_fields() -> None:
    _, report = parse(claim_doc("C9104", service_lines=[line(billed="x", allowed="y")]))
    assert report.findings["BAD_AMOUNT"].count == 1


# --- validate_claim ------------------------------------------------------------------------


def test_a_valid_provider_claim_has_no_finding() -> None:
    ok, report = judge(claim_doc())
    assert ok is True
    assert report.findings == {}


@pytest.mark.parametrize("frequency", ["3", "0", "9", "17", "A", None, ""])
def test_freq_invalid(frequency: str | None) -> None:
    ok, report = judge(claim_doc("C9101", FrequencyCode=frequency))
    assert ok is False
    assert codes_of(report) == {"FREQ_INVALID": 1}
    assert report.findings["FREQ_INVALID"].samples == ["C9101"]


@pytest.mark.parametrize("frequency", ["1", "7", "8"])
def test_valid_frequencies(frequency: str) -> None:
    ok, report = judge(claim_doc(FrequencyCode=frequency))
    assert ok is True
    assert "FREQ_INVALID" not in report.findings


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"NPI": None}, "NPI"),
        ({"NPI": ""}, "NPI"),
        ({"TIN": None}, "TIN"),
        ({"NPI": None, "TIN": ""}, "NPI and TIN"),
    ],
)
def test_provider_id_missing(fields: dict[str, Any], detail: str) -> None:
    ok, report = judge(claim_doc("C2", **fields))
    assert ok is False
    assert codes_of(report) == {"ID_MISSING": 1}
    assert report.findings["ID_MISSING"].details == {"C2": detail}


def test_provider_claim_needs_no_member_id() -> None:
    ok, report = judge(claim_doc(MemberID=None))
    assert ok is True
    assert report.findings == {}


def test_npi_invalid() -> None:
    ok, report = judge(claim_doc("C9102", NPI="1234567890"))
    assert ok is False
    assert codes_of(report) == {"NPI_INVALID": 1}
    assert report.findings["NPI_INVALID"].details == {"C9102": "NPI '1234567890'"}


def test_npi_given_as_a_number_is_checked_as_text() -> None:
    ok, report = judge(claim_doc(NPI=1000000012, TIN=741000001))
    assert ok is True, report.as_documents()


def test_tin_invalid() -> None:
    ok, report = judge(claim_doc("C4", TIN="74100000"))
    assert ok is False
    assert codes_of(report) == {"TIN_INVALID": 1}


def test_npi_and_tin_invalid_together() -> None:
    ok, report = judge(claim_doc("C4", NPI="123", TIN="abc"))
    assert ok is False
    assert codes_of(report) == {"NPI_INVALID": 1, "TIN_INVALID": 1}


def test_dmr_needs_member_id_only() -> None:
    ok, report = judge(claim_doc(NPI=None, TIN=None, MemberID="M77"), DMR)
    assert ok is True
    assert report.findings == {}
    ok, report = judge(claim_doc(NPI="1234567890", TIN="x", MemberID="M77"), DMR)
    assert ok is True
    assert report.findings == {}


@pytest.mark.parametrize("member_id", [None, ""])
def test_dmr_id_missing(member_id: str | None) -> None:
    ok, report = judge(claim_doc("C6", MemberID=member_id), DMR)
    assert ok is False
    assert codes_of(report) == {"ID_MISSING": 1}
    assert report.findings["ID_MISSING"].details == {"C6": "MemberID"}


@pytest.mark.parametrize("validation", [PROVIDER, DMR])
def test_no_lines(validation: Validation) -> None:
    ok, report = judge(claim_doc("C9107", service_lines=[]), validation)
    assert ok is False
    assert codes_of(report) == {"NO_LINES": 1}
    assert report.findings["NO_LINES"].samples == ["C9107"]


@pytest.mark.parametrize("field", ["billed", "allowed", "deductible", "coinsurance", "copay",
                                   "cob_paid"])
def test_negative_amount_in_any_field(field: str) -> None:
    ok, report = judge(claim_doc("C9103", service_lines=[line(), line(**{field: "-0.01"})]))
    assert ok is False
    assert codes_of(report) == {"NEGATIVE_AMOUNT": 1}
    assert report.findings["NEGATIVE_AMOUNT"].details == {"C9103": f"service_lines.1.{field}"}


def test_negative_amount_counts_the_claim_once() -> None:
    ok, report = judge(claim_doc("C9103", service_lines=[line(allowed="-5.00", copay="-1.00"),
                                                         line(billed="-1.00")]))
    assert ok is False
    assert codes_of(report) == {"NEGATIVE_AMOUNT": 1}
    assert report.findings["NEGATIVE_AMOUNT"].details == {"C9103": "service_lines.0.allowed"}


def test_zero_amounts_are_not_negative() -> None:
    ok, report = judge(claim_doc(service_lines=[line(billed="0.00", allowed="-0.00",
                                                     deductible=0)]))
    assert ok is True
    assert report.findings == {}


def test_every_defect_of_one_claim_is_reported() -> None:
    ok, report = judge(claim_doc("C1", FrequencyCode="2", NPI="1234567890", TIN="1",
                                 service_lines=[]))
    assert ok is False
    assert codes_of(report) == {"FREQ_INVALID": 1, "NPI_INVALID": 1, "TIN_INVALID": 1,
                                "NO_LINES": 1}


def test_dmr_defects() -> None:
    ok, report = judge(claim_doc("C1", FrequencyCode="5", MemberID=None,
                                 service_lines=[line(cob_paid="-2.00")]), DMR)
    assert ok is False
    assert codes_of(report) == {"FREQ_INVALID": 1, "ID_MISSING": 1, "NEGATIVE_AMOUNT": 1}


def test_finding_codes_and_severities() -> None:
    critical = ["FREQ_INVALID", "ID_MISSING", "NPI_INVALID", "TIN_INVALID", "DUPLICATE_CLAIM",
                "ALREADY_PAID", "BAD_AMOUNT", "NEGATIVE_AMOUNT", "NO_LINES", "PARENT_NOT_PAID",
                "VOID_LINKAGE", "SEQUENCE_EXHAUSTED", "CONFIG_INVALID", "CLAIM_INVALID",
                "RECORD_INVALID"]
    warning = ["PC_MISMATCH", "OVER_ALLOWED", "BENEFIT_PLAN_EXCLUDED", "PC_EXCLUDED"]
    info = ["CLAIMS_BY_TYPE", "CLAIMS_BY_STATUS", "CLAIMS_BY_FREQUENCY"]
    for names, severity in ((critical, Severity.CRITICAL), (warning, Severity.WARNING),
                            (info, Severity.INFO)):
        for name in names:
            code = getattr(codes, name)
            assert (code.code, code.severity) == (name, severity)


# --- ValidationReport ----------------------------------------------------------------------


def test_samples_are_capped_at_ten_distinct_ids_and_count_everything() -> None:
    report = ValidationReport()
    for i in range(15):
        report.add(codes.NO_LINES, f"C{i:02d}", f"detail {i}")
    report.add(codes.NO_LINES, "C00", "again")
    finding = report.findings["NO_LINES"]
    assert finding.count == 16
    assert finding.samples == [f"C{i:02d}" for i in range(10)]
    assert finding.details["C00"] == "detail 0"
    assert set(finding.details) == set(finding.samples)
    assert report.blocked


def test_only_critical_findings_block() -> None:
    report = ValidationReport()
    report.add(codes.OVER_ALLOWED, "C1")
    report.add(codes.PC_MISMATCH, "C1")
    report.add_counts(codes.CLAIMS_BY_TYPE, Counter({"PROFESSIONAL": 2}))
    assert not report.blocked
    report.add(codes.TIN_INVALID, "C2")
    assert report.blocked
    assert [f.code for f in report.by_severity(codes.CRITICAL)] == ["TIN_INVALID"]


def test_merge_keeps_this_report_samples_first() -> None:
    first, second = ValidationReport(), ValidationReport()
    for i in range(7):
        first.add(codes.NO_LINES, f"A{i}", f"a{i}")
    for i in range(7):
        second.add(codes.NO_LINES, f"B{i}", f"b{i}")
    second.add(codes.NO_LINES, "A0", "other")
    second.add(codes.TIN_INVALID, "B9")
    first.merge(second)
    finding = first.findings["NO_LINES"]
    assert finding.count == 15
    assert finding.samples == [f"A{i}" for i in range(7)] + ["B0", "B1", "B2"]
    assert finding.details["A0"] == "a0"
    assert finding.details["B2"] == "b2"
    assert "B3" not in finding.details
    assert first.findings["TIN_INVALID"].samples == ["B9"]
    assert list(first.findings) == ["NO_LINES", "TIN_INVALID"]


def test_merge_in_batch_order_equals_one_report() -> None:
    whole, batches = ValidationReport(), [ValidationReport() for _ in range(3)]
    ids = [f"C{i:03d}" for i in range(30)]
    for index, claim_id in enumerate(ids):
        whole.add(codes.NPI_INVALID, claim_id, claim_id)
        batches[index // 10].add(codes.NPI_INVALID, claim_id, claim_id)
    merged = ValidationReport()
    for batch in batches:
        merged.merge(batch)
    assert merged.as_documents() == whole.as_documents()


def test_merge_adds_counts() -> None:
    first, second = ValidationReport(), ValidationReport()
    first.add_counts(codes.CLAIMS_BY_FREQUENCY, Counter({"1": 3, "7": 1}))
    second.add_counts(codes.CLAIMS_BY_FREQUENCY, Counter({"1": 2, "8": 4}))
    first.merge(second)
    finding = first.findings["CLAIMS_BY_FREQUENCY"]
    assert finding.counts == {"1": 5, "7": 1, "8": 4}
    assert finding.count == 10
    assert not first.blocked


def test_documents_order_critical_first_then_code() -> None:
    report = ValidationReport()
    report.add_counts(codes.CLAIMS_BY_TYPE, Counter({"DENTAL": 1, "PROFESSIONAL": 2}))
    report.add(codes.PC_MISMATCH, "C1")
    report.add(codes.TIN_INVALID, "C2", "TIN '1'")
    report.add(codes.BAD_AMOUNT, "C3")
    documents = report.as_documents()
    assert [d["code"] for d in documents] == ["BAD_AMOUNT", "TIN_INVALID", "PC_MISMATCH",
                                              "CLAIMS_BY_TYPE"]
    assert documents[1] == {"severity": "CRITICAL", "code": "TIN_INVALID",
                            "message": "TIN is not exactly 9 digits", "count": 1,
                            "samples": ["C2"], "details": {"C2": "TIN '1'"}}
    assert documents[3]["counts"] == {"DENTAL": 1, "PROFESSIONAL": 2}
    assert documents[3]["count"] == 3
    assert [f.code for f in report.by_severity(Severity.CRITICAL)] == ["BAD_AMOUNT",
                                                                       "TIN_INVALID"]


def test_malformed_ledger_entries_are_marked_once_reported() -> None:
    entries = [
        {"_id": "PE-P:C1", "ParentClaimCore_ID": ["C1", 7], "ClaimCore_IDs": "C1"},
        {"_id": {"odd": 1}, "ParentClaimCore_ID": "C2", "ClaimCore_IDs": ["C2", None, "C3"],
         "final_ClaimCore_ID": "C9"},
    ]
    reported: set[str] = set()
    first = codes.invalid_ledger_entries(entries, reported)
    assert [(r.label, r.parent_ids, r.claim_ids, r.reported) for r in first] == [
        ("PE-P:C1", frozenset({"C1"}), frozenset({"C1"}), False),
        ("<dict _id>", frozenset({"C2"}), frozenset({"C2", "C3"}), False)]
    assert first[0].detail.startswith("ClaimFinCore: ")
    again = codes.invalid_ledger_entries(entries[1:], reported)
    assert [(r.label, r.reported) for r in again] == [("<dict _id>", True)]
