"""Generate a city-sized register for benchmarks: N units across the five counties of 巴中市.

Parcels are irregular quadrilaterals on a jittered 40 m grid around each county seat in the
register's CRS (EPSG:4545), so none overlaps another; 90 % of the grid cells are rural houses on
homestead land (JC, one house each), 5 % roads (state land, land-only units), 5 % underground
garages (GX, 20 parking spaces each). About 70 % of units have a current title held by one or
two people (some by shares), 10 % of those a mortgage.

Rows go in with COPY. The parcels' non-overlap trigger (PARCEL-2) runs on the COPY as it would
on any insert; the per-right holder triggers are skipped (session_replication_role = replica)
because the generator makes every right's holders consistent by construction.

    python bench/registry_data.py DATABASE_URL --units 200000
    python bench/registry_data.py DATABASE_URL --units 1800000 --append   # N more units

`append(url, units)` adds N units to a register this module already filled: ids, cell
numbers (hence codes) and certificate serials go on from the largest in the database, the new
cells form a block north of each county's existing parcels (so no geometry meets an old one),
and ID numbers already held are not reused.
"""

from __future__ import annotations

import argparse
import io
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg

from registry.codes import resident_id_check_char

SEATS = {
    "511902": (383_600.0, 3_527_000.0),
    "511903": (370_300.0, 3_520_500.0),
    "511921": (429_000.0, 3_532_100.0),
    "511922": (389_900.0, 3_581_300.0),
    "511923": (414_600.0, 3_493_400.0),
}
AUTHORITY = {"511902": "巴中市", "511903": "巴中市", "511921": "通江县", "511922": "南江县",
             "511923": "平昌县"}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ["建国", "秀英", "桂英", "志强", "玉兰", "德明", "小红", "文华", "国庆", "淑芬"]
CELL = 40.0
SPACES_PER_GARAGE = 20


@dataclass
class Tables:
    """COPY buffers, one per table, and the running ids."""

    parcels: io.StringIO = field(default_factory=io.StringIO)
    units: io.StringIO = field(default_factory=io.StringIO)
    parties: io.StringIO = field(default_factory=io.StringIO)
    rights: io.StringIO = field(default_factory=io.StringIO)
    holders: io.StringIO = field(default_factory=io.StringIO)
    parcel_id: int = 0
    unit_id: int = 0
    party_id: int = 0
    right_id: int = 0
    certificate: dict[str, int] = field(default_factory=dict)
    unit_count: int = 0
    id_numbers: set[str] = field(default_factory=set)


@dataclass
class Start:
    """Where an appended generation begins: the register's state before it (see `append`)."""

    parcel_id: int = 0
    unit_id: int = 0
    party_id: int = 0
    right_id: int = 0
    certificate: dict[str, int] = field(default_factory=dict)
    cells: dict[str, int] = field(default_factory=dict)  # county → cells already used
    north: dict[str, float] = field(default_factory=dict)  # county → y offset of the new block
    id_numbers: set[str] = field(default_factory=set)


def quadrilateral(rng: random.Random, x: float, y: float) -> str:
    j = [rng.uniform(0, 6) for _ in range(8)]
    size = CELL - 8
    pts = [(x + j[0], y + j[1]), (x + size + j[2], y + j[3]),
           (x + size + j[4], y + size + j[5]), (x + j[6], y + size + j[7])]
    ring = ", ".join(f"{px:.3f} {py:.3f}" for px, py in [*pts, pts[0]])
    return f"SRID=4545;MULTIPOLYGON((({ring})))"


def person_id(rng: random.Random, county: str, serial: int) -> str:
    first17 = (f"{county}{rng.randint(1940, 2000)}{rng.randint(1, 12):02d}"
               f"{rng.randint(1, 28):02d}{serial % 1000:03d}")
    return first17 + resident_id_check_char(first17)


# At most 325 cells (13 km) across, growing north beyond that: the two closest seats are 13.3 km
# apart east-west, so the blocks of 2,000,000 units (18 km squares) would overlap otherwise.
MAX_SIDE = 325


