"""The report: the findings of a run, in row order, each with its row, key, code and message in
Chinese and English (rejects: the first check a row failed, IMPORT-2 in checking.py;
differences from the register, IMPORT-4), and the counts of a run. A single file (units from the
features' own attributes) reports each feature once, with its first failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.services.survey_import.checking import differences
from registry.services.survey_import.mapping import UNIT_COLUMNS


@dataclass
class Finding:
    finding: str  # reject | difference
    source: str  # parcel | unit | feature
    row: int
    key: str
    code: str
    message_zh: str
    message_en: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportSummary:
    counts: dict[str, int]
    findings: list[Finding]

    @property
    def rejects(self) -> list[Finding]:
        return [f for f in self.findings if f.finding == "reject"]

    @property
    def differences(self) -> list[Finding]:
        return [f for f in self.findings if f.finding == "difference"]


MESSAGES: dict[str, tuple[str, str]] = {
    "INVALID_CODE": ("代码格式错误：{key}", "malformed code: {key}"),
    "UNKNOWN_COUNTY": ("县级区划代码 {county} 不属于本登记簿",
                       "{county} is not a county of the register"),
    "OUTSIDE_SCOPE": ("超出本人辖区（{scope}）", "outside your county ({scope})"),
    "DUPLICATE_CODE": ("代码在文件中重复出现（第 {rows} 行）",
                       "the code appears more than once in the file (rows {rows})"),
    "MISSING_GEOMETRY": ("缺少图形", "no geometry"),
    "NOT_A_POLYGON": ("图形应为面（Polygon/MultiPolygon），实际为 {type}",
                      "expected a Polygon or MultiPolygon, got {type}"),
    "INVALID_GEOMETRY": ("几何图形无效：{reason}", "invalid geometry: {reason}"),
    "OUTSIDE_CITY": ("按 EPSG:{srid} 解读，图形不在巴中市范围内，请核对坐标系",
                     "read as EPSG:{srid}, the geometry lies outside 巴中市: is the CRS right?"),
    "UNKNOWN_LAND_USE": ("未知的土地用途：{system} {code}", "unknown land use: {system} {code}"),
    "INVALID_ELEVATION": ("高程范围与宗地层次（{layer}）不符",
                          "elevation range does not fit the {layer} layer"),
    "INVALID_ATTRIBUTE": ("属性 {field} 的值无效：{value}", "invalid value for {field}: {value}"),
    "PARCEL_OVERLAP": ("与{other_zh}重叠 {overlap_m2} 平方米",
                       "overlaps {other_en} by {overlap_m2} m²"),
    "NO_VALID_UNIT": ("宗地上没有可导入的不动产单元", "no importable unit on this parcel"),
    "UNKNOWN_PARCEL": ("宗地 {parcel} 既不在文件中，也不是登记簿中的现势宗地",
                       "parcel {parcel} is neither in the file nor a current parcel of the "
                       "register"),
    "PARCEL_REJECTED": ("所在宗地 {parcel}（第 {parcel_row} 行）未通过检查：{parcel_reject}",
                        "its parcel {parcel} (row {parcel_row}) was refused: {parcel_reject}"),
    "INVALID_KIND": ("单元类型无效：{value}（应为农房、基础设施或车位）",
                     "invalid kind {value} (rural_house, infrastructure or parking_space)"),
    "KIND_MISMATCH": ("单元类型 {value} 与代码 {key} 不符"
                      "（农房须JC+F，车位须B/S/X+F，基础设施须F或W）",
                      "kind {value} does not fit code {key} (rural house: JC and F; parking "
                      "space: B/S/X and F; infrastructure: F or W)"),
    "DIFFERS_FROM_REGISTER": ("与登记簿不一致：{fields}（登记簿未修改）",
                              "differs from the register in {fields} "
                              "(the register was not changed)"),
}


def _message(reject: str, **values: Any) -> tuple[str, str]:
    zh, en = MESSAGES[reject]
    return zh.format(**values), en.format(**values)


_GEOMETRY_REASONS_ZH = (("Self-intersection", "自相交"), ("Ring Self-intersection", "环自相交"),
                        ("Too few points", "顶点过少"),
                        ("Hole lies outside shell", "内环在外环之外"),
                        ("Nested shells", "外环嵌套"), ("Interior is disconnected", "内部不连通"))


def _parcel_finding(row: Any, srid: int, scope: str | None) -> Finding:
    code: str = row.reject
    details: dict[str, Any] = dict(row.detail or {})
    values: dict[str, Any] = {"key": row.key, "county": row.code[:6], "scope": scope,
                              "srid": srid, "rows": "", "type": row.geometry_type,
                              "system": row.land_use_system, "code": row.land_use_code,
                              "layer": row.layer, "field": "ZDMJ", "value": row.declared_area}
    if code == "DUPLICATE_CODE":
        details["rows"] = list(row.copies_rows)
        values["rows"] = ", ".join(map(str, row.copies_rows))
    elif code == "INVALID_GEOMETRY":
        reason = row.reason or "invalid"
        zh = next((z for e, z in _GEOMETRY_REASONS_ZH if reason.startswith(e)), reason)
        details["reason"] = reason
        return Finding("reject", "parcel", row.row, row.key, code,
                       f"几何图形无效：{zh}（{reason}）", f"invalid geometry: {reason}", details)
    elif code == "NOT_A_POLYGON":
        details["type"] = row.geometry_type
    elif code == "PARCEL_OVERLAP":
        if "other_row" in details:
            values["other_zh"] = f"文件第 {details['other_row']} 行的宗地 {details['other']}"
            values["other_en"] = f"parcel {details['other']} in row {details['other_row']}"
        else:
            values["other_zh"] = f"现势宗地 {details['other']}"
            values["other_en"] = f"current parcel {details['other']}"
        values["overlap_m2"] = details["overlap_m2"]
    message_zh, message_en = _message(code, **values)
    return Finding("reject", "parcel", row.row, row.key, code, message_zh, message_en, details)


def _unit_finding(row: Any, scope: str | None) -> Finding:
    code: str = row.reject
    details: dict[str, Any] = {}
    values: dict[str, Any] = {"key": row.key, "county": row.code[:6], "scope": scope,
                              "rows": "", "parcel": row.code[:19], "value": row.kind,
                              "parcel_row": row.parcel_row, "parcel_reject": row.parcel_reject}
    if code == "DUPLICATE_CODE":
        details["rows"] = list(row.copies_rows)
        values["rows"] = ", ".join(map(str, row.copies_rows))
    elif code == "PARCEL_REJECTED":
        details.update(parcel_row=row.parcel_row, parcel_reject=row.parcel_reject)
    elif code == "INVALID_ATTRIBUTE":
        column = UNIT_COLUMNS[row.bad_field][0]
        value = getattr(row, row.bad_field)
        details.update(field=column, value=value)
        values.update(field=column, value=value if value is not None else "（空）")
    message_zh, message_en = _message(code, **values)
    return Finding("reject", "unit", row.row, row.key, code, message_zh, message_en, details)


def _difference(source: str, row: Any) -> Finding:
    fields = list(row.fields)
    zh, en = _message("DIFFERS_FROM_REGISTER", fields=", ".join(fields))
    return Finding("difference", source, row.row, row.key, "DIFFERS_FROM_REGISTER", zh, en,
                   {"fields": fields})


def collect_findings(session: Session, srid: int, scope: str | None,
                     single_file: bool) -> list[Finding]:
    parcels = session.execute(text("""
        SELECT s.row, s.key, s.code, s.reject, s.detail, s.layer, s.land_use_system,
               s.land_use_code, s.declared_area,
               CASE WHEN s.reject = 'INVALID_GEOMETRY' THEN ST_IsValidReason(s.raw) END
                   AS reason,
               CASE WHEN s.raw IS NOT NULL THEN GeometryType(s.raw) END AS geometry_type,
               (SELECT array_agg(x.row ORDER BY x.row) FROM survey_parcels x
                 WHERE x.code = s.code) AS copies_rows
          FROM survey_parcels s WHERE s.reject IS NOT NULL ORDER BY s.row""")).all()
    units = session.execute(text("""
        SELECT s.*, (SELECT array_agg(x.row ORDER BY x.row) FROM survey_units x
                      WHERE x.code = s.code) AS copies_rows
          FROM survey_units s WHERE s.reject IS NOT NULL ORDER BY s.row""")).all()
    parcel_diff, unit_diff = differences(session)
    rejects = [_parcel_finding(r, srid, scope) for r in parcels]
    unit_rejects = [_unit_finding(r, scope) for r in units]
    found = ([*rejects, *unit_rejects]
             + [_difference("parcel", r) for r in parcel_diff]
             + [_difference("unit", r) for r in unit_diff])
    if not single_file:
        return found
    # One file: a feature is one row. Report it once, with its first failure: its parcel's
    # own, else its unit's, else "no importable unit".
    by_row: dict[tuple[str, int], Finding] = {}
    rank = {"parcel": 0, "unit": 1}
    for f in sorted(found, key=lambda f: (f.finding, f.row, rank[f.source]
                                         + (2 if f.code == "NO_VALID_UNIT" else 0))):
        key = (f.finding, f.row)
        if key not in by_row:
            by_row[key] = Finding(f.finding, "feature", f.row, f.key, f.code, f.message_zh,
                                  f.message_en, f.details)
    return list(by_row.values())


def summary_counts(session: Session, inserted: tuple[int, int],
                   findings: list[Finding]) -> dict[str, int]:
    row = session.execute(text("""
        SELECT p.*, u.* FROM
          (SELECT count(*) AS parcel_rows,
                  count(*) FILTER (WHERE reject IS NOT NULL) AS parcel_rejects,
                  count(*) FILTER (WHERE reject IS NULL AND existing_id IS NOT NULL)
                      AS parcels_existing
             FROM survey_parcels) p,
          (SELECT count(*) AS unit_rows,
                  count(*) FILTER (WHERE reject IS NOT NULL) AS unit_rejects,
                  count(*) FILTER (WHERE reject IS NULL AND existing_id IS NOT NULL)
                      AS units_existing
             FROM survey_units) u""")).one()
    return {"parcel_rows": row.parcel_rows, "parcels_created": inserted[0],
            "parcels_existing": row.parcels_existing, "parcels_rejected": row.parcel_rejects,
            "unit_rows": row.unit_rows, "units_created": inserted[1],
            "units_existing": row.units_existing, "units_rejected": row.unit_rejects,
            "rejects": sum(1 for f in findings if f.finding == "reject"),
            "differences": sum(1 for f in findings if f.finding == "difference")}
