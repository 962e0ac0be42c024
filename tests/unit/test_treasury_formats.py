"""The pure builders of the bank files: NACHA ACH, positive pay and the check register."""

from __future__ import annotations

from datetime import date, datetime

import achkit
import pytest

from PaymentProcess.data.models.bank import AccountType
from PaymentProcess.treasury.ach import FILLER, addenda_trace, build_ach_file
from PaymentProcess.treasury.ach_reader import read_ach_file
from PaymentProcess.treasury.model import (
    AchEntry,
    AchOriginator,
    CheckRecord,
    CheckRecordKind,
    Disbursement,
    TreasuryError,
    cents_text,
    to_cents,
)
from PaymentProcess.treasury.positive_pay import build_positive_pay_csv, build_positive_pay_fixed
from PaymentProcess.treasury.register import build_check_register, totals_by_method

ORIGINATOR = AchOriginator(routing="091000019", odfi_name="First Plains Bank",
                           immediate_origin="1750000001", company_id="1750000001",
                           company_name="Golden Health", payer_tax_id="750000001")
DUE = date(2026, 11, 20)
CREATED = datetime(2026, 11, 18, 9, 30)


def entry(payee_id: int, cents: int, number: str, routing: str = "111000025",
          kind: AccountType = AccountType.CHECKING, effective: date = DUE) -> AchEntry:
    return AchEntry(payee_id, "Bayview Imaging", routing, f"9876{payee_id}", kind, cents, number,
                    effective)


def test_a_one_entry_file_record_by_record() -> None:
    data = build_ach_file([entry(107, 5000, "EFT000000007")], ORIGINATOR, "A", CREATED)
    records = data.decode("ascii").split("\n")
    assert records.pop() == ""
    assert records[:6] == [
        "101 0910000191750000001261118" "0930A094101FIRST PLAINS BANK      GOLDEN HEALTH"
        + " " * 18,
        "5220GOLDEN HEALTH   " + " " * 20 + "1750000001CCDHCCLAIMPMT      261120   1"
        "091000010000001",
        "622111000025" + "9876107".ljust(17) + "0000005000" + "000000000000107"
        + "BAYVIEW IMAGING".ljust(22) + "  1" + "091000010000001",
        "705TRN*1*EFT000000007*1750000001\\" + " " * 50 + "00010000001",
        "822000000200111000020000000000000000000050001750000001" + " " * 25
        + "091000010000001",
        "900000100000100000002001110000200000000000000000000500" + "0" + " " * 39,
    ]
    assert records[6:] == [FILLER] * 4
    assert all(len(r) == 94 for r in records)


def test_batches_by_effective_date_entries_by_payee_and_totals_in_cents() -> None:
    entries = [entry(300, 123456, "EFT000000012", "021000021", AccountType.SAVINGS),
               entry(200, 1, "EFT000000011"),
               entry(100, 99_999_999_99, "EFT000000010", effective=date(2026, 11, 27))]
    data = build_ach_file(entries, ORIGINATOR, "Z", CREATED)
    parsed = read_ach_file(data)
    assert [b.effective_date for b in parsed.batches] == ["261120", "261127"]
    assert [e.identification for e in parsed.entries] == [
        "000000000000200", "000000000000300", "000000000000100"]
    assert [e.transaction_code for e in parsed.entries] == ["22", "32", "22"]
    assert parsed.total_credit_cents == 1 + 123456 + 99_999_999_99
    assert [e.trace_number for e in parsed.entries] == [
        "091000010000001", "091000010000002", "091000010000003"]
    assert parsed.file_id_modifier == "Z"
    result = achkit.validate(data.decode("ascii"))
    assert result == {"ok": True, "errors": []}
    theirs = achkit.parse(data.decode("ascii"))
    assert theirs["control"]["total_credit"] == parsed.total_credit_cents
    assert [len(b["entries"]) for b in theirs["batches"]] == [2, 1]


def test_the_entry_hash_keeps_the_last_ten_digits() -> None:
    # 150 entries of RDFI 99999999 add up to 14 999 999 850: 11 digits
    routing = next(f"99999999{d}" for d in range(10)
                   if (3 * 9 + 7 * 9 + 9 + 3 * 9 + 7 * 9 + 9 + 3 * 9 + 7 * 9 + d) % 10 == 0)
    entries = [entry(i, 100, f"EFT{i:09d}", routing) for i in range(1, 151)]
    data = build_ach_file(entries, ORIGINATOR, "B", CREATED)
    control = data.decode("ascii").split("\n")[-12:]
    file_control = next(r for r in control if r.startswith("9") and r != FILLER)
    assert file_control[21:31] == "4999999850"
    assert len(data.split(b"\n")[:-1]) % 10 == 0
    assert read_ach_file(data).entry_hash == 14_999_999_850
    assert achkit.validate(data.decode("ascii"))["ok"]


def test_the_addenda_is_the_835_trace() -> None:
    assert addenda_trace("EFT000000007", "750000001") == "TRN*1*EFT000000007*1750000001\\"


