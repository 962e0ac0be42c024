"""Bad input: every defect of a document the engine reads becomes a precise finding.

The engine runs in-process on a plain mongomock database loaded with the golden
documents (../shared/golden/store), mutated per test. A run must end with exit 0 or 1
(3 for a refused stage) and never raise anything but a ``PaymentProcessError``; a
mutation that breaks a rule must produce its code, naming the document (sample) and
the field (detail); the chains the mutation did not touch must keep their figures.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import mongomock
import pytest

from PaymentProcess.common.functions import Store
from PaymentProcess.core.payment_processor import PaymentProcessor, Repositories, RunSettings
from PaymentProcess.data.config.config_loader import ConfigLoader
from PaymentProcess.data.models.payment import ChainResult
from PaymentProcess.data.models.stats import Finding, PaymentEventStats
from PaymentProcess.utils.error_handling import PaymentProcessError
from tests.conftest import GOLDEN_STORE, read_store

GOLDEN: dict[str, list[dict[str, Any]]] = read_store(GOLDEN_STORE)
EVENT = "PE-G1"

Documents = dict[str, list[dict[str, Any]]]
Mutation = Callable[[Documents], None]


# --------------------------------------------------------------------------- harness
def golden() -> Documents:
    """A private deep copy of the golden documents."""
    return copy.deepcopy(GOLDEN)


def build_store(documents: Documents) -> Store:
    """A memory-only mongomock database holding ``documents``."""
    client = mongomock.MongoClient()
    db = client.payments
    for name, docs in documents.items():
        if docs:
            db[name].insert_many(copy.deepcopy(docs))
    return Store("mongomock://", db, client)


class RecordingProcessor(PaymentProcessor):
    """The real processor, remembering every chain pass 1 judged (for the untouched check)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chains: dict[str, ChainResult] = {}

    def _aggregate(self, analysis, chain, stats):  # noqa: ANN001, ANN202 - test hook
        self.chains[str(chain.parent_id)] = chain
        return super()._aggregate(analysis, chain, stats)


@dataclass
class Outcome:
    """What one run did: exit code, findings by code, judged chains, the store after."""

    exit_code: int
    findings: dict[str, Finding] = field(default_factory=dict)
    chains: dict[str, ChainResult] = field(default_factory=dict)
    stats: PaymentEventStats | None = None
    error: str | None = None
    store: Store | None = None

    @property
    def critical(self) -> set[str]:
        return {code for code, f in self.findings.items() if f.severity == "CRITICAL"}

    def figures(self, parent: str) -> tuple[Any, ...]:
        chain = self.chains[parent]
        return (chain.status, chain.net, chain.interest, chain.payee_key, chain.payee_id,
                chain.final_claim_id, chain.claim_ids)


def processor(store: Store, batch_size: int = 1000, workers: int = 1) -> RecordingProcessor:
    settings = RunSettings(db_uri=store.uri, workers=workers, batch_size=batch_size)
    return RecordingProcessor(ConfigLoader(store.db), Repositories.for_store(store, batch_size),
                              settings, store)


def run(documents: Documents | Store, mode: str = "dry-run", event: str = EVENT,
        batch_size: int = 1000) -> Outcome:
    """Run one mode in-process; any exception but a PaymentProcessError fails the test."""
    store = documents if isinstance(documents, Store) else build_store(documents)
    engine = processor(store, batch_size)
    action = {"dry-run": engine.run_dry_run, "final": engine.run_final_run,
              "validate": engine.run_validate_only}[mode]
    try:
        stats = action(event)
    except PaymentProcessError as exc:
        return Outcome(exc.exit_code, chains=engine.chains, error=str(exc), store=store)
    return Outcome(stats.exit_code, dict(stats.report.findings), engine.chains, stats,
                   store=store)


def mutated(*mutations: Mutation) -> Documents:
    documents = golden()
    for mutation in mutations:
        mutation(documents)
    return documents


def doc(documents: Documents, collection: str, document_id: Any) -> dict[str, Any]:
    return next(d for d in documents[collection] if d["_id"] == document_id)


def set_field(collection: str, document_id: Any, path: tuple[Any, ...], value: Any) -> Mutation:
    def mutate(documents: Documents) -> None:
        target = doc(documents, collection, document_id)
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
    return mutate


