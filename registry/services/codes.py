"""Codes checked against the register's own reference data, as domain errors."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.codes import CodeError, IdNumber, IdType, ParcelCode, UnitCode, parse_id
from registry.codes import parse_parcel_code as _parse_parcel_code
from registry.codes import parse_unit_code as _parse_unit_code
from registry.db.reference import Division, DivisionLevel, LandUseCode
from registry.services.errors import InvalidInput


def problems_of(error: CodeError) -> list[dict[str, object]]:
    return [{"code": p.code, "messageZh": p.message_zh, "messageEn": p.message_en,
             "position": p.position} for p in error.problems if p.is_error]


def county_codes(session: Session) -> frozenset[str]:
    return frozenset(session.scalars(
        select(Division.code).where(Division.level == DivisionLevel.COUNTY)))


def parse_parcel_code(session: Session | None, text: str,
                      counties: frozenset[str] | None = None) -> ParcelCode:
    """A parcel code checked against the register's counties (given, or read from `session`)."""
    known = counties if counties is not None else county_codes(session)  # type: ignore[arg-type]
    try:
        return _parse_parcel_code(text, known)
    except CodeError as exc:
        raise InvalidInput("INVALID_PARCEL_CODE", f"宗地代码无效：{exc.problems[0].message_zh}",
                           f"invalid parcel code: {exc}", problems_of(exc)) from exc


def parse_unit_code(session: Session | None, text: str,
                    counties: frozenset[str] | None = None) -> UnitCode:
    """A unit code checked against the register's counties (given, or read from `session`)."""
    known = counties if counties is not None else county_codes(session)  # type: ignore[arg-type]
    try:
        return _parse_unit_code(text, known)
    except CodeError as exc:
        raise InvalidInput("INVALID_UNIT_CODE", f"不动产单元代码无效：{exc.problems[0].message_zh}",
                           f"invalid unit code: {exc}", problems_of(exc)) from exc


def parse_party_id(id_type: IdType, number: str, today: object = None) -> IdNumber:
    try:
        return parse_id(id_type, number, today=today)  # type: ignore[arg-type]
    except CodeError as exc:
        # Never echo the number itself: it is personal data.
        raise InvalidInput("INVALID_ID_NUMBER", f"证件号码无效：{exc.problems[0].message_zh}",
                           f"invalid ID number: {exc}", problems_of(exc)) from exc


def check_land_use(session: Session, system: str, code: str) -> None:
    found = session.get(LandUseCode, (system, code))
    if found is None:
        raise InvalidInput("UNKNOWN_LAND_USE", f"未知的土地用途：{system} {code}",
                           f"unknown land use: {system} {code}", system=system, land_use=code)