@pytest.mark.parametrize(("entries", "modifier", "message"), [
    ([], "A", "at least one entry"),
    ([entry(1, 100, "E1")], "a", "file id modifier"),
    ([entry(1, 100, "E1")], "AB", "file id modifier"),
    ([entry(1, 0, "E1")], "A", "not a credit"),
    ([entry(1, 10**10, "E1")], "A", "not a credit"),
    ([entry(1, 100, "E*1")], "A", "delimiter"),
    ([entry(1, 100, "E" * 70)], "A", "longer than 80"),
])
def test_what_cannot_be_an_ach_file_is_refused(entries: list[AchEntry], modifier: str,
                                               message: str) -> None:
    with pytest.raises(TreasuryError, match=message):
        build_ach_file(entries, ORIGINATOR, modifier, CREATED)


@pytest.mark.parametrize(("line", "start", "text", "message"), [
    (2, 29, "0000005001", "batch 1 control"),
    (4, 10, "0000000001", "batch 1 control"),
    (5, 1, "000002", "file control"),
    (3, 87, "0000009", "addenda"),
    (0, 34, "095", "94-character"),
])
def test_the_reader_refuses_a_file_that_does_not_add_up(line: int, start: int, text: str,
                                                        message: str) -> None:
    records = build_ach_file([entry(7, 5000, "E7")], ORIGINATOR, "A", CREATED).decode().split("\n")
    records[line] = records[line][:start] + text + records[line][start + len(text):]
    with pytest.raises(TreasuryError, match=message):
        read_ach_file("\n".join(records).encode())


def test_the_reader_refuses_bad_lengths_and_blocking() -> None:
    data = build_ach_file([entry(7, 5000, "E7")], ORIGINATOR, "A", CREATED)
    with pytest.raises(TreasuryError, match="not a multiple of 10"):
        read_ach_file(data[:-95])
    with pytest.raises(TreasuryError, match="record 1 is 93"):
        read_ach_file(data[1:])
    with pytest.raises(TreasuryError, match="newline"):
        read_ach_file(data[:-1])


CHECKS = [
    CheckRecord(CheckRecordKind.ISSUE, "000123456789", 500120, 9782, DUE, "North Clinic, PA"),
    CheckRecord(CheckRecordKind.ISSUE, "000123456789", 500121, 23706, DUE, "Ríverbend Therapy"),
    CheckRecord(CheckRecordKind.VOID, "000123456789", 500100, 1000, date(2026, 11, 13), "Old"),
]


def test_positive_pay_csv() -> None:
    assert build_positive_pay_csv(CHECKS).decode("ascii").split("\r\n") == [
        "record_type,account,check_number,amount,issue_date,payee_name",
        'ISSUE,000123456789,500120,97.82,2026-11-20,"North Clinic, PA"',
        "ISSUE,000123456789,500121,237.06,2026-11-20,Riverbend Therapy",
        "VOID,000123456789,500100,10.00,2026-11-13,Old",
        "",
    ]


def test_positive_pay_fixed_width_with_its_trailer() -> None:
    lines = build_positive_pay_fixed(CHECKS).decode("ascii").split("\n")
    assert lines == [
        "I000123456789     000050012000000000978220261120NORTH CLINIC, PA" + " " * 16,
        "I000123456789     000050012100000002370620261120RIVERBEND THERAPY" + " " * 15,
        "V000123456789     000050010000000000100020261113OLD" + " " * 29,
        "T00000003" + "00000000033488" + "00000000001000" + " " * 43,
        "",
    ]
    assert all(len(line) == 80 for line in lines[:-1])


def test_an_account_too_long_for_the_fixed_layout_is_refused() -> None:
    record = CheckRecord(CheckRecordKind.ISSUE, "1" * 18, 1, 1, DUE, "X")
    with pytest.raises(TreasuryError, match="80 characters"):
        build_positive_pay_fixed([record])


def test_register_and_totals_by_method() -> None:
    rows = [Disbursement("PE-1", "FS-1", "CHECK", "500120", 9782, 101, "PROVIDER:1:2",
                         "Nörth Clinic", DUE),
            Disbursement("PE-1", "FS-1", "EFT", "EFT000000007", 5000, 107, "PROVIDER:3:4",
                         "Bayview", DUE),
            Disbursement("PE-1", "FS-1", "CHECK", "500121", 23706, 200, "PROVIDER:5:6",
                         "Riverbend", DUE)]
    assert build_check_register(rows).decode().split("\r\n") == [
        "payment_event_id,funding_source_id,method,number,amount,payment_center_id,payee_key,"
        "payee_name,issue_date",
        "PE-1,FS-1,CHECK,500120,97.82,101,PROVIDER:1:2,North Clinic,2026-11-20",
        "PE-1,FS-1,EFT,EFT000000007,50.00,107,PROVIDER:3:4,Bayview,2026-11-20",
        "PE-1,FS-1,CHECK,500121,237.06,200,PROVIDER:5:6,Riverbend,2026-11-20",
        "",
    ]
    assert totals_by_method(rows) == {"CHECK": 33488, "EFT": 5000}


@pytest.mark.parametrize(("text", "cents"), [("0.01", 1), ("97.82", 9782), ("50", 5000)])
def test_cents_both_ways(text: str, cents: int) -> None:
    from decimal import Decimal
    assert to_cents(Decimal(text)) == cents
    assert cents_text(cents) == f"{Decimal(text):.2f}"


def test_a_fraction_of_a_cent_is_refused() -> None:
    from decimal import Decimal
    with pytest.raises(TreasuryError, match="whole number of cents"):
        to_cents(Decimal("0.005"))
