"""Deterministic synthetic payment cycles for tests, demos and load runs.

``generate`` writes a complete store for ``cycles`` consecutive payment events: the event
configuration, payees, a prior ledger, open over/under balances, sequences and every
event's claims (all written up front; each event selects its own by PaymentEvent_ID).
Everything derives from the seed through named ``random.Random`` streams, so the same
options always write the same documents, and adding bad claims or more cycles never
changes the valid claims of the earlier cycles.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pymongo.database import Database

from PaymentProcess.processing.optimization.batch_processor import batch_iterable
from PaymentProcess.synthetic.banking import funding_bank
from PaymentProcess.synthetic.claims import INCLUDED_PLANS, Chain, ClaimFactory, money
from PaymentProcess.synthetic.malformed import MalformedFactory, critical_codes
from PaymentProcess.synthetic.parties import Payee, make_members, make_payees, make_providers
from PaymentProcess.utils.error_handling import ConfigurationError

FIRST_DUE_DATE = datetime(2026, 11, 20)
PRIOR_EVENT_ID = "PE-SYN-0000"
PRIOR_PAID_DATE = FIRST_DUE_DATE - timedelta(days=7)
CRITERIA_ID = "IC-SYN"
RULES_ID = "IR-SYN"
FUNDING_IDS = ("FS-SYN-1", "FS-SYN-2")
PC_TYPES = ("PROVIDER", "DMR")
# Event k (0-based) uses _BUSINESSES[k % 5]: the first two hit an interest override.
_BUSINESSES = (
    ("COMMERCIAL", "TX"),
    ("MEDICAID", "FL"),
    ("COMMERCIAL", "NY"),
    ("MEDICARE", "CA"),
    ("COMMERCIAL", "GA"),
)
_RESERVED_PRIOR = 3  # prior chains no valid claim ever touches (ALREADY_PAID targets)
_WRITE_BATCH = 5000


@dataclass(frozen=True)
class SyntheticOptions:
    """What to generate: ``claims`` valid claims per cycle for ``payees`` payees.

    ``bad_rate`` adds ``round(bad_rate * claims)`` malformed claims per cycle (at least one
    per critical code whenever it is above 0).
    """

    claims: int = 1000
    payees: int = 50
    pc_type: str = "PROVIDER"
    cycles: int = 1
    seed: int = 1
    bad_rate: float = 0.0

    def __post_init__(self) -> None:
        """Reject options no store can be generated for."""
        if self.claims < 1 or self.payees < 1 or self.cycles < 1:
            raise ValueError("claims, payees and cycles must be at least 1")
        if self.pc_type not in PC_TYPES:
            raise ValueError(f"pc_type must be one of {PC_TYPES}, not {self.pc_type!r}")
        if not 0.0 <= self.bad_rate <= 1.0:
            raise ValueError("bad_rate must be between 0 and 1")


@dataclass(frozen=True)
class GenerationSummary:
    """What ``generate`` wrote and what the engine should make of it.

    - ``event_ids``: the payment events in due-date order.
    - ``counts``: documents written per collection.
    - ``bad_claims``: per critical code, the ClaimCore_IDs built to carry it (all events;
      every code of ``critical_codes(pc_type)``: DMR events have no NPI/TIN checks).
    - ``bad_doc_ids``: the ``_id`` of every document the bad claims added (with the valid
      originals some of them need): delete them and each event is clean again.
    - ``warning_claims``: ``OVER_ALLOWED`` and ``BENEFIT_PLAN_EXCLUDED`` ClaimCore_IDs
      among the valid claims.
    - ``new_payee_keys``: payee keys on claims with no PaymentCenter (created by cycle 1).
    - ``kinds_by_event``: per event, valid claims per kind (they add up to ``claims``).
    - ``in_force_after``: per chain, the version in force after every event's final run,
      assuming each pays all its included valid chains (voided chains are absent).
    - ``scenario_payees``: PaymentCenter_IDs of the ``recoupment`` and ``below_minimum``
      payees (when there are 6+ active stored payees): see ``claims.SCENARIO_KINDS``.
    """

    event_ids: tuple[str, ...]
    counts: dict[str, int]
    bad_claims: dict[str, list[str]] = field(default_factory=dict)
    bad_doc_ids: tuple[str, ...] = ()
    warning_claims: dict[str, list[str]] = field(default_factory=dict)
    new_payee_keys: tuple[str, ...] = ()
    kinds_by_event: dict[str, dict[str, int]] = field(default_factory=dict)
    in_force_after: dict[str, str] = field(default_factory=dict)
    scenario_payees: dict[str, int] = field(default_factory=dict)


class _Writer:
    """Inserts documents by collection and counts them (the store is empty: see ``generate``)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.counts: Counter[str] = Counter()

    def write(self, name: str, docs: list[dict[str, Any]]) -> None:
        """Insert ``docs`` (unique ``_id``s) into collection ``name``."""
        for batch in batch_iterable(docs, _WRITE_BATCH):
            self._db[name].insert_many(batch, ordered=False)
        self.counts[name] += len(docs)


