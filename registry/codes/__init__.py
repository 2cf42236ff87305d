"""National code formats (国家标准代码): pure functions, no I/O, standard library only.

- :mod:`~registry.codes.problems`: :class:`Problem`, :class:`CodeError`, :func:`normalize`;
- :mod:`~registry.codes.divisions`: division codes 行政区划代码 (GB/T 2260), structure only;
- :mod:`~registry.codes.unit_code`: 不动产单元代码 / 宗地代码 (GB/T 37346-2019);
- :mod:`~registry.codes.identity`: 身份证号码, 统一社会信用代码, 组织机构代码 and other IDs;
- :mod:`~registry.codes.certificate`: 不动产权证书号 / 不动产登记证明号;
- :mod:`~registry.codes.area`: exact areas and units 平方米 / 亩 / 公顷;
- :mod:`~registry.codes.land_use`: land-use code formats 土地用途代码;
- :mod:`~registry.codes.natural_resources`: 自然资源登记单元号 (configurable pattern), unit types,
  三调 land cover → resource types, the public-notice period.

``check_*`` functions never raise for any input text and return every problem found;
``parse_*`` functions raise :class:`CodeError` (a ``ValueError``) only.
"""

from registry.codes.area import (
    SQUARE_METRES_PER,
    AreaUnit,
    check_decimal,
    convert,
    from_square_metres,
    parse_area_unit,
    parse_decimal,
    round_decimal,
    to_square_metres,
)
from registry.codes.certificate import (
    PROVINCE_ABBREVIATIONS,
    CertificateKind,
    CertificateNumber,
    check_certificate_number,
    format_certificate_number,
    parse_certificate_number,
)
from registry.codes.divisions import (
    PROVINCE_CODES,
    county_of,
    division_level,
    is_county_code,
)
from registry.codes.identity import (
    IdNumber,
    IdType,
    check_credit_code,
    check_id,
    check_resident_id,
    credit_code_check_char,
    is_collective_economic_org,
    mask_id,
    organization_code_check_char,
    parse_id,
    resident_id_check_char,
    upgrade_legacy_id,
)
from registry.codes.land_use import LandUseSystem, check_land_use_code
from registry.codes.problems import MAX_INPUT_LENGTH, CodeError, Problem, normalize
from registry.codes.unit_code import (
    Fixture,
    Ownership,
    ParcelCode,
    UnitCode,
    UseRight,
    build_unit_code,
    check_parcel_code,
    check_unit_code,
    land_unit_code,
    parse_parcel_code,
    parse_unit_code,
)

__all__ = [
    "MAX_INPUT_LENGTH",
    "PROVINCE_ABBREVIATIONS",
    "PROVINCE_CODES",
    "SQUARE_METRES_PER",
    "AreaUnit",
    "CertificateKind",
    "CertificateNumber",
    "CodeError",
    "Fixture",
    "IdNumber",
    "IdType",
    "LandUseSystem",
    "Ownership",
    "ParcelCode",
    "Problem",
    "UnitCode",
    "UseRight",
    "build_unit_code",
    "check_certificate_number",
    "check_credit_code",
    "check_decimal",
    "check_id",
    "check_land_use_code",
    "check_parcel_code",
    "check_resident_id",
    "check_unit_code",
    "convert",
    "county_of",
    "credit_code_check_char",
    "division_level",
    "format_certificate_number",
    "from_square_metres",
    "is_collective_economic_org",
    "is_county_code",
    "land_unit_code",
    "mask_id",
    "normalize",
    "organization_code_check_char",
    "parse_area_unit",
    "parse_certificate_number",
    "parse_decimal",
    "parse_id",
    "parse_parcel_code",
    "parse_unit_code",
    "resident_id_check_char",
    "round_decimal",
    "to_square_metres",
    "upgrade_legacy_id",
]
