"""Reading (phase `reading`): the geometry file (GeoJSON or GeoPackage, through pyogrio) and the
CSV of units, their columns matched by the attribute mapping (mapping.py), every cell COPYed as
text into the temporary staging tables `survey_parcels_in` and `survey_units_in`. Nothing is
checked here but that the files can be read, name a CRS this register accepts and have the
required columns: the rows' checks are SQL (checking.py).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from registry.services.errors import InvalidInput
from registry.services.geometry import ACCEPTED_SRIDS
from registry.services.survey_import.mapping import (
    PARCEL_COLUMNS,
    REQUIRED_PARCEL_COLUMNS,
    REQUIRED_UNIT_COLUMNS,
    UNIT_COLUMNS,
)

BATCH = 20_000

# ---------------------------------------------------------------------- reading the files


@dataclass(frozen=True)
class SurveyFiles:
    geometry: Path
    attributes: Path | None = None  # CSV of units; None: units come from the features
    crs: int | None = None  # when the geometry file names none
    encoding: str = "utf-8-sig"


Progress = Callable[[str, int, int | None], None]  # phase, rows done, rows total


def _columns(names: Sequence[str], mapping: dict[str, tuple[str, ...]]) -> dict[str, int]:
    """canonical name → index of the first matching column (case-insensitive)."""
    lowered = {name.strip().lower(): i for i, name in reversed(list(enumerate(names)))}
    found: dict[str, int] = {}
    for canonical, aliases in mapping.items():
        for alias in aliases:
            if alias.lower() in lowered:
                found[canonical] = lowered[alias.lower()]
                break
    return found


def _missing_columns(found: dict[str, int], required: Sequence[str],
                     mapping: dict[str, tuple[str, ...]], what: str) -> None:
    missing = [mapping[c][0] for c in required if c not in found]
    if missing:
        raise InvalidInput("MISSING_COLUMN", f"{what}缺少必填列：{', '.join(missing)}",
                           f"the {what} lacks required columns: {', '.join(missing)}",
                           columns=missing)


def _text(value: Any) -> str | None:
    """A cell as text for staging (checks happen in SQL): None for empty and NaN."""
    if value is None:
        return None
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        return repr(value) if not value.is_integer() else str(int(value))
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    result = str(value).strip()
    return result or None


def file_crs(info: dict[str, Any], fallback: int | None) -> int:
    crs = info.get("crs")
    srid: int | None = None
    if crs:
        authority, _, code = str(crs).partition(":")
        if authority.upper() == "EPSG" and code.isdigit():
            srid = int(code)
        else:
            raise InvalidInput("WRONG_CRS", f"无法识别文件的坐标系：{crs}",
                               f"cannot tell the file's CRS: {crs}", crs=str(crs))
    srid = srid or fallback
    if srid is None:
        raise InvalidInput("MISSING_CRS", "文件未说明坐标系，请指定（如 EPSG:4545）",
                           "the file names no CRS: give one (e.g. EPSG:4545)")
    if srid not in ACCEPTED_SRIDS:
        raise InvalidInput("WRONG_CRS", f"不支持的坐标系 EPSG:{srid}（应为CGCS2000）",
                           f"unsupported CRS EPSG:{srid}: use CGCS2000", srid=srid)
    return srid


def read_info(path: Path) -> dict[str, Any]:
    import pyogrio

    try:
        return dict(pyogrio.read_info(str(path)))
    except Exception as exc:  # GDAL's errors are many; all mean "not a file we can read"
        raise InvalidInput("UNREADABLE_FILE", f"无法读取图形文件：{path.name}",
                           f"cannot read the geometry file {path.name}: "
                           f"{str(exc).splitlines()[0][:200]}") from exc


def feature_batches(path: Path, info: dict[str, Any]) -> Iterator[tuple[list[Any], list[Any]]]:
    """(WKB geometries, rows of field values) in batches of BATCH features, in file order."""
    import pyogrio.raw

    total = int(info.get("features") or 0)
    offset = 0
    while True:
        _, _, geometry, fields = pyogrio.raw.read(str(path), skip_features=offset,
                                                  max_features=BATCH)
        count = len(geometry)
        if count == 0:
            return
        columns = [column.tolist() for column in fields]
        rows = list(zip(*columns, strict=True)) if columns else [() for _ in range(count)]
        yield geometry.tolist(), rows
        offset += count
        if count < BATCH or (total and offset >= total):
            return


# ---------------------------------------------------------------------- staging


STAGE_DDL = f"""
CREATE TEMP TABLE survey_parcels_in (
    row int, code text, land_use_code text, land_use_system text, location text,
    declared_area text, elevation_bottom text, elevation_top text, wkb bytea
) ON COMMIT DROP;
CREATE TEMP TABLE survey_units_in (
    row int, {", ".join(f"{c} text" for c in UNIT_COLUMNS)}
) ON COMMIT DROP;
"""


def _copy_rows(cursor: Any, table: str, columns: Sequence[str],
               rows: Iterator[Sequence[Any]], on_rows: Callable[[int], None]) -> int:
    done = 0
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            done += 1
            if done % 5000 == 0:
                on_rows(5000)
    on_rows(done % 5000)
    return done


class Stager:
    """Reads the files and COPYs their rows into the staging tables."""

    def __init__(self, session: Session, files: SurveyFiles, progress: Progress) -> None:
        self.session = session
        self.files = files
        self.progress = progress
        self.done = 0
        self.total: int | None = None

    def tick(self, rows: int) -> None:
        self.done += rows
        self.progress("reading", self.done, self.total)

    def stage(self) -> tuple[int, bool]:
        """Stage everything; returns (srid, single_file)."""
        info = read_info(self.files.geometry)
        srid = file_crs(info, self.files.crs)
        names = [str(n) for n in info.get("fields", [])]
        parcel_at = _columns(names, PARCEL_COLUMNS)
        _missing_columns(parcel_at, REQUIRED_PARCEL_COLUMNS, PARCEL_COLUMNS, "图形文件")
        single = self.files.attributes is None
        unit_at = _columns(names, UNIT_COLUMNS) if single else {}
        if single:
            _missing_columns(unit_at, REQUIRED_UNIT_COLUMNS, UNIT_COLUMNS, "图形文件")
        self.total = int(info.get("features") or 0) or None
        raw = self.session.connection().connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor:
            cursor.execute(STAGE_DDL)
            parcel_columns = [c for c in PARCEL_COLUMNS if c in parcel_at]
            unit_columns = [c for c in UNIT_COLUMNS if c in unit_at]
            row_number = 0
            for geometries, values in feature_batches(self.files.geometry, info):
                first = row_number + 1
                row_number += len(geometries)
                parcels = (
                    (first + i, *(_text(v[parcel_at[c]]) for c in parcel_columns), wkb)
                    for i, (wkb, v) in enumerate(zip(geometries, values, strict=True)))
                _copy_rows(cursor, "survey_parcels_in", ["row", *parcel_columns, "wkb"],
                           parcels, self.tick)
                if single:
                    units = ((first + i, *(_text(v[unit_at[c]]) for c in unit_columns))
                             for i, v in enumerate(values) if _text(v[unit_at["code"]]))
                    _copy_rows(cursor, "survey_units_in", ["row", *unit_columns], units,
                               lambda _: None)
            if not single:
                assert self.files.attributes is not None
                self._stage_csv(cursor)
        return srid, single

    def _stage_csv(self, cursor: Any) -> None:
        path = self.files.attributes
        assert path is not None
        try:
            handle = path.open(encoding=self.files.encoding, newline="")
        except OSError as exc:
            raise InvalidInput("UNREADABLE_FILE", f"无法读取属性表：{path.name}",
                               f"cannot read the attribute table {path.name}") from exc
        with handle:
            reader = csv.reader(handle)
            try:
                header = next(reader)
            except (StopIteration, UnicodeDecodeError, csv.Error) as exc:
                raise InvalidInput("UNREADABLE_FILE", f"属性表为空或编码错误：{path.name}",
                                   f"the attribute table {path.name} is empty or not "
                                   f"{self.files.encoding}") from exc
            unit_at = _columns(header, UNIT_COLUMNS)
            _missing_columns(unit_at, REQUIRED_UNIT_COLUMNS, UNIT_COLUMNS, "属性表")
            columns = [c for c in UNIT_COLUMNS if c in unit_at]
            width = len(header)

            def rows() -> Iterator[tuple[Any, ...]]:
                try:
                    for line, values in enumerate(reader, start=2):  # line 1 is the header
                        if not any(v.strip() for v in values):
                            continue
                        values = values + [""] * (width - len(values))
                        yield (line, *(_text(values[unit_at[c]]) for c in columns))
                except (UnicodeDecodeError, csv.Error) as exc:
                    raise InvalidInput("UNREADABLE_FILE", f"属性表编码或格式错误：{path.name}",
                                       f"the attribute table {path.name} is not valid CSV "
                                       f"in {self.files.encoding}: {exc}") from exc

            _copy_rows(cursor, "survey_units_in", ["row", *columns], rows(), self.tick)