def stored_collections(db: Database) -> dict[str, int]:
    """The collections of ``db`` that hold documents, with how many each holds."""
    counts = {name: db[name].estimated_document_count() for name in db.list_collection_names()}
    return {name: count for name, count in sorted(counts.items()) if count}


def _stream(seed: int, name: str) -> random.Random:
    return random.Random(f"{seed}:{name}")


def event_id(cycle: int) -> str:
    """The id of the synthetic payment event of ``cycle`` (1-based)."""
    return f"PE-SYN-{cycle:04d}"


def _payer(index: int) -> dict[str, Any]:
    """The payer identity of funding source ``index``: what its 835s name (N1*PR, TRN03)."""
    return {
        "name": f"Synthetic Health Plan {index + 1}",
        "tax_id": f"{750000001 + index:09d}",
        "address": {"line1": f"{100 * (index + 1)} Plan Way", "city": "Dallas", "state": "TX",
                    "zip": "75201"},
        "contact_phone": "8005550100",
    }


def _config(options: SyntheticOptions, payees: list[Payee]) -> dict[str, list[dict[str, Any]]]:
    rng = _stream(options.seed, "config")
    span = max(1_000_000, 2 * options.payees * (options.cycles + 1))
    funding, sequences = [], []
    for index, fs_id in enumerate(FUNDING_IDS):
        start = rng.randint(1, 9) * 1_000_000
        funding.append({
            "_id": fs_id,
            "name": f"Synthetic operating account {index + 1}",
            "check_range": {"start": start, "end": start + span - 1},
            "eft_trace_prefix": f"EFT{'AB'[index]}",
            "payer": _payer(index),
            "bank": funding_bank(index),
        })
        if rng.random() < 0.75:
            sequences.append({"_id": f"check:{fs_id}", "next": start + rng.randrange(1000)})
        if rng.random() < 0.75:
            sequences.append({"_id": f"eft:{fs_id}", "next": rng.randint(1, 5000)})
    stored_ids = [payee.pc_id for payee in payees if payee.pc_id is not None]
    if rng.random() < 0.75:
        sequences.append({"_id": "PaymentCenter", "next": max(stored_ids) + 1 + rng.randrange(10)})
    events = []
    for cycle in range(1, options.cycles + 1):
        erng = _stream(options.seed, f"event:{cycle}")
        line_of_business, state = _BUSINESSES[(cycle - 1) % len(_BUSINESSES)]
        event: dict[str, Any] = {
            "_id": event_id(cycle),
            "name": f"Synthetic {options.pc_type.lower()} cycle {cycle}",
            "pc_type": options.pc_type,
            "type": "SUPPLEMENTAL" if erng.random() < 0.1 else "REGULAR",
            "business": {"line_of_business": line_of_business, "state": state},
            "due_date": FIRST_DUE_DATE + timedelta(days=7 * (cycle - 1)),
            "inclusion_criteria_id": CRITERIA_ID,
            "funding_source_id": FUNDING_IDS[(cycle - 1) % len(FUNDING_IDS)],
            "interest_rules_id": RULES_ID,
        }
        # The first event is like the golden one; later ones vary (no reduction field:
        # the default 0). A minimum is always set: the below-minimum scenario needs one.
        first = cycle == 1
        event["min_payment_amount"] = money(500 if first else erng.choice((100, 500, 1000)))
        reduction = 200 if first else erng.choice((None, 0, 200))
        if reduction is not None:
            event["payment_reduction_pct"] = money(reduction)
        event["stage"] = "NEW"
        events.append(event)
    return {
        "PaymentEvent": events,
        "InclusionCriteria": [
            {"_id": CRITERIA_ID, "benefit_plan_ids": list(INCLUDED_PLANS),
             "payment_center_keys": None},
        ],
        "FundingSource": funding,
        "InterestRules": [{
            "_id": RULES_ID,
            "annual_rate_pct": money(1200),
            "grace_days": 30,
            "min_interest": money(100),
            "overrides": [
                {"state": "TX", "line_of_business": "COMMERCIAL", "annual_rate_pct": money(1800)},
                {"state": "FL", "line_of_business": "MEDICAID", "grace_days": 15,
                 "min_interest": money(50)},
            ],
        }],
        "Sequences": sequences,
        "PaymentCenter": [
            payee.document(options.pc_type) for payee in payees if payee.pc_id is not None
        ],
    }


