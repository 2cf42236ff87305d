"""Demo data for a development register: staff with tokens, and a few hundred units of each
kind across the five counties with cases in every state.

Everything goes through the same services a clerk's request does (codes, geometry, overlap,
workflow, certificates, register chain), so the demo is also a smoke test of the whole path.
Loading is idempotent: it does nothing when units already exist.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from registry.codes import Fixture, IdType, credit_code_check_char, resident_id_check_char
from registry.db.access import Role, User
from registry.db.applications import Application, ApplicationKind
from registry.db.documents import DocumentKind
from registry.db.parties import PartyKind
from registry.db.rights import CoOwnership
from registry.db.session import transaction
from registry.db.spatial import Layer
from registry.db.units import InfrastructureCategory, Unit, UnitKind
from registry.runtime import Runtime
from registry.services.access import Principal, create_user
from registry.services.documents import (
    DocumentConfig,
    Target,
    missing_kinds,
    spool_upload,
    upload,
)
from registry.services.papers import PrintSetup, print_case
from registry.services.parcels import ParcelInput, create_parcel
from registry.services.parties import PartyInput
from registry.services.registration.applications import (
    ApplicationInput,
    HolderInput,
    submit,
    take_step,
)
from registry.services.registration.certificates import certify
from registry.services.registration.recording import record
from registry.services.units import (
    InfrastructureInput,
    ParkingSpaceInput,
    RuralHouseInput,
    UnitInput,
    create_unit,
)
from storage import Store

COUNTIES = {
    # county: (name, township district code, seat in EPSG:4545)
    "511902": ("巴州区", "101", (383_600.0, 3_527_000.0)),
    "511903": ("恩阳区", "101", (370_300.0, 3_520_500.0)),
    "511921": ("通江县", "101", (429_000.0, 3_532_100.0)),
    "511922": ("南江县", "101", (389_900.0, 3_581_300.0)),
    "511923": ("平昌县", "101", (414_600.0, 3_493_400.0)),
}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ["建国", "秀英", "桂英", "志强", "玉兰", "德明", "小红", "文华", "国庆", "淑芬", "大山",
         "春梅", "家福", "明辉", "丽娟"]
CITY_ROLES = (Role.AUDITOR, Role.STATISTICIAN, Role.TRADING_CENTER, Role.ADMIN)
COUNTY_ROLES = (Role.CLERK, Role.REVIEWER, Role.REGISTRAR)


@cache
def placeholder_scan(kind: str) -> bytes:
    """A small generated page standing in for a scanned paper of `kind` (demo data only).

    The same kind gives the same bytes, so the store keeps one object per kind however many
    cases link it (DOC-4, content addressing)."""
    page = Image.new("L", (62, 88), 255)
    draw = ImageDraw.Draw(page)
    draw.rectangle((4, 4, 57, 12), fill=0)
    draw.text((6, 20), kind[:8], fill=0)
    out = io.BytesIO()
    page.save(out, format="PNG")
    return out.getvalue()


def attach_papers(session: Session, clerk: Principal, store: Store, config: DocumentConfig,
                  number: str, now: datetime) -> int:
    """Scan a placeholder for every paper the case still lacks; returns how many."""
    application = session.scalars(select(Application).where(Application.number == number)).one()
    missing = missing_kinds(session, [application.id])[application.id]
    for kind in missing:
        with spool_upload([placeholder_scan(kind)], config.max_bytes) as spooled:
            upload(session, clerk, store, config, spooled, kind=DocumentKind(kind),
                   target=Target(application_number=number), file_name=f"{kind}.png", now=now)
    return len(missing)


@dataclass
class Staff:
    clerk: Principal
    reviewer: Principal
    registrar: Principal


def _principal(user: User) -> Principal:
    return Principal(user.id, user.username, frozenset(Role(r) for r in user.roles),
                     user.county_code)


def ensure_demo_users(sessions: sessionmaker[Session], token_file: Path) -> dict[str, str]:
    """Staff for every county and city-level users, one per role; tokens kept in token_file.

    Tokens are shown once when made, so this development-only file keeps them (mode 0600)
    for the next `make run` to print again.
    """
    tokens: dict[str, str] = json.loads(token_file.read_text()) if token_file.exists() else {}
    wanted = [(f"demo-{role.value}", role, None) for role in CITY_ROLES]
    wanted += [(f"demo-{county}-{role.value}", role, county)
               for county in COUNTIES for role in COUNTY_ROLES]
    with transaction(sessions) as session:
        existing = set(session.scalars(select(User.username)))
        for username, role, county in wanted:
            if username in existing:
                continue
            name = f"{COUNTIES[county][0] if county else '巴中市'}{role.value}"
            _, tokens[username] = create_user(session, username, [role], county, name)
    token_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(tokens, handle, ensure_ascii=False, indent=1)
    return tokens


def _staff(session: Session, county: str) -> Staff:
    users = {u.username: u for u in session.scalars(
        select(User).where(User.username.like(f"demo-{county}-%")))}
    return Staff(*(_principal(users[f"demo-{county}-{role.value}"]) for role in COUNTY_ROLES))


class _People:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.serial = 0

    def person(self, county: str) -> PartyInput:
        self.serial += 1
        birth = f"{self.rng.randint(1945, 2000)}{self.rng.randint(1, 12):02d}" \
                f"{self.rng.randint(1, 28):02d}"
        first17 = f"{county}{birth}{self.serial % 1000:03d}"
        name = self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)
        return PartyInput(PartyKind.PERSON, name, IdType.RESIDENT_ID,
                          first17 + resident_id_check_char(first17))

    def organisation(self, county: str, name: str, prefix: str) -> PartyInput:
        self.serial += 1
        first17 = f"{prefix}{county}{self.serial:09d}"
        kind = {"11": PartyKind.GOVERNMENT, "12": PartyKind.PUBLIC_INSTITUTION}.get(
            prefix, PartyKind.ENTERPRISE)
        return PartyInput(kind, name, IdType.CREDIT_CODE,
                          first17 + credit_code_check_char(first17))


def _square(seat: tuple[float, float], slot: int, size: float) -> dict[str, object]:
    x = seat[0] + (slot % 40) * 45.0
    y = seat[1] + (slot // 40) * 45.0
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


@dataclass
class Papers:
    """Where demo cases put their placeholder scans, and how their certificates are printed."""

    store: Store
    config: DocumentConfig
    printing: PrintSetup

    @classmethod
    def from_runtime(cls, runtime: Runtime) -> Papers:
        return cls(runtime.store, DocumentConfig.from_settings(runtime.settings),
                   PrintSetup.from_settings(runtime.settings, runtime.store))


class _Clock:
    """The demo's time: units come one after another, evenly over the year so far (with some
    jitter from the seeded generator), so the monthly trend climbs instead of jumping in the
    load's last minute. Each step of a unit's cases is a few minutes after the previous one;
    every time is before `now` and times only grow (the register's chain is in time order)."""

    def __init__(self, now: datetime, units: int, rng: random.Random) -> None:
        start = now.replace(month=1, day=1, hour=9, minute=0, second=0, microsecond=0)
        if now - start < timedelta(days=60):  # early in a year: spread over the last one
            start = now - timedelta(days=365)
        # the last unit's cases (a dozen steps at most) end hours before `now`
        self._step = (now - start - timedelta(hours=6)) / max(units, 1)
        self._start, self._rng, self._index = start, rng, 0
        self._at = start

    def next_unit(self) -> datetime:
        """The time the next unit is surveyed; its cases follow from there."""
        base = self._start + self._step * self._index
        jitter = self._step * (0.5 * self._rng.random())
        self._index += 1
        self._at = max(self._at, base + jitter)
        return self._at

    def __call__(self) -> datetime:
        """The time of the next step: a few minutes after the one before."""
        self._at += timedelta(minutes=self._rng.randint(3, 15))
        return self._at


def _cases(session: Session, staff: Staff, papers: Papers, clock: _Clock,
           kind: ApplicationKind, unit: str, holders: list[HolderInput], final: str,
           **terms: object) -> None:
    """Take one case as far as `final` (a state name), each step at the clock's next time."""
    mode = (CoOwnership.SOLE if len(holders) == 1 else
            CoOwnership.SHARES if holders and holders[0].share else
            CoOwnership.JOINT if holders else None)
    data = ApplicationInput(kind=kind, unit_codes=[unit], holders=holders, co_ownership=mode,
                            **terms)  # type: ignore[arg-type]
    number = submit(session, staff.clerk, data, clock()).number
    if final == "submitted":
        return
    if final == "refused":
        take_step(session, staff.clerk, number, "refuse", clock(), reason="材料不齐全")
        return
    if final == "withdrawn":
        take_step(session, staff.clerk, number, "withdraw", clock(), reason="申请人撤回申请")
        return
    attach_papers(session, staff.clerk, papers.store, papers.config, number, clock())
    take_step(session, staff.clerk, number, "accept", clock())
    if final == "accepted":
        return
    if final == "rejected":
        take_step(session, staff.reviewer, number, "reject", clock(), reason="权属来源不清")
        return
    take_step(session, staff.reviewer, number, "review", clock())
    if final == "reviewed":
        return
    record(session, staff.registrar, number, clock())
    if final == "certified":
        print_case(session, staff.registrar, papers.printing, number, clock())
        certify(session, staff.registrar, number, clock())


# Where each demo case ends, in turn: every state appears, most cases are done.
FINAL_STATES = ["certified", "submitted", "certified", "accepted", "certified", "reviewed",
                "certified", "recorded", "certified", "refused", "certified", "rejected",
                "certified", "withdrawn", "certified", "certified"]


def load_demo(sessions: sessionmaker[Session], papers: Papers, now: datetime,
              per_kind: int = 60, progress: Callable[[str], None] = print,
              seed: int = 2026) -> int:
    """Units of each kind in every county (per_kind per kind per county); returns how many.

    Does nothing if the register already has units.
    """
    with sessions() as session:
        if session.scalar(select(func.count()).select_from(Unit)):
            return 0
    rng = random.Random(seed)
    people = _People(rng)
    made = 0
    for county, (name, district, seat) in COUNTIES.items():
        with transaction(sessions) as session:
            staff = _staff(session, county)
            made += _load_county(session, staff, papers, county, district, seat, per_kind,
                                 people, rng, now)
        progress(f"demo: {name} loaded ({made} units so far)")
    return made


def _load_county(session: Session, staff: Staff, papers: Papers, county: str, district: str,
                 seat: tuple[float, float], per_kind: int, people: _People, rng: random.Random,
                 now: datetime) -> int:
    seq = iter(range(1, 100_000))
    slots = iter(range(100_000))
    finals: Iterator[str] = itertools.cycle(FINAL_STATES)
    garages = max(1, per_kind // 20)
    clock = _Clock(now, 2 * per_kind + garages * (per_kind // garages + 2), rng)

    def parcel(feature: str, land_use: str, size: float, **layer: object) -> str:
        code = f"{county}{district}{rng.randint(1, 20):03d}{feature}{next(seq):05d}"
        geometry = layer.pop("geometry", None) or _square(seat, next(slots), size)
        return create_parcel(session, staff.clerk, ParcelInput(
            code=code, geometry=geometry, crs=4545, land_use_system="GB/T 21010-2017",
            land_use_code=land_use, location=f"{COUNTIES[county][0]}某村{rng.randint(1, 12)}组",
            **layer), clock.next_unit()).code  # type: ignore[arg-type]

    made = 0
    for _ in range(per_kind):  # rural houses 农房, 房地一体
        code = create_unit(session, staff.clerk, UnitInput(
            parcel_code=parcel("JC", "0702", rng.uniform(12, 30)), kind=UnitKind.RURAL_HOUSE,
            building_no=1, unit_no=1,
            house=RuralHouseInput(rng.randint(1, 3), rng.choice(["砖混", "框架", "土木"]),
                                  Decimal(rng.randint(60, 260)))), clock()).code
        made += 1
        final = next(finals)
        owners = [HolderInput(people.person(county))]
        if rng.random() < 0.3:
            owners = [HolderInput(people.person(county), Fraction(1, 2)),
                      HolderInput(people.person(county), Fraction(1, 2))]
        _cases(session, staff, papers, clock, ApplicationKind.FIRST, code, owners, final)
        if final == "certified" and rng.random() < 0.25:
            bank = people.organisation(county, "巴中农村商业银行", "91")
            _cases(session, staff, papers, clock, ApplicationKind.MORTGAGE, code,
                   [HolderInput(bank)], "recorded", amount=Decimal(rng.randint(5, 30) * 10_000))
    for _ in range(per_kind):  # public infrastructure 公共基础设施
        category = rng.choice(list(InfrastructureCategory))
        land_use = {"road": "1003", "park": "0810", "water": "1109"}.get(category.value, "0809")
        code = create_unit(session, staff.clerk, UnitInput(
            parcel_code=parcel("GB", land_use, rng.uniform(30, 44)), kind=UnitKind.INFRASTRUCTURE,
            building_no=1 if category is not InfrastructureCategory.ROAD else 0,
            unit_no=1 if category is not InfrastructureCategory.ROAD else 0,
            fixture=Fixture.NO_FIXTURE if category is InfrastructureCategory.ROAD else None,
            infrastructure=InfrastructureInput(
                category, f"{COUNTIES[county][0]}交通运输局" if category.value == "road"
                else f"{COUNTIES[county][0]}住房和城乡建设局",
                length_m=Decimal(rng.randint(200, 5000)), book_value=Decimal(
                    rng.randint(50, 5000) * 10_000), completion_year=rng.randint(1995, 2024))),
            clock()).code
        made += 1
        body = people.organisation(county, f"{COUNTIES[county][0]}人民政府", "11")
        _cases(session, staff, papers, clock, ApplicationKind.FIRST, code, [HolderInput(body)],
               next(finals), right_type=3, right_nature=101)
    for garage in range(garages):  # an underground garage with parking spaces 地下车库/车位
        ground = _square(seat, next(slots), 40.0)
        parcel(  # the surface parcel above the garage
            "GB", "0701", 40.0, geometry=ground)
        garage_parcel = parcel("GX", "0701", 40.0, geometry=ground, layer=Layer.UNDERGROUND,
                               elevation_bottom=Decimal("-9"), elevation_top=Decimal("-1"))
        for space in range(1, per_kind // garages + 1):
            code = create_unit(session, staff.clerk, UnitInput(
                parcel_code=garage_parcel, kind=UnitKind.PARKING_SPACE, building_no=1,
                unit_no=space, parking_space=ParkingSpaceInput(
                    f"{COUNTIES[county][0]}滨江花园{garage + 1}号地下车库", -1, f"B1-{space:03d}",
                    Decimal("12.50"))), clock.next_unit()).code
            made += 1
            _cases(session, staff, papers, clock, ApplicationKind.FIRST, code,
                   [HolderInput(people.person(county))], next(finals))
    return made
