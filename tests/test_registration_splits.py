"""Split and merge (SPLIT-1..8, MERGE-1 in registry/services/registration/splits.py), as a
clerk's day over GraphQL: a registered parcel with two mortgages and a seizure is split in
two, one mortgage released in the same case; houses and parking spaces split and merged by
area; parcels merged; every refusal changing nothing; and random splits of random polygons
either covering exactly or refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import shapely
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from shapely.affinity import translate
from shapely.geometry import LineString, Polygon
from shapely.ops import split as shapely_split
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from registry.config import Settings
from registry.db.session import transaction
from registry.db.spatial import OVERLAP_TOLERANCE_M2
from registry.runtime import Runtime
from registry.services.errors import InvalidInput
from registry.services.registration.splits import check_cover
from tests.bureau import SEATS, Bureau, organisation, person
from tests.conftest import Users
from tests.operations import operation
from tests.snapshot import snapshot
from tests.test_verify import verify

COUNTY = "511923"


def rectangle(x: float, y: float, width: float, height: float) -> dict[str, Any]:
    """A rectangle (EPSG:4545) `x`, `y` metres from a corner south of the county seat, away
    from the squares tests/bureau.py lays out north of it."""
    x0, y0 = SEATS[COUNTY]
    x0, y0 = x0 + x, y0 - 2_000 + y
    ring = [[x0, y0], [x0 + width, y0], [x0 + width, y0 + height], [x0, y0 + height],
            [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def part(x: float, y: float, width: float, height: float, **extra: Any) -> dict[str, Any]:
    return {"geometry": rectangle(x, y, width, height), "crs": 4545, **extra}


def titled_land(bureau: Bureau, x: float = 0, name: str = "王建国",
                owner: dict[str, Any] | None = None) -> dict[str, Any]:
    """A 40 × 20 m parcel with a land unit, registered to `name`."""
    parcel = bureau.create_parcel(geometry=rectangle(x, 0, 40, 20))["parcel"]
    unit = bureau.create_unit(parcel["code"], "LAND")
    bureau.register("FIRST", [unit["code"]], holders=[{"party": owner or person(name)}],
                    rightType=3)
    return {"parcel": parcel["code"], "unit": unit["code"]}


def lineage(bureau: Bureau, code: str) -> dict[str, Any]:
    return bureau.gql.data(operation("UnitLineage"), {"code": code}, bureau.clerk)["unit"]


def case_certificates(bureau: Bureau, number: str) -> list[dict[str, Any]]:
    return bureau.gql.data(operation("Application"), {"number": number},
                           bureau.registrar)["application"]["certificates"]


def certificate_status(runtime: Runtime, number: str) -> str:
    with runtime.engine.connect() as conn:
        return str(conn.execute(text("SELECT status FROM certificates WHERE number = :n"),
                                {"n": number}).scalar_one())


def test_a_parcel_split_in_two_carries_its_mortgage_and_seizure_to_both_halves(
        pingchang: Bureau, runtime: Runtime, settings: Settings) -> None:
    land = titled_land(pingchang)
    old_title = pingchang.unit(land["unit"])["currentTitle"]
    pingchang.register("MORTGAGE", [land["unit"]], holders=[{"party": organisation("农商银行")}],
                       amount="300000")
    pingchang.register("MORTGAGE", [land["unit"]], holders=[{"party": organisation("邮储银行")}],
                       amount="100000")
    pingchang.register("SEIZURE", [land["unit"]], authority="平昌县人民法院",
                       documentNo="(2026)川1923执1号", termEnd="2028-12-31")
    first, second = sorted((r for r in pingchang.unit(land["unit"])["restrictions"]
                            if r["kind"] == "MORTGAGE"), key=lambda r: r["rank"])

    # 分割: west and east halves; the second mortgage is paid off and released in the case.
    case = pingchang.register("SPLIT", [land["unit"]],
                              parts=[part(0, 0, 20, 20, location="巴中市某村西"),
                                     part(20, 0, 20, 20)],
                              releaseRightIds=[second["id"]])
    assert case["state"] == "RECORDED"

    old = lineage(pingchang, land["unit"])
    assert old["status"] == "HISTORIC" and old["parcel"]["current"] is False
    new_codes = [link["code"] for link in old["derivedInto"]]
    # SPLIT-4: the sub-district's next sequence numbers, the old feature code, then W00000000.
    used = int(land["parcel"][14:])
    assert new_codes == [f"{land['parcel'][:14]}{used + n:05d}W00000000" for n in (1, 2)]
    assert [p["code"] for p in old["parcel"]["derivedInto"]] == [c[:19] for c in new_codes]
    assert {link["applicationNumber"] for link in old["derivedInto"]} == {case["number"]}

    certificates = case_certificates(pingchang, case["number"])
    assert sorted(c["kind"] for c in certificates) == ["PROOF", "PROOF", "RIGHT", "RIGHT"]
    for code, location in zip(new_codes, ("巴中市某村西", "巴中市某村"), strict=True):
        unit = pingchang.unit(code)
        new = lineage(pingchang, code)
        assert unit["status"] == "REGISTERED" and unit["location"] == location
        assert unit["parcel"]["area"] == "400.00"
        assert [link["code"] for link in new["derivedFrom"]] == [land["unit"]]
        assert new["parcel"]["derivedFrom"][0]["code"] == land["parcel"]
        title = unit["currentTitle"]
        assert title["holders"][0]["party"]["name"] == "王建国"
        assert title["certificateNumber"] != old_title["certificateNumber"]
        assert new["currentTitle"]["predecessorId"] == old_title["id"]
        kinds = sorted((r["kind"], r["amount"] or r["authority"]) for r in unit["restrictions"])
        assert kinds == [("MORTGAGE", "300000.00"), ("SEIZURE", "平昌县人民法院")]
        mortgage = next(r for r in new["restrictions"] if r["kind"] == "MORTGAGE")
        assert mortgage["predecessorId"] == first["id"] and mortgage["rank"] == 1
        seizure = next(r for r in new["restrictions"] if r["kind"] == "SEIZURE")
        assert seizure["lapsesAt"] is not None  # the court's term goes with it
        assert unit["history"][-1]["entryType"] == "SPLIT"

    # The old unit's rights ended: title and first mortgage historic, the second terminated.
    ended = {r["id"]: r["status"] for r in pingchang.unit(land["unit"])["rights"]}
    assert ended[old_title["id"]] == "HISTORIC" and ended[first["id"]] == "HISTORIC"
    assert ended[second["id"]] == "TERMINATED"
    assert pingchang.unit(land["unit"])["history"][-1]["entryType"] == "SPLIT"
    # SPLIT-6: the old certificate and the carried mortgage's old proof are voided.
    assert certificate_status(runtime, old_title["certificateNumber"]) == "voided"
    assert certificate_status(runtime, first["certificateNumber"]) == "voided"
    assert certificate_status(runtime, second["certificateNumber"]) != "voided"

    pingchang.certify(case["number"])
    assert {c["status"] for c in case_certificates(pingchang, case["number"])} == {"PRINTED"}
    status, out = verify(settings)
    assert status == 0, out

    # The halves are units like any other: the court releases one of them.
    east = pingchang.unit(new_codes[1])
    seizure_id = next(r["id"] for r in east["restrictions"] if r["kind"] == "SEIZURE")
    pingchang.register("SEIZURE_RELEASE", [new_codes[1]], targetRightId=seizure_id,
                       authority="平昌县人民法院", documentNo="(2026)川1923执1号之一")
    assert not pingchang.unit(new_codes[1])["seized"] and pingchang.unit(new_codes[0])["seized"]


def test_two_parcels_of_one_holder_merge_into_one(pingchang: Bureau, settings: Settings) -> None:
    owner = person("李四")
    west, east = titled_land(pingchang, 0, owner=owner), titled_land(pingchang, 40, owner=owner)
    pingchang.register("MORTGAGE", [east["unit"]], holders=[{"party": organisation("农商银行")}],
                       amount="80000")
    case = pingchang.register("MERGE", [west["unit"], east["unit"]])
    (merged,) = {link["code"] for u in (west, east)
                 for link in lineage(pingchang, u["unit"])["derivedInto"]}
    unit = pingchang.unit(merged)
    assert unit["parcel"]["area"] == "1600.00"
    assert unit["currentTitle"]["holders"][0]["party"]["name"] == "李四"
    assert [r["kind"] for r in unit["restrictions"]] == ["MORTGAGE"]
    assert sorted(link["code"] for link in lineage(pingchang, merged)["derivedFrom"]) == sorted(
        [west["unit"], east["unit"]])
    assert len(case_certificates(pingchang, case["number"])) == 2  # the title and the proof
    status, out = verify(settings)
    assert status == 0, out


def test_a_house_splits_by_floor_area_and_parking_spaces_merge(
        pingchang: Bureau, settings: Settings, users: Users) -> None:
    statistician = users.add("split-stat", "statistician")

    def completion() -> dict[str, Any]:
        figures = pingchang.gql.data(operation("Completion"), {"countyCode": COUNTY},
                                     statistician)["completion"]["total"]
        return {k: figures[k] for k in ("due", "recorded", "certified")}

    house = pingchang.rural_house()["code"]  # 126.50 m²
    first = pingchang.register("FIRST", [house], holders=[{"party": person("赵六")}],
                               rightType=6)
    pingchang.certify(first["number"])
    assert completion() == {"due": 1, "recorded": 1, "certified": 1}
    split = pingchang.register("SPLIT", [house], parts=[{"area": "63.25"}, {"area": "63.25"}])
    # The old house is due no longer; each half is recorded, certified once its case is.
    assert completion() == {"due": 2, "recorded": 2, "certified": 0}
    pingchang.certify(split["number"])
    assert completion() == {"due": 2, "recorded": 2, "certified": 2}
    halves = [link["code"] for link in lineage(pingchang, house)["derivedInto"]]
    assert [c[:24] for c in halves] == [house[:24]] * 2  # same parcel, same building
    assert [int(c[24:]) for c in halves] == [2, 3]  # the building's next unit numbers
    assert [pingchang.unit(c)["house"]["floorArea"] for c in halves] == ["63.25", "63.25"]

    a = pingchang.parking_space(1)["code"]
    b = pingchang.parking_space(2, garage_parcel=a[:19])["code"]
    company = organisation("滨江物业")
    for code in (a, b):
        pingchang.register("FIRST", [code], holders=[{"party": company}], rightType=4)
    pingchang.register("MERGE", [a, b])
    (merged,) = [link["code"] for link in lineage(pingchang, a)["derivedInto"]]
    assert lineage(pingchang, b)["derivedInto"][0]["code"] == merged
    space = pingchang.unit(merged)["parkingSpace"]
    assert space["area"] == "25.00" and space["spaceNo"] == "B1-001+B1-002"
    status, out = verify(settings)
    assert status == 0, out


def test_split_and_merge_refusals_change_nothing(pingchang: Bureau, runtime: Runtime) -> None:
    land = titled_land(pingchang)
    other = titled_land(pingchang, 40, name="钱七")
    house = pingchang.rural_house()["code"]
    pingchang.register("FIRST", [house], holders=[{"party": person("孙八")}], rightType=6)
    pingchang.register("SEIZURE", [other["unit"]], authority="平昌县人民法院",
                       documentNo="(2026)川1923执9号")
    seizure = pingchang.unit(other["unit"])["restrictions"][0]["id"]

    def refused(kind: str, units: list[str], **extra: Any) -> list[str]:
        before = snapshot(runtime)
        codes = pingchang.gql.error_codes(operation("SubmitApplication"), {"input": {
            "kind": kind, "unitCodes": units, **extra}}, pingchang.clerk)
        assert snapshot(runtime) == before
        return codes

    code = land["unit"]
    assert refused("SPLIT", [code], parts=[part(0, 0, 20, 20)]) == ["SPLIT_TOO_FEW_PARTS"]
    assert refused("SPLIT", [code], parts=[part(0, 0, 20, 20), part(20, 0, 19, 20)]) == [
        "SPLIT_GAP"]
    assert refused("SPLIT", [code], parts=[part(0, 0, 21, 20), part(20, 0, 20, 20)]) == [
        "SPLIT_OVERLAP"]
    assert refused("SPLIT", [code], parts=[part(0, 0, 20, 20), part(20, 0, 20, 21)]) == [
        "SPLIT_EXCESS"]
    assert refused("SPLIT", [code], parts=[{"area": "1"}, {"area": "2"}]) == [
        "PART_GEOMETRY_REQUIRED"]
    assert refused("SPLIT", [house], parts=[{"area": "60.00"}, {"area": "60.00"}]) == [
        "AREAS_DO_NOT_SUM"]
    assert refused("SPLIT", [other["unit"]], parts=[part(40, 0, 20, 20), part(60, 0, 20, 20)],
                   releaseRightIds=[seizure]) == ["RELEASE_NOT_ALLOWED"]
    assert refused("MERGE", [code, other["unit"]]) == ["UNIT_SEIZED"]
    assert refused("MERGE", [code]) == ["MERGE_TOO_FEW_UNITS"]
    assert refused("MERGE", [code, house]) == ["MERGE_KINDS_DIFFER"]
    assert refused("TRANSFER", [code], holders=[{"party": person("周九")}],
                   parts=[part(0, 0, 20, 20)]) == ["TERMS_NOT_EXPECTED"]
    # A second unit on the parcel: the parcel is not the unit's alone to split.
    pingchang.create_unit(land["parcel"], "RURAL_HOUSE", buildingNo=1, unitNo=1,
                          house={"floors": 1, "structure": "砖木", "floorArea": "80.00"})
    assert refused("SPLIT", [code], parts=[part(0, 0, 20, 20), part(20, 0, 20, 20)]) == [
        "PARCEL_HAS_OTHER_UNITS"]
    # The dominant unit of an easement keeps its shape.
    pingchang.register("EASEMENT", [house], dominantUnitCode=other["unit"], purpose="通行")
    assert refused("SPLIT", [other["unit"]], parts=[part(40, 0, 20, 20),
                                                    part(60, 0, 20, 20)]) == [
        "DOMINANT_OF_EASEMENT"]


def test_recording_checks_again_what_changed_since_submission(
        pingchang: Bureau, runtime: Runtime) -> None:
    """SPLIT-8: a unit created on the parcel, an easement naming the unit as its dominant
    unit, or the release of a mortgage the split was to release, after the split was
    submitted, stops the recording; nothing changes."""
    halves = [part(0, 0, 20, 20), part(20, 0, 20, 20)]

    def refused_at_recording(number: str) -> list[str]:
        before = snapshot(runtime)
        codes = pingchang.gql.error_codes(operation("RecordApplication"), {"number": number},
                                          pingchang.registrar)
        assert snapshot(runtime) == before
        return codes

    land = titled_land(pingchang)
    number = pingchang.submit("SPLIT", [land["unit"]], parts=halves)["number"]
    pingchang.accept(number)
    pingchang.review(number)
    pingchang.create_unit(land["parcel"], "RURAL_HOUSE", buildingNo=1, unitNo=1,
                          house={"floors": 1, "structure": "砖木", "floorArea": "80.00"})
    assert refused_at_recording(number) == ["PARCEL_HAS_OTHER_UNITS"]

    other = titled_land(pingchang, 40, name="钱七")
    number = pingchang.submit("SPLIT", [other["unit"]],
                              parts=[part(40, 0, 20, 20), part(60, 0, 20, 20)])["number"]
    pingchang.accept(number)
    pingchang.review(number)
    house = pingchang.rural_house()["code"]
    pingchang.register("FIRST", [house], holders=[{"party": person("孙八")}], rightType=6)
    pingchang.register("EASEMENT", [house], dominantUnitCode=other["unit"], purpose="通行")
    assert refused_at_recording(number) == ["DOMINANT_OF_EASEMENT"]
    assert lineage(pingchang, other["unit"])["status"] == "REGISTERED"

    # The mortgage the split was to release is cancelled by another case in the meantime.
    third = titled_land(pingchang, 80, name="李九")
    pingchang.register("MORTGAGE", [third["unit"]], holders=[{"party": organisation("农商银行")}],
                       amount="50000")
    [mortgage] = [r for r in pingchang.unit(third["unit"])["restrictions"]
                  if r["kind"] == "MORTGAGE"]
    number = pingchang.submit("SPLIT", [third["unit"]],
                              parts=[part(80, 0, 20, 20), part(100, 0, 20, 20)],
                              releaseRightIds=[mortgage["id"]])["number"]
    pingchang.accept(number)
    pingchang.review(number)
    pingchang.register("MORTGAGE_CANCELLATION", [third["unit"]], targetRightId=mortgage["id"])
    assert refused_at_recording(number) == ["TARGET_NOT_CURRENT"]
    assert lineage(pingchang, third["unit"])["status"] == "REGISTERED"


def test_merged_units_share_a_parcel_or_their_holders(pingchang: Bureau, runtime: Runtime) -> None:
    owner = person("吴十")
    houses = [pingchang.rural_house()["code"] for _ in range(2)]
    for code in houses:
        pingchang.register("FIRST", [code], holders=[{"party": owner}], rightType=6)
    lands = [titled_land(pingchang, 0, "郑一")["unit"], titled_land(pingchang, 40, "冯二")["unit"]]
    before = snapshot(runtime)
    assert pingchang.gql.error_codes(operation("SubmitApplication"), {"input": {
        "kind": "MERGE", "unitCodes": houses}}, pingchang.clerk) == ["MERGE_DIFFERENT_PARCELS"]
    assert pingchang.gql.error_codes(operation("SubmitApplication"), {"input": {
        "kind": "MERGE", "unitCodes": lands}}, pingchang.clerk) == ["MERGE_HOLDERS_DIFFER"]
    assert snapshot(runtime) == before


# ------------------------------------------------------------------ SPLIT-2 as a property

ORIGIN = (SEATS[COUNTY][0], SEATS[COUNTY][1] - 5_000)


@st.composite
def polygons(draw: st.DrawFn) -> Polygon:
    """A random valid polygon of a few hundred m²: the hull of random points (0.01 m grid)."""
    points = draw(st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 4000)),
                           min_size=3, max_size=9, unique=True))
    hull = shapely.convex_hull(shapely.MultiPoint(
        [(ORIGIN[0] + x / 100, ORIGIN[1] + y / 100) for x, y in points]))
    if not isinstance(hull, Polygon) or hull.area < 50:
        return shapely.box(ORIGIN[0], ORIGIN[1], ORIGIN[0] + 30, ORIGIN[1] + 20)
    return hull


def ewkt(geometry: Any) -> str:
    return f"SRID=4545;{shapely.to_wkt(geometry, rounding_precision=-1)}"


def stored_area(geometry: Any) -> Decimal:
    return Decimal(str(geometry.area)).quantize(Decimal("0.01"))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(original=polygons(), cut=st.floats(0.1, 0.9), angle=st.floats(0, 3.1),
       damage=st.sampled_from(["none", "shift", "drop", "grow"]),
       shift=st.floats(0.3, 3.0))
def test_random_splits_cover_exactly_or_are_refused(
        runtime: Runtime, original: Polygon, cut: float, angle: float, damage: str,
        shift: float) -> None:
    import math

    minx, miny, maxx, maxy = original.bounds
    cx, cy = minx + (maxx - minx) * cut, miny + (maxy - miny) * cut
    dx, dy = math.cos(angle) * 1e4, math.sin(angle) * 1e4
    pieces = list(shapely_split(original, LineString([(cx - dx, cy - dy),
                                                      (cx + dx, cy + dy)])).geoms)
    if damage == "shift":
        pieces[0] = translate(pieces[0], shift, 0)
    elif damage == "drop" and len(pieces) > 1:
        pieces = pieces[1:]
    elif damage == "grow":
        pieces[0] = pieces[0].buffer(shift, join_style="mitre")
    parts = [ewkt(p) for p in pieces]
    with transaction(runtime.sessions) as session:
        try:
            areas = check_cover(session, ewkt(original), stored_area(original), parts)
        except InvalidInput as refusal:
            code = refusal.code
        else:
            code = None
    event(f"{damage}: {code or 'accepted'}")
    union = shapely.union_all(pieces)
    gap = original.difference(union).area
    excess = union.difference(original).area
    overlap = max((a.intersection(b).area for i, a in enumerate(pieces)
                   for b in pieces[i + 1:]), default=0.0)
    tolerance = OVERLAP_TOLERANCE_M2 * 1.001  # GEOS here and in PostGIS round alike, nearly
    if code is None:  # accepted: it covers exactly, and the stored areas sum exactly
        assert gap <= tolerance and excess <= tolerance and overlap <= tolerance
        assert sum(areas) == stored_area(original)
        assert areas == [stored_area(p) for p in pieces]
    elif code == "AREAS_DO_NOT_SUM":  # covers, but rounding to the fen loses or adds some
        assert sum(stored_area(p) for p in pieces) != stored_area(original)
    else:  # refused for a real gap, overlap or excess (or a sliver of a part)
        assert code in {"SPLIT_GAP", "SPLIT_OVERLAP", "SPLIT_EXCESS", "SPLIT_PART_TOO_SMALL"}
        assert (max(gap, excess, overlap) > OVERLAP_TOLERANCE_M2 * 0.999
                or min(p.area for p in pieces) <= tolerance), (code, gap, excess, overlap)
    if damage == "none" and len(pieces) > 1:
        assert code in (None, "AREAS_DO_NOT_SUM", "SPLIT_PART_TOO_SMALL")


def test_a_waiting_seizure_carried_by_a_split_takes_effect_with_the_courts_term(
        pingchang: Bureau, settings: Settings) -> None:
    land = titled_land(pingchang)
    pingchang.register("SEIZURE", [land["unit"]], authority="平昌县人民法院",
                       documentNo="(2026)川1923执2号")
    pingchang.register("SEIZURE", [land["unit"]], authority="巴州区人民法院",
                       documentNo="(2026)川1902执7号", termStart="2026-03-02",
                       termEnd="2027-03-01")  # a one-year term, counted once it takes effect
    pingchang.register("SPLIT", [land["unit"]], parts=[part(0, 0, 20, 20), part(20, 0, 20, 20)])
    for link in lineage(pingchang, land["unit"])["derivedInto"]:
        half = lineage(pingchang, link["code"])
        (effective,) = [r for r in half["restrictions"] if r["kind"] == "SEIZURE"]
        (waiting,) = half["waitingSeizures"]
        assert waiting["authority"] == "巴州区人民法院" and waiting["predecessorId"] is not None
        pingchang.register("SEIZURE_RELEASE", [link["code"]], targetRightId=effective["id"],
                           authority="平昌县人民法院", documentNo="(2026)川1923执2号之一")
        (now_effective,) = [r for r in lineage(pingchang, link["code"])["restrictions"]
                            if r["kind"] == "SEIZURE"]
        assert now_effective["authority"] == "巴州区人民法院"
        # SEIZURE-2: the court's term (2026-03-02 to 2027-03-01), counted from today
        start, end = (date.fromisoformat(now_effective[k]) for k in ("termStart", "termEnd"))
        assert end - start == date(2027, 3, 1) - date(2026, 3, 2)
    status, out = verify(settings)
    assert status == 0, out


def test_verify_finds_a_rewritten_lineage_or_unit_status(
        pingchang: Bureau, runtime: Runtime, settings: Settings) -> None:
    land = titled_land(pingchang)
    pingchang.register("SPLIT", [land["unit"]], parts=[part(0, 0, 20, 20), part(20, 0, 20, 20)])
    with (runtime.engine.begin() as conn,  # LINEAGE-2: links never change
          pytest.raises(DBAPIError, match="APPEND_ONLY: DELETE on unit_lineage")):
        conn.execute(text("DELETE FROM unit_lineage"))
    with runtime.engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("DELETE FROM parcel_lineage WHERE predecessor_id = (SELECT max("
                          "predecessor_id) FROM parcel_lineage)"))
        conn.execute(text("UPDATE units SET status = 'registered' WHERE code = :c"),
                     {"c": land["unit"]})
    status, out = verify(settings)
    assert status != 0
    assert f"parcel_lineage {land['parcel']} -> " in out and "absent" in out, out
    assert f"units code {land['unit']}: status expected 'historic', found 'registered'" in out