def del_field(collection: str, document_id: Any, path: tuple[Any, ...]) -> Mutation:
    def mutate(documents: Documents) -> None:
        target = doc(documents, collection, document_id)
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]
    return mutate


def claim(claim_id: str, path: tuple[Any, ...], value: Any) -> Mutation:
    return set_field("ClaimWSCore", claim_id, path, value)


BASELINE = run(golden())


def assert_untouched(outcome: Outcome, touched: set[str]) -> None:
    """Every chain the mutation did not touch keeps exactly its baseline figures."""
    for parent in BASELINE.chains:
        if parent not in touched:
            assert outcome.figures(parent) == BASELINE.figures(parent), parent


def assert_finding(outcome: Outcome, code: str, sample: str, *detail_parts: str) -> None:
    """``code`` is reported for ``sample`` with a detail naming every part given."""
    assert outcome.exit_code == 1, (outcome.error, outcome.critical)
    finding = outcome.findings.get(code)
    assert finding is not None, sorted(outcome.findings)
    assert sample in finding.samples, finding.samples
    detail = finding.details.get(sample, "")
    for part in detail_parts:
        assert part in detail, detail


def test_the_baseline_is_clean() -> None:
    assert BASELINE.exit_code == 0
    assert not BASELINE.critical
    assert len(BASELINE.chains) == 12


# --------------------------------------------------------------------------- claims
@pytest.mark.parametrize("value", [{"$gt": ""}, ["C1001", "C2001"], {"nested": [[{}]]}, 1001,
                                   None, "", "x" * 500])
def test_a_parent_id_of_a_wrong_type_blocks_its_chain(value: Any) -> None:
    outcome = run(mutated(claim("C1001", ("ParentClaimCore_ID",), value)))
    assert_finding(outcome, "VOID_LINKAGE" if value not in (None, "") else "VOID_LINKAGE",
                   "C1001", "ParentClaimCore_ID")
    assert "C1001" not in outcome.chains or outcome.chains["C1001"].status == "BLOCKED"
    assert_untouched(outcome, {"C1001"})


# --------------------------------------------------------------------------- O/U and payees
@pytest.mark.parametrize(("path", "value", "field_name"), [
    (("remaining",), "abc", "remaining"),
    (("remaining",), float("nan"), "remaining"),
    (("total",), "10.005", "total"),
    (("PaymentCenter_ID",), "101", "PaymentCenter_ID"),
    (("type",), "SIDEWAYS", "type"),
    (("status",), "open", "status"),
    (("status",), None, "status"),
    (("created_date",), None, "created_date"),
    (("applications",), [1, 2], "applications.0"),
    (("applications",), [{"event_id": "PE-X", "amount": {"$numberDecimal": "1"}}],
     "applications.0.amount"),
])
def test_a_malformed_over_under_record_blocks_the_event(path: tuple[Any, ...], value: Any,
                                                        field_name: str) -> None:
    documents = mutated(set_field("OverUnder", "OU-1", path, value))
    outcome = run(documents)
    assert_finding(outcome, "RECORD_INVALID", "OU-1", "OverUnder", field_name)
    assert_untouched(outcome, set())
    final = run(outcome.store, "final")
    assert final.exit_code == 1
    assert "Payments" not in final.store.db.list_collection_names()


def test_a_malformed_over_under_record_was_never_paid_around() -> None:
    """Regression: the finding was added after the report was merged, so the dry run
    said exit 0 and the final run paid payee 101 without recouping its $50 OVER."""
    outcome = run(mutated(set_field("OverUnder", "OU-1", ("remaining",), "abc")))
    assert outcome.exit_code == 1 and "RECORD_INVALID" in outcome.critical
    assert outcome.stats is not None and outcome.stats.status == "BLOCKED"
    final = run(outcome.store, "final")
    assert final.exit_code == 1 and "Payments" not in final.store.db.list_collection_names()


@pytest.mark.parametrize(("path", "value", "field_name"), [
    (("payment_method",), "WIRE", "payment_method"),
    (("status",), None, "status"),
    (("type",), {"$ne": 1}, "type"),
    (("key",), ["PROVIDER:741000001:1000000012"], "key"),
])
def test_a_malformed_payee_is_record_invalid(path: tuple[Any, ...], value: Any,
                                             field_name: str) -> None:
    outcome = run(mutated(set_field("PaymentCenter", 101, path, value)))
    assert_finding(outcome, "RECORD_INVALID", "101", "PaymentCenter", field_name)
    assert_untouched(outcome, set())


