"""Demo natural-resource registration: synthetic but plausible units in 巴中市, so that
`make run` shows a registered unit with its natural state, ownership and links.

- 南江县 米仓山自然保护区 (22 自然保护区): registered, over a synthetic 三调 layer of forest,
  grassland, water, wetland, bare land and farmland, with two of the county's demo houses
  inside it (its real-estate links).
- 巴州区 巴河（巴州段） (31 河流): surveyed, reviewed and in its public notice.
- 平昌县 驷马水乡湿地 (50 湿地): pre-delimited and noticed, its survey not yet in.

Everything is synthetic (outlines, land cover, names of the notices) and goes through the
services a clerk's request uses (import, checks, procedure, recording). The land cover is
written to a temporary GeoPackage and imported like a bureau's file; the survey results are a
placeholder scan uploaded to each case before its survey step (NRCASE-8).
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import Polygon
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from registry.db.access import Role, User
from registry.db.documents import DocumentKind
from registry.db.natural_resources import (
    Exercise,
    NaturalUnit,
    Owner,
    RegistrationLevel,
)
from registry.db.session import transaction
from registry.demo import placeholder_scan
from registry.services.access import Principal, principal_of_user
from registry.services.documents import DocumentConfig, Target, spool_upload, upload
from registry.services.natural_resources import procedure
from registry.services.natural_resources.land_cover import import_land_cover
from registry.services.natural_resources.procedure import OwnershipInput
from registry.services.natural_resources.register import recorded_state
from registry.services.natural_resources.units import UnitDescription
from storage import Store

# Where each demo unit lies, in EPSG:4545, relative to the demo county seats (registry/demo.py
# lays its house squares from the seat north-east; the reserve takes in two of them).
SEATS = {"511902": (383_600.0, 3_527_000.0), "511922": (389_900.0, 3_581_300.0),
         "511923": (414_600.0, 3_493_400.0)}
LAND_COVER_CODES = ["0301", "0301", "0305", "0307", "0401", "0404", "1101", "1108", "1206",
                    "0103", "0702", "1103"]
STATE = OwnershipInput(owner=Owner.STATE, duty_body="自然资源部", exercise=Exercise.ENTRUSTED,
                       duty_content="全民所有自然资源资产所有者职责",
                       agent_body="四川省人民政府", agent_content="代理履行所有者职责")


def _staff(session: Session, county: str, role: Role) -> Principal:
    user_id = session.scalar(select(User.id).where(
        User.username == f"demo-{county}-{role.value}"))
    assert user_id is not None, f"demo users of {county} are made first"
    staff = principal_of_user(session, user_id)
    assert staff is not None
    return staff


def reserve_outline() -> Polygon:
    """米仓山自然保护区 (synthetic): about 4.4 km × 3.6 km south-west of 南江's seat, reaching
    over the first demo house squares."""
    x, y = SEATS["511922"]
    return Polygon([(x - 4000, y - 3200), (x + 30, y - 3000), (x + 30, y + 90),
                    (x - 1500, y + 400), (x - 3600, y - 400), (x - 4400, y - 1800)])


def land_cover_cells() -> list[tuple[Polygon, str]]:
    """A 150 m grid of 三调 polygons (two triangles a cell) over the reserve and around it."""
    x, y = SEATS["511922"]
    cells = []
    for i in range(34):
        for j in range(28):
            x0, y0 = x - 4600 + i * 150, y - 3400 + j * 150
            cells.append((Polygon([(x0, y0), (x0 + 150, y0), (x0, y0 + 150)]),
                          LAND_COVER_CODES[(i * 7 + j * 3) % len(LAND_COVER_CODES)]))
            cells.append((Polygon([(x0 + 150, y0), (x0 + 150, y0 + 150), (x0, y0 + 150)]),
                          LAND_COVER_CODES[(i + j * 5) % len(LAND_COVER_CODES)]))
    return cells


def write_land_cover(path: Path, cells: list[tuple[Polygon, str]]) -> Path:
    import pyogrio.raw

    geometries = np.array([shapely.to_wkb(g) for g, _ in cells], dtype=object)
    codes = np.array([c for _, c in cells], dtype=object)
    marks = np.array([f"DEMO{k:06d}" for k in range(len(cells))], dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        pyogrio.raw.write(str(path), geometries, [marks, codes], ["BSM", "DLBM"], driver="GPKG",
                          geometry_type="Polygon", crs="EPSG:4545")
    return path


def river_outline() -> Polygon:
    """巴河（巴州段） (synthetic): a 60 m wide, 6 km long reach south of 巴州's seat."""
    x, y = SEATS["511902"]
    line = shapely.LineString([(x - 3000, y - 6000), (x - 1500, y - 5600), (x, y - 6100),
                               (x + 1500, y - 5700), (x + 3000, y - 6200)])
    return line.buffer(30, cap_style="flat")


def wetland_outline() -> Polygon:
    x, y = SEATS["511923"]
    return Polygon([(x - 6000, y - 5000), (x - 5200, y - 5100), (x - 4900, y - 4400),
                    (x - 5600, y - 4100), (x - 6200, y - 4500)])


