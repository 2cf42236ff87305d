"""Per-type attributes of natural-resource units (NRATTR-1..3): the field catalogue, the checks
each value passes, and the history kept when attributes are entered again."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from registry.db.natural_resources import (
    NaturalAttributes,
    NaturalUnit,
    NaturalUnitStatus,
    RegistrationLevel,
)
from registry.db.session import transaction
from registry.runtime import Runtime
from registry.services.access import Principal
from registry.services.errors import DomainError
from registry.services.natural_resources.attributes import (
    FieldType,
    attribute_fields,
    attributes_of,
    set_attributes,
)
from tests.conftest import Users, principal
from tests.snapshot import snapshot

NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)
PARK = "511923220000001"
GONE = "511923220000002"


def add_unit(runtime: Runtime, code: str, x0: float,
             status: NaturalUnitStatus = NaturalUnitStatus.REGISTERED) -> None:
    y0 = 3_493_000
    geom = (f"SRID=4545;MULTIPOLYGON((({x0} {y0},{x0 + 100} {y0},{x0 + 100} {y0 + 100},"
            f"{x0} {y0 + 100},{x0} {y0})))")
    with transaction(runtime.sessions) as session:
        session.add(NaturalUnit(
            code=code, name="佛头山自然保护区", unit_type="22", county_code="511923",
            level=RegistrationLevel.CITY_COUNTY, authority="平昌县自然资源局", geom=geom,
            status=status))


@pytest.fixture
def clerk(runtime: Runtime, users: Users) -> Principal:
    users.add("pc-clerk", "clerk", county="511923")
    add_unit(runtime, PARK, 414_000)
    add_unit(runtime, GONE, 414_200, NaturalUnitStatus.CANCELLED)
    return principal(runtime, "pc-clerk")


def test_the_catalogue_follows_the_register_pages() -> None:
    catalogue = {r.resource_type: r for r in attribute_fields()}
    assert list(catalogue) == ["water", "wetland", "forest", "grassland", "wasteland",
                               "mineral"]
    water = catalogue["water"]
    kind = water.field("water_kind")
    assert kind is not None and kind.label_zh == "水流类型" and kind.type is FieldType.ENUM
    assert kind.values == ("河流", "湖泊", "水库水面", "冰川及永久积雪")
    quality = water.field("water_quality")
    assert quality is not None and quality.values[-1] == "劣Ⅴ" and len(quality.values) == 6
    runoff = water.field("annual_runoff_1e8m3")
    assert runoff is not None and runoff.type is FieldType.DECIMAL and runoff.unit == "亿m³"
    stock = catalogue["forest"].field("stock_m3")
    assert stock is not None and stock.label_zh == "总蓄积量"
    assert catalogue["grassland"].field("grassland_grade") is not None
    assert {f.name for f in catalogue["wetland"].fields} >= {
        "wetland_kind", "vegetation", "dominant_species", "protected_birds", "water_quality",
        "water_supply"}
    assert {f.name for f in catalogue["mineral"].fields} >= {
        "mineral", "block_no", "reserve_unit", "measured"}
    for resource in catalogue.values():
        for spec in resource.fields:
            assert spec.label_zh and (spec.type is not FieldType.ENUM or spec.values)


def refused(runtime: Runtime, code: str, call: Any) -> DomainError:
    before = snapshot(runtime)
    with pytest.raises(DomainError) as caught, transaction(runtime.sessions) as session:
        call(session)
    assert caught.value.code == code, caught.value
    assert snapshot(runtime) == before
    return caught.value


def test_values_are_checked_and_nothing_changes_when_one_is_wrong(
        runtime: Runtime, clerk: Principal, users: Users) -> None:
    with transaction(runtime.sessions) as session:
        set_attributes(session, clerk, PARK, "water", {"water_kind": "河流"}, NOW)

    def setting(resource_type: str, values: dict[str, Any], who: Principal = clerk,
                unit: str = PARK) -> Any:
        return lambda s: set_attributes(s, who, unit, resource_type, values, LATER)

    error = refused(runtime, "UNKNOWN_RESOURCE_TYPE", setting("ocean", {}))
    assert error.details["resource_type"] == "ocean"
    error = refused(runtime, "UNKNOWN_ATTRIBUTE", setting("water", {"colour": "蓝"}))
    assert error.details["field"] == "colour"
    for field, value in (("water_kind", "池塘"), ("water_quality", "Ⅵ"),
                         ("river_length_km", "-1"), ("river_length_km", "很长"),
                         ("river_length_km", float("nan")), ("river_length_km", True),
                         ("annual_runoff_1e8m3", "Infinity"), ("name", 12),
                         ("name", "长" * 501)):
        error = refused(runtime, "INVALID_ATTRIBUTE", setting("water", {field: value}))
        assert error.details["field"] == field, (field, value)
    error = refused(runtime, "INVALID_ATTRIBUTE",
                    setting("mineral", {"mineral": "天然气", "proven_geological": "12.5"}))
    assert error.details["field"] == "reserve_unit"
    error = refused(runtime, "INVALID_ATTRIBUTE",
                    setting("mineral", {"estimated_on": "2024-13-01"}))
    assert error.details["field"] == "estimated_on"
    refused(runtime, "NR_UNIT_NOT_FOUND", setting("water", {}, unit="511923229999999"))
    refused(runtime, "NR_UNIT_NOT_FOUND", setting("water", {}, unit=GONE))
    users.add("tj-clerk", "clerk", county="511921")
    refused(runtime, "FORBIDDEN", setting("water", {}, who=principal(runtime, "tj-clerk")))
    users.add("reviewer", "reviewer", county="511923")
    refused(runtime, "FORBIDDEN", setting("water", {}, who=principal(runtime, "reviewer")))


def test_entering_again_keeps_the_history(runtime: Runtime, clerk: Principal) -> None:
    with transaction(runtime.sessions) as session:
        first = set_attributes(session, clerk, PARK, "water", {
            "water_kind": "河流", "name": " 巴河 ", "river_length_km": 12.5,
            "annual_runoff_1e8m3": Decimal("3.20"), "water_quality": "Ⅲ",
            "storage_1e8m3": ""}, NOW)
        assert first.attributes == {"water_kind": "河流", "name": "巴河",
                                    "river_length_km": "12.5", "annual_runoff_1e8m3": "3.20",
                                    "water_quality": "Ⅲ"}
        assert (first.entered_at, first.entered_by, first.ended_at) == (
            NOW, clerk.user_id, None)
        set_attributes(session, clerk, PARK, "forest", {
            "forest_kind": "乔木林地", "main_species": "马尾松", "stock_m3": "125000"}, NOW)
        set_attributes(session, clerk, PARK, "mineral", {
            "mineral": "天然气", "reserve_unit": "万立方米", "proven_geological": "12.5",
            "combination": "单一", "estimated_on": "2024-06-30"}, NOW)
        first_id = first.id

    with transaction(runtime.sessions) as session:
        second = set_attributes(session, clerk, PARK, "water", {
            "water_kind": "河流", "name": "巴河", "water_quality": "Ⅱ"}, LATER)
        second_id = second.id
        # the same values again change nothing
        same = set_attributes(session, clerk, PARK, "water", {
            "water_kind": "河流", "name": "巴河", "water_quality": "Ⅱ"}, LATER)
        assert same.id == second_id

    with runtime.sessions() as session:
        current = attributes_of(session, PARK)
        assert [(r.resource_type, r.id == second_id) for r in current] == [
            ("water", True), ("forest", False), ("mineral", False)]
        assert current[0].attributes == {"water_kind": "河流", "name": "巴河",
                                         "water_quality": "Ⅱ"}
        history = session.scalars(select(NaturalAttributes).where(
            NaturalAttributes.unit_code == PARK, NaturalAttributes.resource_type == "water")
            .order_by(NaturalAttributes.id)).all()
        assert [(r.id, r.ended_at) for r in history] == [(first_id, LATER), (second_id, None)]
        assert history[0].attributes["water_quality"] == "Ⅲ"  # the old version, unchanged
        assert attributes_of(session, GONE) == []
