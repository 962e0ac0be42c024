"""Free text (names, addresses) made safe for fixed-format files: the 835 and the bank files."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection

_SPACES = re.compile(r"\s+")


def plain_ascii(value: str, forbidden: Collection[str] = ()) -> str:
    """``value`` in printable ASCII: accents dropped (``é`` -> ``e``), other non-ASCII
    characters removed, control characters and ``forbidden`` ones (a format's delimiters)
    replaced by spaces, runs of spaces collapsed, no leading or trailing space."""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    cleaned = "".join(" " if c in forbidden or not c.isprintable() else c for c in ascii_text)
    return _SPACES.sub(" ", cleaned).strip()