@pytest.mark.parametrize("value", [{"a": 1}, "101", 0, -5, 101.5, True])
def test_a_payee_id_of_a_wrong_type_is_record_invalid(value: Any) -> None:
    outcome = run(mutated(set_field("PaymentCenter", 101, ("_id",), value)))
    finding = outcome.findings["RECORD_INVALID"]
    assert outcome.exit_code == 1 and finding.count == 1
    assert "PaymentCenter: _id" in next(iter(finding.details.values()))
    assert_untouched(outcome, set())


# --------------------------------------------------------------------------- ledger
@pytest.mark.parametrize(("path", "value", "field_name"), [
    (("benefit_amount",), float("nan"), "benefit_amount"),
    (("benefit_amount",), "12.345", "benefit_amount"),
    (("interest_amount",), None, "interest_amount"),
    (("PaymentCenter_ID",), "101", "PaymentCenter_ID"),
    (("final_ClaimCore_ID",), {"$ne": None}, "final_ClaimCore_ID"),
    (("paid_date",), "2026-11-06", "paid_date"),
    (("ClaimCore_IDs",), "C2001", "ClaimCore_IDs"),
    (("ClaimCore_IDs",), [1, None], "ClaimCore_IDs.0"),
])
def test_a_malformed_ledger_entry_is_record_invalid_not_a_crash(path: tuple[Any, ...], value: Any,
                                                                field_name: str) -> None:
    """The ledger is the system of record: the entry is reported, never skipped, and the
    chain it belongs to is blocked; the dry run still reports everything else."""
    outcome = run(mutated(set_field("ClaimFinCore", "PE-PRIOR:C2001", path, value)))
    assert_finding(outcome, "RECORD_INVALID", "PE-PRIOR:C2001", "ClaimFinCore", field_name)
    assert outcome.chains["C2001"].status == "BLOCKED"
    assert_untouched(outcome, {"C2001"})
    final = run(outcome.store, "final")
    assert final.exit_code == 1


def test_a_ledger_entry_without_a_readable_parent_blocks_the_chains_it_lists() -> None:
    documents = mutated(set_field("ClaimFinCore", "PE-PRIOR:C9001", ("ParentClaimCore_ID",),
                                  ["C9001"]))
    outcome = run(documents)
    assert_finding(outcome, "RECORD_INVALID", "PE-PRIOR:C9001", "ParentClaimCore_ID")
    # The chain's claims reference C9001, which the entry still lists.
    assert outcome.chains["C9001"].status == "BLOCKED"
    assert_untouched(outcome, {"C9001"})



# --------------------------------------------------------------------------- findings
def saved_stats(outcome: Outcome) -> dict[str, Any]:
    assert outcome.stats is not None
    return outcome.store.db.PaymentEventStats.find_one({"_id": outcome.stats.run_id})


def test_very_long_strings_are_truncated_in_findings() -> None:
    outcome = run(mutated(claim("C1001", ("BenefitPlan_ID",), "B" * 100_000),
                          claim("C4001", ("FrequencyCode",), "9" * 150),
                          claim("C5001", ("ClaimCore_ID",), "Z" * 10_000),
                          claim("C7001", ("service_lines", 0, "allowed"), "1" * 100_000)))
    assert outcome.exit_code == 1
    for finding in outcome.findings.values():
        assert all(len(sample) <= 64 for sample in finding.samples)
        assert all(len(detail) <= 300 for detail in finding.details.values())
    assert "BENEFIT_PLAN_EXCLUDED" in outcome.findings
    assert_finding(outcome, "FREQ_INVALID", "C4001", "FrequencyCode")
    assert_finding(outcome, "CLAIM_INVALID", "Z" * 61 + "...", "ClaimCore_ID")
    assert_finding(outcome, "BAD_AMOUNT", "C7001", "service_lines.0.allowed")
    assert_untouched(outcome, {"C1001", "C4001", "C5001", "C7001"})


@pytest.mark.parametrize("claim_id", ["C\x00X", "C\x1b[2JX", "C\nPAID 1000000.00", "C.1",
                                      "$where", "C\u202eX"])
