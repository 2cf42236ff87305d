"""Queries front ends call before submitting: is this unit code / ID number valid, and why not.

They never fail on bad input: they return every problem found, each with its stable code and a
message in Chinese and English, so the form can show them beside the field.
"""

from __future__ import annotations

from enum import Enum

import strawberry

from registry.api.context import Info
from registry.codes import (
    CodeError,
    check_id,
    check_unit_code,
    normalize,
    parse_id,
    parse_unit_code,
)
from registry.codes import (
    IdType as CodesIdType,
)
from registry.codes import (
    Problem as CodeProblem,
)
from registry.services.pii import mask_id_number

IdType = strawberry.enum(
    Enum("IdType", {m.name: m.value for m in CodesIdType}),  # type: ignore[misc]
    description="证件种类 kind of identity document",
)


@strawberry.enum(description="问题级别 ERROR: the code is invalid / WARNING: still valid")
class ProblemSeverity(Enum):
    ERROR = "error"
    WARNING = "warning"


@strawberry.type(description="One problem found in a code, with a stable code for programs.")
class Problem:
    code: str
    message_zh: str
    message_en: str
    position: int | None = strawberry.field(
        description="1-based position of the offending character in `normalized`, if any")
    severity: ProblemSeverity


def problem_from(problem: CodeProblem) -> Problem:
    return Problem(code=problem.code, message_zh=problem.message_zh,
                   message_en=problem.message_en, position=problem.position,
                   severity=ProblemSeverity(problem.severity))


@strawberry.type(description="The segments of a valid 28-character unit code (GB/T 37346-2019)")
class UnitCodeParts:
    county_code: str
    county_name: str | None
    cadastral_district: str
    cadastral_sub_district: str
    ownership: str = strawberry.field(description="宗地特征码第1位 G/J/Z")
    use_right: str = strawberry.field(description="宗地特征码第2位")
    parcel_sequence: str
    parcel_code: str = strawberry.field(description="宗地代码: the first 19 characters")
    fixture: str = strawberry.field(description="定着物特征码 F/L/Q/W")
    fixture_number: str


@strawberry.type(description="The result of checking a unit code")
class UnitCodeValidation:
    valid: bool
    normalized: str = strawberry.field(
        description="The input after normalisation (full-width → ASCII, upper case, trimmed)")
    problems: list[Problem]
    parts: UnitCodeParts | None


@strawberry.type(description="The result of checking a party's ID number")
class PartyIdValidation:
    valid: bool
    masked: str = strawberry.field(description="The number masked as lists show it")
    problems: list[Problem]
    legacy: bool = strawberry.field(description="A 15-digit resident ID from before 1999")


@strawberry.type
class ValidationQuery:
    @strawberry.field(description="校验不动产单元代码 Check a 28-character unit code.")
    def validate_unit_code(self, info: Info, code: str) -> UnitCodeValidation:
        reference = info.context.runtime.reference
        counties = reference.county_codes
        problems = check_unit_code(code, counties)
        normalized = normalize(code) if len(code) <= 64 else ""
        parts = None
        try:
            unit = parse_unit_code(code, counties)
        except CodeError:
            unit = None
        if unit is not None:
            parcel = unit.parcel
            parts = UnitCodeParts(
                county_code=parcel.county, county_name=reference.name_of(parcel.county),
                cadastral_district=parcel.cadastral_district,
                cadastral_sub_district=parcel.sub_district,
                ownership=str(parcel.ownership), use_right=str(parcel.use_right),
                parcel_sequence=parcel.sequence, parcel_code=parcel.code,
                fixture=str(unit.fixture), fixture_number=unit.fixture_number)
        return UnitCodeValidation(valid=unit is not None, normalized=normalized,
                                  problems=[problem_from(p) for p in problems], parts=parts)

    @strawberry.field(description="校验证件号码 Check an ID number of the given kind.")
    def validate_party_id(self, info: Info, id_type: IdType,  # type: ignore[valid-type]
                          number: str) -> PartyIdValidation:
        kind = CodesIdType(id_type.value)
        today = info.context.runtime.clock().date()
        problems = check_id(kind, number, today=today)
        try:
            parsed = parse_id(kind, number, today=today)
        except CodeError:
            parsed = None
        masked = mask_id_number(kind, parsed.number if parsed else normalize(number)[:64])
        return PartyIdValidation(valid=parsed is not None, masked=masked,
                                 problems=[problem_from(p) for p in problems],
                                 legacy=bool(parsed and parsed.legacy))