def cells(count: int) -> Iterator[tuple[int, float, float]]:
    side = min(int(count ** 0.5) + 1, MAX_SIDE)
    for i in range(count):
        yield i, (i % side) * CELL, (i // side) * CELL


def generate(units_wanted: int, seed: int = 7,
             start: Start | None = None) -> tuple[Tables, dict[str, int]]:
    """N units (about); with `start`, N more after the state it describes (see `append`)."""
    rng = random.Random(seed)
    t = Tables()
    if start is not None:
        t.parcel_id, t.unit_id = start.parcel_id, start.unit_id
        t.party_id, t.right_id = start.party_id, start.right_id
        t.certificate = dict(start.certificate)
        t.id_numbers = start.id_numbers
    # units per cell ≈ 0.9 (houses) + 0.05 (roads) + 0.05 × 20 (spaces) = 1.95
    cells_per_county = int(units_wanted / 1.95 / len(SEATS)) + 1
    application_ids = {county: n for n, county in enumerate(SEATS, start=1)}
    for county, (x0, y0) in SEATS.items():
        first = start.cells.get(county, 0) if start is not None else 0
        if start is not None:
            y0 += start.north.get(county, 0.0)
        for local, dx, dy in cells(cells_per_county):
            i = first + local
            seq = i + 1
            sub = 1 + seq // 100_000
            seq5 = seq % 100_000 or 1
            geom = quadrilateral(rng, x0 + dx, y0 + dy)
            t.parcel_id += 1
            if i % 20 == 0:  # a road, registered to the county government as land alone
                code = f"{county}101{sub:03d}GB{seq5:05d}"
                t.parcels.write(f"{t.parcel_id}\t{code}\t{county}\tsurface\t\\N\t\\N\t{geom}"
                                f"\tGB/T 21010-2017\t1003\t{AUTHORITY[county]}某路\n")
                add_unit(t, rng, county, code + "W00000000", "infrastructure", application_ids)
            elif i % 20 == 1:  # an underground garage with its spaces
                code = f"{county}101{sub:03d}GX{seq5:05d}"
                t.parcels.write(f"{t.parcel_id}\t{code}\t{county}\tunderground\t-9.00\t-1.00"
                                f"\t{geom}\tGB/T 21010-2017\t0701\t{AUTHORITY[county]}某小区\n")
                for space in range(1, SPACES_PER_GARAGE + 1):
                    add_unit(t, rng, county, f"{code}F0001{space:04d}", "parking_space",
                             application_ids)
            else:  # a rural house on its homestead
                code = f"{county}101{sub:03d}JC{seq5:05d}"
                t.parcels.write(f"{t.parcel_id}\t{code}\t{county}\tsurface\t\\N\t\\N\t{geom}"
                                f"\tGB/T 21010-2017\t0702\t{AUTHORITY[county]}某村\n")
                add_unit(t, rng, county, code + "F00010001", "rural_house", application_ids)
    return t, application_ids


def add_unit(t: Tables, rng: random.Random, county: str, code: str, kind: str,
             application_ids: dict[str, int]) -> None:
    t.unit_id += 1
    t.unit_count += 1
    registered = rng.random() < 0.7
    status = "registered" if registered else "surveyed"
    house = "\\N\t\\N\t\\N\t\\N"
    if kind == "rural_house":
        house = f"0001\t{rng.randint(1, 3)}\t砖混\t{rng.randint(60, 260)}.00"
    extra_infra = "\\N\t\\N\t\\N\t\\N\t\\N\t\\N"
    extra_parking = "\\N\t\\N\t\\N\t\\N\tf"
    if kind == "infrastructure":
        extra_infra = (f"road\t{AUTHORITY[county]}交通运输局\t{rng.randint(200, 3000)}.00\t\\N"
                       f"\t{rng.randint(50, 5000) * 10000}.00\t{rng.randint(1995, 2024)}")
    if kind == "parking_space":
        extra_parking = f"某小区地下车库\t-1\tB1-{code[-3:]}\t12.50\tf"
    t.units.write(f"{t.unit_id}\t{code}\t{t.parcel_id}\t{county}\t{code[:9]}\t{kind}\t{status}"
                  f"\t{AUTHORITY[county]}\t{house}\t{extra_infra}\t{extra_parking}\n")
    if not registered:
        return
    holders = 1 if rng.random() < 0.7 else 2
    mode = "sole" if holders == 1 else rng.choice(["joint", "shares"])
    t.right_id += 1
    title_id = t.right_id
    serial = t.certificate[AUTHORITY[county]] = t.certificate.get(AUTHORITY[county], 0) + 1
    number = f"川(2020){AUTHORITY[county]}不动产权第{serial:07d}号"
    right_type = 6 if kind == "rural_house" else 3 if kind == "infrastructure" else 4
    t.rights.write(f"{title_id}\t{t.unit_id}\ttitle\tcurrent\t{right_type}\t{mode}"
                   f"\t2020-06-01 10:00:00+08\t{number}\t{application_ids[county]}\t\\N\t"
                   "\t\\N\t\\N\n")
    for _ in range(holders):
        t.party_id += 1
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        number = person_id(rng, county, t.party_id)
        while number in t.id_numbers:  # PARTY-1: one party per ID number
            number = person_id(rng, county, t.party_id)
        t.id_numbers.add(number)
        t.parties.write(f"{t.party_id}\tperson\t{name}\tRESIDENT_ID\t{number}\n")
        share = "1\t2" if mode == "shares" else "\\N\t\\N"
        t.holders.write(f"{title_id}\t{t.party_id}\t{share}\n")
    if rng.random() < 0.1:  # a mortgage, held by the first party of the county's bank
        t.right_id += 1
        proof = t.certificate[AUTHORITY[county] + "证明"] = t.certificate.get(
            AUTHORITY[county] + "证明", 0) + 1
        t.rights.write(f"{t.right_id}\t{t.unit_id}\tmortgage\tcurrent\t\\N\tsole"
                       f"\t2021-03-01 10:00:00+08\t川(2021){AUTHORITY[county]}不动产证明第"
                       f"{proof:07d}号\t{application_ids[county]}\t{title_id}\t"
                       "\tgeneral\t2021-03-01 10:00:00+08\n")
        t.holders.write(f"{t.right_id}\t{t.party_id}\t\\N\t\\N\n")


def load(url: str, units: int) -> dict[str, float]:
    """Fill an empty, migrated database; returns timings in seconds."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    tables, application_ids = generate(units)
    timings["generate_s"] = time.perf_counter() - started
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=False) as conn:
        conn.execute("INSERT INTO users (id, username, display_name, roles) OVERRIDING SYSTEM"
                     " VALUE VALUES (1, 'bench-import', 'bench', ARRAY['admin']::user_role[])")
        for county, app_id in application_ids.items():
            conn.execute(
                "INSERT INTO applications (id, number, kind, registration_type, state,"
                " county_code, terms, submitted_at, submitted_by, note) OVERRIDING SYSTEM VALUE"
                " VALUES (%s, %s, 'first', 100, 'recorded', %s, '{}', '2020-06-01', 1,"
                " '存量数据整合')", (app_id, f"{county}-2020-000000", county))
        _copy(conn, tables, timings)
        conn.commit()
    _vacuum(url, timings)
    timings["units"] = tables.unit_count
    return timings


def _copy(conn: psycopg.Connection, tables: Tables, timings: dict[str, float]) -> None:
    step = time.perf_counter()
    with conn.cursor().copy(
            "COPY parcels (id, code, county_code, layer, elevation_bottom, elevation_top,"
            " geom, land_use_system, land_use_code, location) FROM STDIN") as copy:
        copy.write(tables.parcels.getvalue())
    timings["parcels_copy_with_overlap_check_s"] = time.perf_counter() - step
    conn.execute("SET session_replication_role = replica")
    step = time.perf_counter()
    for table, columns, buffer in [
        ("units", "id, code, parcel_id, county_code, township_code, kind, status, location,"
                  " building_no, floors, structure, floor_area, category, managing_body,"
                  " length_m, capacity, book_value, completion_year, garage, level,"
                  " space_no, space_area, civil_defence", tables.units),
        ("parties", "id, kind, name, id_type, id_number", tables.parties),
        ("rights", "id, unit_id, kind, status, right_type, co_ownership, begun_at,"
                   " certificate_number, application_id, burdened_right_id, note,"
                   " mortgage_mode, priority_at",
         tables.rights),
        ("right_holders", "right_id, party_id, share_numerator, share_denominator",
         tables.holders),
    ]:
        with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            copy.write(buffer.getvalue())
    conn.execute("SET session_replication_role = DEFAULT")
    for table in ("parcels", "units", "parties", "rights", "users", "applications"):
        conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                     f" (SELECT max(id) FROM {table}))")
    timings["other_tables_copy_s"] = time.perf_counter() - step


def _vacuum(url: str, timings: dict[str, float]) -> None:
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        step = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        timings["vacuum_analyze_s"] = time.perf_counter() - step


CERTIFICATE = re.compile(r"^川\(\d{4}\)(.+?)不动产(权|证明)第(\d{7})号$")


def read_start(conn: psycopg.Connection) -> Start:
    """The state of a register filled by this module, for `generate(start=…)`."""
    start = Start()
    row = conn.execute("SELECT (SELECT coalesce(max(id), 0) FROM parcels),"
                       " (SELECT coalesce(max(id), 0) FROM units),"
                       " (SELECT coalesce(max(id), 0) FROM parties),"
                       " (SELECT coalesce(max(id), 0) FROM rights)").fetchone()
    assert row is not None
    start.parcel_id, start.unit_id, start.party_id, start.right_id = map(int, row)
    for county, used, top in conn.execute(
            "SELECT county_code, count(*), max(ST_YMax(geom)) FROM parcels"
            " GROUP BY county_code").fetchall():
        start.cells[county] = int(used)
        # the new block starts on the first whole cell row above every existing parcel
        rows = int((float(top) - SEATS[county][1]) // CELL) + 2
        start.north[county] = rows * CELL
    for (number,) in conn.execute(
            "SELECT certificate_number FROM rights WHERE certificate_number IS NOT NULL"
            " AND application_id <= %s", (len(SEATS),)).fetchall():
        match = CERTIFICATE.match(number)
        if match is None:
            continue
        key = match[1] + ("证明" if match[2] == "证明" else "")
        start.certificate[key] = max(start.certificate.get(key, 0), int(match[3]))
    start.id_numbers = {n for (n,) in conn.execute(
        "SELECT id_number FROM parties WHERE id_number IS NOT NULL")}
    return start


def append(url: str, units: int, seed: int | None = None) -> dict[str, float]:
    """Add N units to a register `load` (or `append`) filled: COPY as `load` does (the
    non-overlap trigger runs), then VACUUM ANALYZE; returns timings in seconds."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=False) as conn:
        start = read_start(conn)
        timings["read_start_s"] = time.perf_counter() - started
        step = time.perf_counter()
        # a seed of its own, so the new block's jitter and names do not repeat the first
        tables, _ = generate(units, seed if seed is not None else 7 + start.unit_id, start)
        timings["generate_s"] = time.perf_counter() - step
        _copy(conn, tables, timings)
        conn.commit()
    _vacuum(url, timings)
    timings["units"] = tables.unit_count
    timings["first_unit_id"] = start.unit_id + 1
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--units", type=int, default=200_000)
    parser.add_argument("--append", action="store_true",
                        help="add N units to a register this module filled")
    args = parser.parse_args()
    print(append(args.url, args.units) if args.append else load(args.url, args.units))


if __name__ == "__main__":
    main()