def test_ids_with_control_characters_or_key_syntax_are_reported_safely(claim_id: str) -> None:
    """A NUL in a sample used to reach a BSON key of the stats (InvalidDocument, exit 4)."""
    outcome = run(mutated(claim("C1001", ("ClaimCore_ID",), claim_id),
                          claim("C1001", ("service_lines", 0, "copay"), "x")))
    assert outcome.exit_code == 1
    stored = saved_stats(outcome)
    for finding in stored["findings"]:
        for sample in finding["samples"]:
            assert sample.isprintable()
        for key in finding.get("details", {}):
            assert "." not in key and not key.startswith("$") and key.isprintable()
    assert_untouched(outcome, {"C1001"})


def test_the_counts_of_garbage_values_stay_bounded() -> None:
    documents = golden()
    template = doc(documents, "ClaimWSCore", "C1001")
    for number in range(300):
        extra = copy.deepcopy(template)
        claim_id = f"G{number:04d}"
        extra.update(_id=claim_id, ClaimCore_ID=claim_id, ParentClaimCore_ID=claim_id,
                     FrequencyCode=f"F.{number}", ClaimType=f"$T{number}")
        documents["ClaimWSCore"].append(extra)
    outcome = run(documents)
    assert outcome.findings["CLAIM_INVALID"].count == 300  # the ClaimType
    by_frequency = outcome.findings["CLAIMS_BY_FREQUENCY"]
    assert len(by_frequency.counts) <= 50 and by_frequency.counts["<other>"] > 0
    assert by_frequency.count == sum(BASELINE.findings["CLAIMS_BY_FREQUENCY"].counts.values()) + 300
    stored = saved_stats(outcome)
    for finding in stored["findings"]:
        assert all("." not in key and not key.startswith("$") for key in finding.get("counts", {}))
    assert_untouched(outcome, set())


# --------------------------------------------------------------------------- configuration
CONFIG_CASES = [
    ("PaymentEvent", EVENT, ("due_date",), None, "due_date"),
    ("PaymentEvent", EVENT, ("pc_type",), "VENDOR", "pc_type"),
    ("PaymentEvent", EVENT, ("business",), "TX", "business"),
    ("PaymentEvent", EVENT, ("inclusion_criteria_id",), {"$ne": None}, "inclusion_criteria_id"),
    ("PaymentEvent", EVENT, ("min_payment_amount",), float("inf"), "min_payment_amount"),
    ("PaymentEvent", EVENT, ("payment_reduction_pct",), "101", "payment_reduction_pct"),
    ("PaymentEvent", EVENT, ("payment_reduction_pct",), "2.005", "payment_reduction_pct"),
    ("PaymentEvent", EVENT, ("stage",), "PAID", "stage"),
    ("PaymentEvent", EVENT, ("dry_run",), "yes", "dry_run"),
    ("PaymentEvent", EVENT, ("final_run",), None, "final_run"),
    ("PaymentEvent", EVENT, ("dry_run",), {"run_id": "r", "fingerprint": "f",
                                           "critical_findings": "0"}, "critical_findings"),
    ("InclusionCriteria", "IC-G", ("benefit_plan_ids",), None, "benefit_plan_ids"),
    ("InclusionCriteria", "IC-G", ("benefit_plan_ids",), ["BP-100", {"x": 1}], "benefit_plan_ids"),
    ("InclusionCriteria", "IC-G", ("payment_center_keys",), "PROVIDER:1:2", "payment_center_keys"),
    ("FundingSource", "FS-G", ("check_range",), [1, 2], "check_range"),
    ("FundingSource", "FS-G", ("check_range", "end"), 10, "check_range"),
    ("FundingSource", "FS-G", ("check_range", "start"), 1.5, "check_range.start"),
    ("FundingSource", "FS-G", ("eft_trace_prefix",), "E" * 50, "eft_trace_prefix"),
    ("InterestRules", "IR-G", ("annual_rate_pct",), float("nan"), "annual_rate_pct"),
    ("InterestRules", "IR-G", ("grace_days",), "30", "grace_days"),
    ("InterestRules", "IR-G", ("grace_days",), True, "grace_days"),
    ("InterestRules", "IR-G", ("min_interest",), "-1.00", "<document>"),
    ("InterestRules", "IR-G", ("overrides",), {"state": "TX"}, "overrides"),
    ("InterestRules", "IR-G", ("overrides", 0, "grace_days"), 10**9, "overrides.0.grace_days"),
    ("Sequences", "check:FS-G", ("next",), "abc", "next"),
    ("Sequences", "check:FS-G", ("next",), 500120.5, "next"),
    ("Sequences", "eft:FS-G", ("next",), None, "next"),
    ("Sequences", "PaymentCenter", ("allocations",), [{"event_id": "PE-X"}], "allocations.0"),
]


