"""Hash chains: how the register and the ledger make tampering detectable.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's canonical JSON.
Rules:
- CHAIN-1 The first entry of a chain links to GENESIS (64 zeros).
- CHAIN-2 hash(n) = sha256(hash(n-1) + "\\n" + canonical_json(payload(n))), hex encoded.
- CHAIN-3 canonical_json: keys sorted, no insignificant whitespace, UTF-8, no NaN; values are
  str, int, bool, None, lists and objects only (callers turn dates, decimals and fractions into
  strings first), so the same payload always hashes the same in every process.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical_json(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      allow_nan=False)


def link_hash(previous: str, payload: Any) -> str:
    """CHAIN-2."""
    text = previous + "\n" + canonical_json(payload)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    """The first entry whose stored hashes do not match what its content implies."""

    chain: str  # which chain, e.g. "register:511923" or "ledger"
    position: int  # sequence number of the broken entry
    reason: str


def first_break(chain: str, entries: Iterable[tuple[int, str, str, Any]]) -> ChainBreak | None:
    """Walk (position, prev_hash, hash, payload) in order; report the first broken link."""
    expected_previous = GENESIS
    for position, prev_hash, stored_hash, payload in entries:
        if prev_hash != expected_previous:
            return ChainBreak(chain, position, "prev_hash does not match the previous entry")
        if link_hash(prev_hash, payload) != stored_hash:
            return ChainBreak(chain, position, "content does not match its hash")
        expected_previous = stored_hash
    return None
