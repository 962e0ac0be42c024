"""Test support for the mongomock-ng patches: mongomock-ng's own functions, for a while."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PaymentProcess.data import mongomock_patches


@contextmanager
def unpatched(name: str) -> Iterator[None]:
    """mongomock-ng's own functions in place of the patches called ``name``, for a while."""
    patches = [p for p in mongomock_patches.PATCHES if p.name == name]
    assert patches, name
    for patch in patches:
        patch.install(patch.original)
    try:
        yield
    finally:
        for patch in patches:
            patch.install(patch.replacement)
