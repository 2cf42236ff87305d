"""What "changes nothing" means in a test: every table's rows and every object in the bucket."""

from __future__ import annotations

from sqlalchemy import text

from registry.runtime import Runtime


def snapshot(runtime: Runtime) -> dict[str, str]:
    """A digest of every row of every table of ours, and the bucket's keys."""
    state: dict[str, str] = {}
    with runtime.engine.connect() as conn:
        tables = conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename NOT IN ('spatial_ref_sys') ORDER BY tablename")).scalars().all()
        for table in tables:
            state[table] = conn.execute(text(
                f'SELECT count(*) || \':\' || coalesce(md5(string_agg(t::text, \'|\' '
                f'ORDER BY t::text)), \'\') FROM "{table}" t')).scalar_one()
    state["bucket"] = ",".join(sorted(runtime.store.list_keys()))
    return state
