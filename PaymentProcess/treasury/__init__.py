"""Bank files of a finished payment event (spec 13): NACHA ACH, positive pay, check register.

``write_treasury_files(db, payment_event_id, out_dir)`` writes them exactly once; the layers
beneath it are the format-free records (:mod:`.model`), the store reader (:mod:`.source`)
and one pure builder per format (:mod:`.ach`, :mod:`.positive_pay`, :mod:`.register`),
which a void or reissue (spec 14) calls with its own records. See ``docs/treasury.md``.
"""

from PaymentProcess.treasury.model import TreasuryError
from PaymentProcess.treasury.writer import write_treasury_files

__all__ = ["TreasuryError", "write_treasury_files"]
