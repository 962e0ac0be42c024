"""ASC X12 005010X221A1 835 remittance advice for the payees of a finished payment event.

``write_remittances(db, payment_event_id, out_dir)`` writes one file per payee; the
layers beneath it are the format-free model (:mod:`.model`), the store reader
(:mod:`.builder`) and the X12 rendering (:mod:`.x835`). See ``docs/remittance.md``.
"""

from PaymentProcess.remittance.model import RemittanceError
from PaymentProcess.remittance.writer import file_name, write_remittances

__all__ = ["RemittanceError", "file_name", "write_remittances"]