@pytest.mark.parametrize(("collection", "document_id", "path", "value", "field_name"),
                         CONFIG_CASES)
def test_malformed_configuration_is_config_invalid(collection: str, document_id: str,
                                                   path: tuple[Any, ...], value: Any,
                                                   field_name: str) -> None:
    documents = mutated(set_field(collection, document_id, path, value))
    outcome = run(documents)
    assert_finding(outcome, "CONFIG_INVALID", EVENT, collection, repr(document_id), field_name)
    assert not outcome.chains  # nothing is computed on a broken configuration
    assert outcome.stats is not None and outcome.stats.status == "BLOCKED"
    final = run(outcome.store, "final")
    assert final.exit_code == 1
    assert "Payments" not in final.store.db.list_collection_names()


@pytest.mark.parametrize(("collection", "field_name"), [
    ("InclusionCriteria", "is missing"), ("FundingSource", "is missing"),
    ("InterestRules", "is missing")])
def test_missing_configuration_is_config_invalid(collection: str, field_name: str) -> None:
    documents = golden()
    documents[collection] = []
    outcome = run(documents)
    assert_finding(outcome, "CONFIG_INVALID", EVENT, collection, field_name)


def test_a_missing_sequence_is_not_a_defect() -> None:
    documents = golden()
    documents["Sequences"] = []
    assert run(documents).exit_code == 0


@pytest.mark.parametrize("event_id", [{"$gt": ""}, ["PE-G1"], "", "PE G1", "$PE", "-PE",
                                      "PE-G1\n", "PE-\u0661", "P" * 101, None, 7])
def test_the_library_refuses_an_event_id_that_is_not_plain_text(event_id: Any) -> None:
    """The CLI checks the id; the config loader checks it again before any query."""
    outcome = run(golden(), event=event_id)
    assert outcome.exit_code == 2
    assert "invalid payment event id" in (outcome.error or "")


# --------------------------------------------------------------------------- informational fields
@pytest.mark.parametrize(("path", "value", "field_name"), [
    (("service_lines", 0, "units"), float("nan"), "service_lines.0.units"),
    (("service_lines", 0, "units"), "abc", "service_lines.0.units"),
    (("service_lines", 0, "units"), {"$numberDecimal": "1"}, "service_lines.0.units"),
    (("service_lines", 0, "units"), -1, "service_lines.0.units"),
    (("service_lines", 0, "units"), True, "service_lines.0.units"),
    (("service_lines", 0, "units"), 10**7, "service_lines.0.units"),
    (("service_lines", 0, "procedure_code"), "9" * 49, "service_lines.0.procedure_code"),
    (("service_lines", 0, "procedure_code"), ["99213"], "service_lines.0.procedure_code"),
    (("service_lines", 0, "line_no"), 2**63 - 1, "service_lines.0.line_no"),
    (("service_lines", 0, "service_date"), "2026-08-20", "service_lines.0.service_date"),
    (("provider",), "North Clinic", "provider"),
    (("provider", "name"), {"first": "A"}, "provider"),
    (("provider", "address"), ["1 Main St"], "provider"),
    (("member", "address", "zip"), 75001, "member"),
    (("member", "name"), "Pat\x00", "member"),
    (("received_date",), "2026-09-01", "received_date"),
    (("ClaimType",), None, "ClaimType"),
    (("ClaimStatus",), "approved", "ClaimStatus"),
])
def test_malformed_informational_fields_are_claim_invalid(path: tuple[Any, ...], value: Any,
                                                          field_name: str) -> None:
    """Fields copied to PaymentInfo, new payees and the 835 must be clean too."""
    outcome = run(mutated(claim("C1001", path, value)))
    assert_finding(outcome, "CLAIM_INVALID", "C1001", field_name)
    assert_untouched(outcome, {"C1001"})


