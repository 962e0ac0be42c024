"""Payee lookup, workspace sync for the dry run and creation of new payees (spec section 5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from PaymentProcess.core import records
from PaymentProcess.core.validation import describe_errors, document_label
from PaymentProcess.data.models.payment_center import PaymentCenter, PaymentCenterType
from PaymentProcess.data.repositories.collections import PAYMENT_CENTER
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
        """Validate the payee documents found for ``keys``/``ids`` and list what is missing.

        ``ids`` are the payees the ledger paid the event's chains before: each must exist
        and be valid, or it is listed in ``invalid`` (``RECORD_INVALID``).
        """
        summary = PaymentCenterSummary(documents=documents)
        stored_ids: set[int] = set()  # of valid and malformed documents alike
        for document in documents:
            if isinstance(payee_id := document.get("_id"), int) and not isinstance(payee_id, bool):
                stored_ids.add(payee_id)
            try:
                payee = PaymentCenter.model_validate(document)
            except PydanticValidationError as exc:
                summary.invalid.append((document_label(document),
                                        describe_errors(PAYMENT_CENTER, exc)))
                continue
            summary.existing[payee.key] = payee
            summary.key_by_id[payee.id] = payee.key
        for payee_id in sorted(ids - stored_ids):
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
