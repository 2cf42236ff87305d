"""Parcels: creating them from survey results (宗地), with every check before the database's.

Checks here give precise errors; PARCEL-1..4 in registry/db/spatial.py are enforced by the
database as well, so a race or a bug cannot store what these checks would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.codes import UseRight
from registry.db.access import Role
from registry.db.spatial import Layer, Parcel
from registry.services.access import Principal, audit, require, require_county
from registry.services.codes import check_land_use, parse_parcel_code
from registry.services.errors import DomainError, InvalidInput
from registry.services.geometry import parse_geojson, to_storage

# The parcel code's use-right letter says which layer the right lies in.
LAYER_OF_USE_RIGHT = {UseRight.CONSTRUCTION_ABOVE: Layer.ABOVE,
                      UseRight.CONSTRUCTION_BELOW: Layer.UNDERGROUND}


@dataclass(frozen=True)
class ParcelInput:
    code: str
    geometry: Any  # GeoJSON Polygon / MultiPolygon (dict or JSON text)
    crs: int
    land_use_system: str
    land_use_code: str
    location: str
    layer: Layer = Layer.SURFACE
    elevation_bottom: Decimal | None = None
    elevation_top: Decimal | None = None
    declared_area: Decimal | None = None


def _check_layer(code_use_right: UseRight, data: ParcelInput) -> None:
    expected = LAYER_OF_USE_RIGHT.get(code_use_right, Layer.SURFACE)
    if data.layer is not expected:
        raise InvalidInput(
            "LAYER_MISMATCH",
            f"宗地特征码“{code_use_right.value}”对应{expected.label_zh}层，"
            f"与所填层次（{data.layer.label_zh}）不符",
            f"use-right letter {code_use_right.value} means layer {expected.value}, "
            f"not {data.layer.value}", expected=expected.name)
    bottom, top = data.elevation_bottom, data.elevation_top
    if data.layer is Layer.SURFACE:
        if bottom is not None or top is not None:
            raise InvalidInput("INVALID_ELEVATION", "地表宗地不填写高程范围",
                               "a surface parcel has no elevation range")
        return
    if bottom is None or top is None or not bottom < top:
        raise InvalidInput("INVALID_ELEVATION", "分层宗地须填写高程范围，且底部低于顶部",
                           "a layered parcel needs an elevation range with bottom < top")
    if data.layer is Layer.UNDERGROUND and top > 0:
        raise InvalidInput("INVALID_ELEVATION", "地下宗地的顶部高程不得高于地面（0）",
                           "an underground parcel lies at or below 0")
    if data.layer is Layer.ABOVE and bottom < 0:
        raise InvalidInput("INVALID_ELEVATION", "地上宗地的底部高程不得低于地面（0）",
                           "an above-ground parcel lies at or above 0")


def create_parcel(session: Session, principal: Principal | None, data: ParcelInput,
                  now: datetime, request_id: str | None = None) -> Parcel:
    """A new current parcel; refused with a precise code if anything is wrong."""
    actor = require(principal, Role.CLERK)
    parcel_code = parse_parcel_code(session, data.code)
    require_county(actor, parcel_code.county)
    _check_layer(parcel_code.use_right, data)
    check_land_use(session, data.land_use_system, data.land_use_code)
    if data.declared_area is not None and data.declared_area <= 0:
        raise InvalidInput("INVALID_AREA", "申报面积须大于0", "declared area must be positive")
    geometry = parse_geojson(data.geometry)
    stored = to_storage(session, geometry, data.crs)
    existing = session.scalar(select(Parcel.id).where(Parcel.code == parcel_code.code,
                                                      Parcel.ended_at.is_(None)))
    if existing is not None:
        raise DomainError("PARCEL_EXISTS", f"宗地代码已存在：{parcel_code.code}",
                          f"a current parcel already has code {parcel_code.code}",
                          {"code": parcel_code.code})
    parcel = Parcel(code=parcel_code.code, county_code=parcel_code.county, layer=data.layer,
                    elevation_bottom=data.elevation_bottom, elevation_top=data.elevation_top,
                    geom=stored, declared_area=data.declared_area,
                    land_use_system=data.land_use_system, land_use_code=data.land_use_code,
                    location=data.location.strip(), created_by=actor.user_id, created_at=now)
    session.add(parcel)
    session.flush()  # PARCEL-2 is checked here, by the database
    audit(session, actor, "createParcel", parcel.code, request_id)
    return parcel