@pytest.mark.parametrize(("units", "stored"), [(2, 2), ("3", 3), (1.5, "1.5"), ("0.25", "0.25"),
                                               (None, None)])
def test_valid_units_are_stored_as_int_or_decimal128(units: Any, stored: Any) -> None:
    documents = mutated(claim("C1001", ("service_lines", 0, "units"), units),
                        claim("C1001", ("member", "extra"), {"nested": ["garbage"]}))
    store = build_store(documents)
    assert run(store).exit_code == 0
    assert run(store, "final").exit_code == 0
    info = store.db.PaymentInfo.find_one({"_id": "PE-G1:C1001"})
    written = info["lines"][0]["units"]
    assert (str(written) if isinstance(stored, str) else written) == stored
    assert not isinstance(written, float)
    assert set(info["member"]) == {"name", "address"}  # nothing but the contract's fields


# --------------------------------------------------------------------------- chains and sizes
def version(claim_id: str, frequency: str, parent: str, reference: str | None = None,
            allowed: str = "100.00") -> dict[str, Any]:
    """A claim of a new chain, built from the golden C1001 (payee 101)."""
    document = copy.deepcopy(doc(GOLDEN, "ClaimWSCore", "C1001"))
    document.update(_id=claim_id, ClaimCore_ID=claim_id, FrequencyCode=frequency,
                    ParentClaimCore_ID=parent, OriginalClaimCore_ID=None, VoidClaimCore_ID=None)
    if frequency == "7":
        document["OriginalClaimCore_ID"] = reference
    elif frequency == "8":
        document["VoidClaimCore_ID"] = reference
    document["service_lines"] = document["service_lines"][:1]
    document["service_lines"][0]["allowed"] = allowed
    return document


def with_claims(*claims: dict[str, Any]) -> Documents:
    documents = golden()
    documents["ClaimWSCore"].extend(claims)
    return documents


@pytest.mark.parametrize(("name", "claims", "flagged"), [
    ("two 7s replacing each other, no original",
     [version("L2", "7", "L1", "L3"), version("L3", "7", "L1", "L2")], {"L2", "L3"}),
    ("an original and a loop beside it",
     [version("L1", "1", "L1"), version("L2", "7", "L1", "L3"), version("L3", "7", "L1", "L2")],
     {"L2", "L3"}),
    ("a 7 replacing itself", [version("L1", "1", "L1"), version("L2", "7", "L1", "L2")], {"L2"}),
    ("an 8 voiding itself", [version("L1", "1", "L1"), version("L2", "8", "L1", "L2")], {"L2"}),
    ("a 7 replacing a void",
     [version("L1", "1", "L1"), version("L2", "7", "L1", "L1"), version("L3", "7", "L1", "L2"),
      version("L4", "8", "L1", "L3"), version("L5", "7", "L1", "L4")], {"L5"}),
    ("two 7s on one version (fork)",
     [version("L1", "1", "L1"), version("L2", "7", "L1", "L1"), version("L3", "7", "L1", "L1")],
     {"L2", "L3"}),
    ("two 8s on one version",
     [version("L1", "1", "L1"), version("L2", "8", "L1", "L1"), version("L3", "8", "L1", "L1")],
     {"L2", "L3"}),
    ("a fork further down",
     [version("L1", "1", "L1"), version("L2", "7", "L1", "L1"), version("L3", "7", "L1", "L2"),
      version("L4", "7", "L1", "L2")], {"L3", "L4"}),
    ("a 7 into another chain's paid claim",
     [version("L1", "1", "L1"), version("L2", "7", "L1", "C2001")], {"L2"}),
    ("a loop through the ledger's version in force",
     [version("C2002", "7", "C2001", "C2003"), version("C2003", "7", "C2001", "C2002")],
     {"C2002", "C2003"}),
])
def test_chains_that_loop_or_fork_end_in_void_linkage(name: str, claims: list[dict[str, Any]],
                                                      flagged: set[str]) -> None:
    documents = with_claims(*claims)
    if any(c["_id"] == "C2002" for c in claims):  # replace the golden C2002 of chain C2001
        documents["ClaimWSCore"] = [d for d in documents["ClaimWSCore"]
                                    if d["_id"] != "C2002" or d in claims]
    outcome = run(documents)
    assert outcome.exit_code == 1, name
    linkage = outcome.findings["VOID_LINKAGE"]
    assert flagged <= set(linkage.samples), (name, linkage.samples, linkage.details)
    parent = claims[0]["ParentClaimCore_ID"]
    assert outcome.chains[parent].status == "BLOCKED"
    assert_untouched(outcome, {parent})


