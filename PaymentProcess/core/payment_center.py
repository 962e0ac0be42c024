"""Payee lookup, workspace sync for the dry run and creation of new payees (spec section 5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from PaymentProcess.core import records
from PaymentProcess.data.models.payment_center import PaymentCenter, PaymentCenterType
from PaymentProcess.data.repositories.payment_center_repo import PaymentCenterRepository

PaymentCenterCache = dict[str, int]


@dataclass(slots=True)
class PaymentCenterSummary:
    """The payees an event needs: existing ones (valid), and the keys still missing."""

    existing: dict[str, PaymentCenter] = field(default_factory=dict)
    documents: list[dict[str, Any]] = field(default_factory=list)
    key_by_id: dict[int, str] = field(default_factory=dict)
    missing_keys: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)

    def build_cache(self, first_new_id: int | None) -> PaymentCenterCache:
        """Key -> PaymentCenter_ID, new payees numbered from ``first_new_id`` in key order."""
        cache = {key: payee.id for key, payee in self.existing.items()}
        if first_new_id is not None:
            cache.update({key: first_new_id + i for i, key in enumerate(self.missing_keys)})
        return cache


class PaymentCenterManager:
    """Keeps the event's payees: finds them, copies them to the workspace, creates new ones."""

    def __init__(self, repository: PaymentCenterRepository, pc_type: PaymentCenterType) -> None:
        self.repository = repository
        self.pc_type = pc_type

    def summarize(self, documents: list[dict[str, Any]], keys: set[str],
                  ids: set[int]) -> PaymentCenterSummary:
        """Validate the payee documents found for ``keys``/``ids`` and list what is missing."""
        summary = PaymentCenterSummary(documents=documents)
        for document in documents:
            try:
                payee = PaymentCenter.model_validate(document)
            except PydanticValidationError as exc:
                fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
                summary.invalid.append((str(document.get("_id"))[:64], f"PaymentCenter: {fields}"))
                continue
            summary.existing[payee.key] = payee
            summary.key_by_id[payee.id] = payee.key
        for payee_id in sorted(ids - summary.key_by_id.keys()):
            summary.invalid.append((str(payee_id), "ledger payee not found in PaymentCenter"))
        summary.missing_keys = sorted(keys - summary.existing.keys())
        return summary

    def sync_to_ws(self, payment_event_id: str, summary: PaymentCenterSummary,
                   cache: PaymentCenterCache, sources: dict[str, dict[str, Any]]) -> None:
        """Dry run: copy existing payees and create the missing ones in PaymentCenterWS only."""
        copies = [{**doc, "PaymentCenter_ID": doc["_id"], "is_new": False}
                  for doc in summary.documents
                  if isinstance(doc.get("key"), str) and doc["key"] in summary.existing]
        copies += [{**records.new_payee(key, None, self.pc_type, sources[key]),
                    "PaymentCenter_ID": cache.get(key), "is_new": True}
                   for key in summary.missing_keys]
        self.repository.copy_to_ws(payment_event_id, copies)

    def create_missing_in_prod(self, summary: PaymentCenterSummary, cache: PaymentCenterCache,
                               sources: dict[str, dict[str, Any]]) -> int:
        """Final run: insert the missing payees with their allocated ids (replayable)."""
        return self.repository.create_prod_if_missing(
            [records.new_payee(key, cache[key], self.pc_type, sources[key])
             for key in summary.missing_keys])