def _settled_before(
    factory: ClaimFactory, rng: random.Random, payee: Payee
) -> tuple[Chain, dict[str, Any]]:
    """A chain settled by the fake event PE-SYN-0000, a week before cycle 1, and its entry."""
    chain = factory.prior_chain(payee, PRIOR_PAID_DATE - timedelta(days=rng.randint(0, 30)))
    settled = [chain.parent]
    if rng.random() < 0.15:  # originated and replaced within the prior event
        chain.current = factory.new_id()
        settled.append(chain.current)
    return chain, {
        "_id": f"{PRIOR_EVENT_ID}:{chain.parent}",
        "ParentClaimCore_ID": chain.parent,
        "PaymentEvent_ID": PRIOR_EVENT_ID,
        "PaymentCenter_ID": payee.pc_id,
        "ClaimCore_IDs": settled,
        "final_ClaimCore_ID": chain.current,
        "benefit_amount": money(chain.lines.paid_cents),
        "interest_amount": money(0),
        "paid_date": PRIOR_PAID_DATE,
    }


def _over_under(rng: random.Random, stored: list[Payee]) -> list[dict[str, Any]]:
    """Open OVERs (some partly recouped, some payees with two), open UNDERs, one CLOSED."""
    records: list[dict[str, Any]] = []

    def record(payee: Payee, kind: str, reason: str, total: int, applied: int) -> None:
        records.append({
            "_id": f"OU-SYN-{len(records) + 1:04d}",
            "PaymentCenter_ID": payee.pc_id,
            "type": kind,
            "reason": reason,
            "total": money(total),
            "remaining": money(total - applied),
            "status": "OPEN" if applied < total else "CLOSED",
            "created_event_id": PRIOR_EVENT_ID,
            "created_date": PRIOR_PAID_DATE - timedelta(days=rng.randint(0, 100)),
            "applications": [{"event_id": PRIOR_EVENT_ID, "amount": money(applied)}]
            if applied else [],
            "references": [],
        })

    for payee in rng.sample(stored, k=max(1, len(stored) // 10)):
        for _ in range(2 if rng.random() < 0.3 else 1):
            total = rng.randint(1000, 50000)
            applied = total * rng.randint(10, 60) // 100 if rng.random() < 0.3 else 0
            record(payee, "OVER", "RECOUPMENT", total, applied)
    for payee in rng.sample(stored, k=max(1, len(stored) // 12)):
        if payee.status == "HOLD":
            record(payee, "UNDER", "HOLD", rng.randint(1000, 30000), 0)
        else:
            record(payee, "UNDER", "BELOW_MINIMUM", rng.randint(50, 999), 0)
    total = rng.randint(1000, 20000)
    record(rng.choice(stored), "OVER", "RECOUPMENT", total, total)
    return records


def generate(db: Database, options: SyntheticOptions) -> GenerationSummary:
    """Write the synthetic store described by ``options`` into the empty ``db``; summarise it.

    Same options, same documents. A ``db`` that holds any document is refused
    (ConfigurationError, nothing written): the generator never changes data it did not
    create. ``synthetic.additions.add_events`` adds events beside existing data.
    """
    if stored := stored_collections(db):
        held = ", ".join(f"{name} {count}" for name, count in stored.items())
        raise ConfigurationError(f"the store already holds documents ({held}): the generator "
                                 "writes only into an empty store (--add-events adds new "
                                 "events beside existing data)")
    seed, pc_type = options.seed, options.pc_type
    payees = make_payees(_stream(seed, "payees"), pc_type, options.payees)
    stored = [payee for payee in payees if payee.pc_id is not None]
    new_only = [payee for payee in payees if payee.pc_id is None]
    active = [payee for payee in stored if payee.status == "ACTIVE"]
    # Two stored payees get only the settlement scenarios' claims, when there are enough.
    recoupment, below_minimum = (active[-1], active[-2]) if len(active) >= 6 else (None, None)
    scenario = {payee.key for payee in (recoupment, below_minimum) if payee}
    regular = [payee for payee in payees if payee.key not in scenario]
    regular_stored = [payee for payee in regular if payee.pc_id is not None]
    others_rng = _stream(seed, "others")
    if pc_type == "PROVIDER":
        others = make_members(others_rng, max(10, min(options.claims // 4, 50_000)))
    else:
        others = make_providers(others_rng, max(5, options.payees // 10))

    writer = _Writer(db)
    for name, docs in _config(options, payees).items():
        writer.write(name, docs)

    factory = ClaimFactory(_stream(seed, "claims"), pc_type, regular, others)
    prior_rng = _stream(seed, "prior")
    settled = [
        _settled_before(factory, prior_rng, prior_rng.choice(regular_stored))
        for _ in range(max(_RESERVED_PRIOR + 1, options.claims // 4))
    ]
    prior = [chain for chain, _ in settled]
    for chain in prior[_RESERVED_PRIOR:]:
        factory.in_force[chain.parent] = chain
    if recoupment and below_minimum:
        chain, entry = _settled_before(factory, prior_rng, recoupment)
        settled.append((chain, entry))
        factory.in_force[chain.parent] = chain
        factory.recoupment_payee, factory.recoupment_chain = recoupment, chain.parent
        factory.below_minimum_payee = below_minimum
    writer.write("ClaimFinCore", [entry for _, entry in settled])
    writer.write("OverUnder", _over_under(_stream(seed, "overunder"), regular_stored))

    malformed = MalformedFactory(pc_type, stored, others, prior)
    bad_per_event = round(options.bad_rate * options.claims)
    event_ids: list[str] = []
    bad_claims: dict[str, list[str]] = {}
    bad_doc_ids: list[str] = []
    warnings: dict[str, list[str]] = {"OVER_ALLOWED": [], "BENEFIT_PLAN_EXCLUDED": []}
    kinds_by_event: dict[str, dict[str, int]] = {}
    for cycle in range(1, options.cycles + 1):
        current = event_id(cycle)
        due = FIRST_DUE_DATE + timedelta(days=7 * (cycle - 1))
        made = factory.event(current, due, options.claims, new_only if cycle == 1 else [])
        writer.write("ClaimWSCore", made.docs)
        warnings["OVER_ALLOWED"].extend(made.over_allowed)
        warnings["BENEFIT_PLAN_EXCLUDED"].extend(made.excluded)
        kinds_by_event[current] = dict(sorted(made.kinds.items()))
        event_ids.append(current)
        if options.bad_rate > 0:
            docs, carriers = malformed.event(
                _stream(seed, f"bad:{cycle}"), current, due, bad_per_event, made.touched
            )
            writer.write("ClaimWSCore", docs)
            bad_doc_ids.extend(doc["_id"] for doc in docs)
            for code in critical_codes(pc_type):
                bad_claims.setdefault(code, []).extend(carriers.get(code, []))

    in_force = {chain.parent: chain.current for chain in prior[:_RESERVED_PRIOR]}
    in_force.update((parent, chain.current) for parent, chain in factory.in_force.items())
    return GenerationSummary(
        event_ids=tuple(event_ids),
        counts=dict(sorted(writer.counts.items())),
        bad_claims=bad_claims,
        bad_doc_ids=tuple(bad_doc_ids),
        warning_claims=warnings,
        new_payee_keys=tuple(payee.key for payee in new_only),
        kinds_by_event=kinds_by_event,
        in_force_after=dict(sorted(in_force.items())),
        scenario_payees={
            name: payee.pc_id
            for name, payee in (("recoupment", recoupment), ("below_minimum", below_minimum))
            if payee is not None and payee.pc_id is not None
        },
    )
