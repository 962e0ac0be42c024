"""The finding codes of spec section 4 and the per-claim checks that raise them."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError as PydanticValidationError

from PaymentProcess.data.models.claim import AMOUNT_FIELDS, Claim, FrequencyCode, claim_label
from PaymentProcess.data.models.payment_center import PaymentCenterType
from PaymentProcess.data.models.stats import FindingCode, Severity, ValidationReport
from PaymentProcess.utils.error_handling import CriticalValidationError

CRITICAL, WARNING, INFO = Severity.CRITICAL, Severity.WARNING, Severity.INFO

FREQ_INVALID = FindingCode("FREQ_INVALID", CRITICAL, "FrequencyCode is not 1, 7 or 8")
ID_MISSING = FindingCode("ID_MISSING", CRITICAL, "payee identifier missing (NPI/TIN or MemberID)")
NPI_INVALID = FindingCode("NPI_INVALID", CRITICAL, "NPI is not 10 digits passing the Luhn check")
TIN_INVALID = FindingCode("TIN_INVALID", CRITICAL, "TIN is not exactly 9 digits")
DUPLICATE_CLAIM = FindingCode(
    "DUPLICATE_CLAIM", CRITICAL, "the same ClaimCore_ID appears more than once in the event"
)
ALREADY_PAID = FindingCode("ALREADY_PAID", CRITICAL, "ClaimCore_ID is already in the ledger")
BAD_AMOUNT = FindingCode("BAD_AMOUNT", CRITICAL, "an amount is missing or not a valid amount")
NEGATIVE_AMOUNT = FindingCode("NEGATIVE_AMOUNT", CRITICAL, "a line amount is below zero")
NO_LINES = FindingCode("NO_LINES", CRITICAL, "the claim has no service lines")
PARENT_NOT_PAID = FindingCode(
    "PARENT_NOT_PAID", CRITICAL, "a 7 or 8 references a version that is not in force"
)
VOID_LINKAGE = FindingCode("VOID_LINKAGE", CRITICAL, "the chain's linkage is broken")
CLAIM_INVALID = FindingCode(
    "CLAIM_INVALID", CRITICAL, "the claim document is malformed (field missing or of a wrong type)"
)
SEQUENCE_EXHAUSTED = FindingCode(
    "SEQUENCE_EXHAUSTED", CRITICAL, "the check numbers needed do not fit in the check range"
)
CONFIG_INVALID = FindingCode(
    "CONFIG_INVALID", CRITICAL, "the event's configuration is missing or malformed"
)
RECORD_INVALID = FindingCode(
    "RECORD_INVALID", CRITICAL, "a payee, ledger or O/U document the event needs is malformed"
)
PC_MISMATCH = FindingCode(
    "PC_MISMATCH", WARNING, "claims of one chain map to different payees (final version's used)"
)
OVER_ALLOWED = FindingCode(
    "OVER_ALLOWED", WARNING, "patient share plus cob_paid exceeds allowed (line paid floored at 0)"
)
BENEFIT_PLAN_EXCLUDED = FindingCode(
    "BENEFIT_PLAN_EXCLUDED", WARNING, "benefit plan outside the inclusion criteria: chain excluded"
)
PC_EXCLUDED = FindingCode(
    "PC_EXCLUDED", WARNING, "payee outside the inclusion criteria: chain excluded"
)
CLAIMS_BY_TYPE = FindingCode("CLAIMS_BY_TYPE", INFO, "included claims by ClaimType")
CLAIMS_BY_STATUS = FindingCode("CLAIMS_BY_STATUS", INFO, "included claims by ClaimStatus")
CLAIMS_BY_FREQUENCY = FindingCode(
    "CLAIMS_BY_FREQUENCY", INFO, "included claims by FrequencyCode"
)

_VALID_FREQUENCIES = frozenset(code.value for code in FrequencyCode)


def npi_is_valid(npi: str) -> bool:
    """10 digits whose last is the Luhn check digit of ``80840`` + the first nine."""
    if len(npi) != 10 or not npi.isascii() or not npi.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed("80840" + npi[:9])):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10 == int(npi[9])


def tin_is_valid(tin: str) -> bool:
    """Exactly nine ASCII digits."""
    return len(tin) == 9 and tin.isascii() and tin.isdigit()


class Validation:
    """Per-claim checks of spec section 4 for one event's payee type."""

    def __init__(self, pc_type: PaymentCenterType) -> None:
        self.pc_type = pc_type

    def parse_claim(self, document: dict[str, Any], report: ValidationReport) -> Claim | None:
        """Validate a raw document into a :class:`Claim`; each defect becomes a finding."""
        try:
            return Claim.model_validate(document)
        except PydanticValidationError as exc:
            first_problem: dict[FindingCode, str] = {}
            for error in exc.errors(include_url=False, include_input=False):
                location = ".".join(str(part) for part in error["loc"])
                is_amount = (
                    len(error["loc"]) == 3
                    and error["loc"][0] == "service_lines"
                    and error["loc"][2] in AMOUNT_FIELDS
                )
                code = BAD_AMOUNT if is_amount else CLAIM_INVALID
                first_problem.setdefault(code, f"{location}: {error['msg']}")
            for code, problem in first_problem.items():  # a claim counts once per code
                report.add(code, claim_label(document), problem)
            return None

    def validate_claim(self, claim: Claim, report: ValidationReport) -> bool:
        """Frequency, identifiers, lines and negative amounts; True when nothing is critical."""
        label = claim.ClaimCore_ID
        ok = True
        if claim.FrequencyCode not in _VALID_FREQUENCIES:
            report.add(FREQ_INVALID, label, f"FrequencyCode {claim.FrequencyCode!r}")
            ok = False
        ok &= self.validate_identifiers(claim, report)
        if not claim.service_lines:
            report.add(NO_LINES, label)
            ok = False
        for index, line in enumerate(claim.service_lines):
            negative = [name for name in AMOUNT_FIELDS if getattr(line, name) < 0]
            if negative:
                report.add(NEGATIVE_AMOUNT, label, f"service_lines.{index}.{negative[0]}")
                ok = False
                break
        return ok

    def validate_identifiers(self, claim: Claim, report: ValidationReport) -> bool:
        """ID_MISSING, NPI_INVALID, TIN_INVALID for the event's payee type."""
        label = claim.ClaimCore_ID
        if self.pc_type is PaymentCenterType.DMR:
            if not claim.MemberID:
                report.add(ID_MISSING, label, "MemberID")
                return False
            return True
        missing = [name for name in ("NPI", "TIN") if not getattr(claim, name)]
        if missing:
            report.add(ID_MISSING, label, " and ".join(missing))
            return False
        ok = True
        if not npi_is_valid(claim.NPI):
            report.add(NPI_INVALID, label, f"NPI {claim.NPI[:20]!r}")
            ok = False
        if not tin_is_valid(claim.TIN):
            report.add(TIN_INVALID, label, f"TIN {claim.TIN[:20]!r}")
            ok = False
        return ok


def raise_if_blocking(report: ValidationReport, what: str) -> None:
    """Stop a final run before any write when a finding is critical."""
    if report.blocked:
        codes = ", ".join(f.code for f in report.by_severity(Severity.CRITICAL))
        raise CriticalValidationError(f"{what} blocked by critical findings: {codes}")

