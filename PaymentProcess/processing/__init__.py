"""Parallel execution and batching."""

from PaymentProcess.processing.optimization.batch_processor import batch_iterable, bulk_upsert
from PaymentProcess.processing.parallel.multiprocessing import run_claim_batch_level

__all__ = ["batch_iterable", "bulk_upsert", "run_claim_batch_level"]