def load_natural_demo(sessions: sessionmaker[Session], now: datetime, pattern: str,
                      notice_days: int, store: Store, config: DocumentConfig,
                      progress: Callable[[str], None] = print) -> int:
    """The three demo units; returns how many were made (0 if the register has any).
    `store` and `config` take the cases' placeholder survey scans (registry/demo.py Papers)."""
    with sessions() as session:
        if session.scalar(select(func.count()).select_from(NaturalUnit)):
            return 0
    start = now - timedelta(days=45)
    with tempfile.TemporaryDirectory(prefix="registry-demo-") as folder, \
            transaction(sessions) as session:
        clerk = _staff(session, "511922", Role.CLERK)
        layer = write_land_cover(Path(folder) / "nanjiang_dltb.gpkg", land_cover_cells())
        imported = import_land_cover(session, clerk, layer, "511922", start)
        progress(f"demo: 南江县 land cover imported ({imported.loaded} polygons, synthetic)")
    _reserve(sessions, start, pattern, notice_days, store, config)
    _river(sessions, now - timedelta(days=10), pattern, notice_days, store, config)
    _wetland(sessions, now - timedelta(days=3), pattern)
    progress("demo: natural-resource units loaded (a reserve registered, a river reach in its "
             "notice, a wetland pre-delimited)")
    return 3


def _description(name: str, unit_type: str, county: str, authority: str, outline: Polygon,
                 location: str, bounds: tuple[str, str, str, str],
                 state_share: Decimal | None = None) -> UnitDescription:
    total = Decimal(str(round(outline.area / 10_000, 2)))
    parts: tuple[Decimal | None, Decimal | None, Decimal | None] = (None, None, None)
    if state_share is not None:
        state = (total * state_share).quantize(Decimal("0.01"))
        disputed = Decimal("1.20") if state_share < 1 and total > 10 else Decimal("0.00")
        parts = (state, total - state - disputed, disputed)
    return UnitDescription(
        name=name, unit_type=unit_type, county_code=county, level=RegistrationLevel.CITY_COUNTY,
        authority=authority, geometry=shapely.geometry.mapping(outline), crs=4545,
        location=location, bounds=bounds, state_area_ha=parts[0], collective_area_ha=parts[1],
        disputed_area_ha=parts[2])


def _scan_survey(session: Session, clerk: Principal, store: Store, config: DocumentConfig,
                 number: str, now: datetime) -> None:
    """The survey results (地籍调查成果) scanned onto the case, as its survey step requires."""
    kind = DocumentKind.SURVEY_RESULT
    with spool_upload([placeholder_scan(kind.value)], config.max_bytes) as spooled:
        upload(session, clerk, store, config, spooled, kind=kind,
               target=Target(natural_case_number=number), file_name=f"{kind.value}.png",
               now=now)


def _reserve(sessions: sessionmaker[Session], start: datetime, pattern: str,
             days: int, store: Store, config: DocumentConfig) -> None:
    with transaction(sessions) as session:
        clerk, reviewer, registrar = (_staff(session, "511922", r)
                                      for r in (Role.CLERK, Role.REVIEWER, Role.REGISTRAR))
        case = procedure.predelimit(
            session, clerk, "511922220000001", _description(
                "米仓山自然保护区", "22", "511922", "南江县自然资源局", reserve_outline(),
                "南江县光雾山镇、桃园街道（示例）", ("县城西郊", "米仓山南麓", "陕西省界方向",
                                                  "光雾山镇"), Decimal("0.93")),
            pattern, start)
        number = case.number
        procedure.issue_notice(session, clerk, number, "南府通〔2026〕1号（示例）",
                               start + timedelta(days=1))
        _scan_survey(session, clerk, store, config, number, start + timedelta(days=3))
        procedure.record_survey(session, clerk, number, STATE, "地籍调查成果（示例）",
                                start + timedelta(days=3))
        procedure.review(session, reviewer, number, True, "", start + timedelta(days=4))
        procedure.publish(session, clerk, number, start + timedelta(days=5), days)
        procedure.record(session, registrar, number, start + timedelta(days=40),
                         recorded_state)


def _river(sessions: sessionmaker[Session], start: datetime, pattern: str, days: int,
           store: Store, config: DocumentConfig) -> None:
    with transaction(sessions) as session:
        clerk, reviewer = (_staff(session, "511902", r) for r in (Role.CLERK, Role.REVIEWER))
        number = procedure.predelimit(
            session, clerk, "511902310000001", _description(
                "巴河（巴州段）", "31", "511902", "巴州区自然资源局", river_outline(),
                "巴州区（示例）", ("下游河段", "南岸堤防", "上游河段", "北岸堤防"),
                Decimal("1")), pattern, start).number
        procedure.issue_notice(session, clerk, number, "巴州府通〔2026〕2号（示例）", start)
        _scan_survey(session, clerk, store, config, number, start + timedelta(days=1))
        procedure.record_survey(session, clerk, number, STATE, "", start + timedelta(days=1))
        procedure.review(session, reviewer, number, True, "", start + timedelta(days=2))
        procedure.publish(session, clerk, number, start + timedelta(days=3), days)


def _wetland(sessions: sessionmaker[Session], start: datetime, pattern: str) -> None:
    with transaction(sessions) as session:
        clerk = _staff(session, "511923", Role.CLERK)
        number = procedure.predelimit(
            session, clerk, "511923500000001", _description(
                "驷马水乡湿地", "50", "511923", "平昌县自然资源局", wetland_outline(),
                "平昌县驷马镇（示例）", ("", "", "", "")), pattern, start).number
        procedure.issue_notice(session, clerk, number, "平府通〔2026〕5号（示例）", start)

