"""Gapless numbers (CASE-1, CERT-1): one row-locked counter per series.

`next_number` increments the series' counter inside the caller's transaction. The row stays
locked until that transaction ends, so concurrent callers get consecutive numbers in commit
order; a rolled-back transaction rolls its increment back too, so no number is skipped.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session


def next_number(session: Session, series: str) -> int:
    return int(session.execute(
        text("""
            INSERT INTO number_counters (series, last_value) VALUES (:series, 1)
            ON CONFLICT (series) DO UPDATE SET last_value = number_counters.last_value + 1
            RETURNING last_value
        """),
        {"series": series},
    ).scalar_one())
