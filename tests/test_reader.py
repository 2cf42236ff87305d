"""The async reader runs the read models' SQL with psycopg's placeholders."""

from __future__ import annotations

from registry.db.reader import conninfo, pyformat


def test_named_parameters_become_pyformat_and_casts_stay() -> None:
    sql = "SELECT '[]'::json, x::text FROM t WHERE a = :code AND b <= :now AND c LIKE 'x%'"
    assert pyformat(sql) == ("SELECT '[]'::json, x::text FROM t WHERE a = %(code)s"
                             " AND b <= %(now)s AND c LIKE 'x%%'")


def test_connection_string_from_an_sqlalchemy_url_keeps_the_password() -> None:
    assert conninfo("postgresql+psycopg://u:p%40ss@h:5433/db") == "postgresql://u:p%40ss@h:5433/db"