def test_a_long_chain_of_replacements_resolves_to_its_last_version() -> None:
    claims = [version("L0000", "1", "L0000")]
    claims += [version(f"L{i:04d}", "7", "L0000", f"L{i - 1:04d}", allowed=f"{i}.00")
               for i in range(1, 1500)]
    outcome = run(with_claims(*claims))
    assert outcome.exit_code == 0, outcome.critical
    chain = outcome.chains["L0000"]
    # C1001's line: allowed - 30.00 coinsurance, less the 2 % reduction
    assert chain.final_claim_id == "L1499"
    assert chain.net == Decimal("1469.00") - Decimal("29.38")


def test_a_claim_with_thousands_of_lines() -> None:
    big = version("BIG1", "1", "BIG1")
    line = big["service_lines"][0]
    line.update(allowed="1.01", coinsurance="0.00", deductible="0.00", copay="0.00")
    big["service_lines"] = [{**line, "line_no": n} for n in range(1, 2001)]
    store = build_store(with_claims(big))
    assert run(store).exit_code == 0
    outcome = run(store, "final")
    assert outcome.exit_code == 0
    # 2000 x 1.01 = 2020.00, less the 2 % reduction of each line (0.02 each) = 1980.00
    assert outcome.chains["BIG1"].net == Decimal("1980.00")
    info = store.db.PaymentInfo.find_one({"_id": "PE-G1:BIG1"})
    assert len(info["lines"]) == 2000


def test_thousands_of_bad_lines_are_one_finding_per_claim() -> None:
    big = version("BIG2", "1", "BIG2")
    line = big["service_lines"][0]
    big["service_lines"] = [{**line, "allowed": "1.001"} for _ in range(3000)]
    outcome = run(with_claims(big))
    finding = outcome.findings["BAD_AMOUNT"]
    assert finding.count == 1 and finding.samples == ["BIG2"]
    assert_untouched(outcome, set())


@pytest.mark.parametrize("value", ["١٢٣٤٥٦٧٨٩٠", "１０００００００１２", "100000001２",
                                   " 1000000012",
                                   "1000000012\n", "10000000l2", "1e9", 1000000012.0])
def test_npi_must_be_ten_ascii_digits(value: Any) -> None:
    outcome = run(mutated(claim("C1001", ("NPI",), value)))
    assert_finding(outcome, "NPI_INVALID", "C1001", "NPI")
    assert_untouched(outcome, {"C1001"})


@pytest.mark.parametrize("value", ["٧٤١٠٠٠٠٠١", "741-00-001", "74100000１", 741000001.0,
                                   "7410000010"])
def test_tin_must_be_nine_ascii_digits(value: Any) -> None:
    outcome = run(mutated(claim("C1001", ("TIN",), value)))
    assert_finding(outcome, "TIN_INVALID", "C1001", "TIN")
    assert_untouched(outcome, {"C1001"})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), "NaN", "Infinity",
                                   "1e400", "10.005", 10**13, "10000000000000.00", "-1e13",
                                   "１２.３０", "12.30.1", "", " ", True, None, [], {"$gt": 0},
                                   "0x10", "1_000.00"])
def test_bad_amounts(value: Any) -> None:
    outcome = run(mutated(claim("C1001", ("service_lines", 1, "deductible"), value)))
    assert_finding(outcome, "BAD_AMOUNT", "C1001", "service_lines.1.deductible")
    assert_untouched(outcome, {"C1001"})


@pytest.mark.parametrize("text", ["NaN", "-NaN", "sNaN", "Infinity", "-Infinity", "1E+6000",
                                  "1E-6000", "0.001", "9999999999999.995", "1E+13"])
def test_bad_decimal128_amounts(text: str) -> None:
    from bson.decimal128 import Decimal128

    outcome = run(mutated(claim("C1001", ("service_lines", 0, "allowed"), Decimal128(text))))
    assert_finding(outcome, "BAD_AMOUNT", "C1001", "service_lines.0.allowed")
    assert_untouched(outcome, {"C1001"})
