"""Natural-resource registration codes (自然资源统一确权登记): unit codes, unit types, resource
types from 三调 land cover, and the public-notice period. Pure functions, no I/O.

Facts and how sure each is: ../shared/natural-resources.md (§1.2, §2.3, §4.2) and
../shared/domain.md §14. What is unsure is a parameter here, never a constant buried in code:

- NRCODE-1 A registration unit's code (自然资源登记单元号) is an opaque string checked against a
  configurable pattern (a regular expression matched in full). The format is not verified: the
  default, DEFAULT_UNIT_CODE_PATTERN, is one vendor's 15-character reading [unsure] — 6-digit
  division code (GB/T 2260) + 2-digit unit type + 7-digit sequence. When the pattern has a
  group named `division`, that group must be a known province, city or county code
  (UNKNOWN_DIVISION); when it has a group named `type`, that group must equal the unit's type
  code (UNIT_TYPE_MISMATCH).
- NRCODE-2 Unit types (登记单元类型) are the two-digit list 00–99 with sub-types (UNIT_TYPES;
  one vendor's list, matching the 暂行办法's chapters [likely]); a sub-type's parent is its
  tens (21 国家公园 → 20 自然保护地).
- NRCODE-3 Resource types (资源类型) of land cover: 水流, 湿地, 森林, 草原, 荒地, and the
  non-resource remainder (耕地, 园地, 建设用地 …: 非自然资源). DEFAULT_LAND_COVER_MAPPING maps 三调
  codes (DLBM) to them as one vendor does [sure as vendor practice]; the register keeps the
  mapping as data (a table) and only seeds it from here. A code in no mapping is unknown.
- NRCODE-4 The public notice (公告) lasts a configurable number of working days (default 15
  [unsure]) counted from the day it is published when that is a working day, else from the next
  working day; weekends and the configured holidays are not working days; the period ends at the
  end of its last working day (`notice_period_end`).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from registry.codes.problems import CodeError, Problem, normalize

DEFAULT_UNIT_CODE_PATTERN = r"(?P<division>[0-9]{6})(?P<type>[0-9]{2})[0-9]{7}"
DEFAULT_NOTICE_WORKING_DAYS = 15

# NRCODE-2: code → name. Sub-types' parent is the code's tens.
UNIT_TYPES: dict[str, str] = {
    "00": "海域",
    "10": "无居民海岛", "11": "领海基点所在海岛", "12": "其他海岛",
    "20": "自然保护地", "21": "国家公园", "22": "自然保护区", "23": "自然公园",
    "24": "其他自然保护地",
    "30": "水流", "31": "河流", "32": "湖泊", "33": "水库水面", "34": "冰川及永久积雪",
    "40": "国务院确定的重点国有林区",
    "50": "湿地",
    "60": "森林",
    "70": "草原",
    "80": "荒地",
    "90": "探明储量的矿产资源",
    "99": "其他",
}


def unit_type_parent(code: str) -> str | None:
    """The main type of a sub-type (21 → 20); None for a main type or an unknown code."""
    parent = code[0] + "0"
    return parent if code in UNIT_TYPES and code != parent and parent in UNIT_TYPES else None


class ResourceType(StrEnum):
    """资源类型 of land cover inside a unit (NRCODE-3)."""

    WATER = "water"  # 水流
    WETLAND = "wetland"  # 湿地
    FOREST = "forest"  # 森林
    GRASSLAND = "grassland"  # 草原
    WASTELAND = "wasteland"  # 荒地
    NON_RESOURCE = "non_resource"  # 非自然资源（耕地、园地、建设用地等）

    @property
    def label_zh(self) -> str:
        return RESOURCE_TYPE_LABEL_ZH[self]


RESOURCE_TYPE_LABEL_ZH: dict[ResourceType, str] = {
    ResourceType.WATER: "水流", ResourceType.WETLAND: "湿地", ResourceType.FOREST: "森林",
    ResourceType.GRASSLAND: "草原", ResourceType.WASTELAND: "荒地",
    ResourceType.NON_RESOURCE: "非自然资源",
}

_W, _WL, _F, _G, _X, _N = (ResourceType.WATER, ResourceType.WETLAND, ResourceType.FOREST,
                           ResourceType.GRASSLAND, ResourceType.WASTELAND,
                           ResourceType.NON_RESOURCE)
# NRCODE-3: 三调 code → (name, resource type). Resource codes as the vendor maps them; the
# others are the 三调 work classification's second-level codes that are not natural resources.
# [unsure]: 1204 盐碱地 (some put it under 荒地), 园地, 1104 坑塘 and 1107 沟渠 (counted as
# non-resource here, as the vendor does).
DEFAULT_LAND_COVER_MAPPING: dict[str, tuple[str, ResourceType]] = {
    "0101": ("水田", _N), "0102": ("水浇地", _N), "0103": ("旱地", _N),
    "0201": ("果园", _N), "0202": ("茶园", _N), "0203": ("橡胶园", _N), "0204": ("其他园地", _N),
    "0301": ("乔木林地", _F), "0302": ("竹林地", _F), "0303": ("红树林地", _WL),
    "0304": ("森林沼泽", _WL), "0305": ("灌木林地", _F), "0306": ("灌丛沼泽", _WL),
    "0307": ("其他林地", _F),
    "0401": ("天然牧草地", _G), "0402": ("沼泽草地", _WL), "0403": ("人工牧草地", _G),
    "0404": ("其他草地", _G),
    "05H1": ("商业服务业设施用地", _N), "0508": ("物流仓储用地", _N),
    "0601": ("工业用地", _N), "0602": ("采矿用地", _N), "0603": ("盐田", _WL),
    "0701": ("城镇住宅用地", _N), "0702": ("农村宅基地", _N),
    "08H1": ("机关团体新闻出版用地", _N), "08H2": ("科教文卫用地", _N),
    "0809": ("公用设施用地", _N), "0810": ("公园与绿地", _N),
    "09": ("特殊用地", _N),
    "1001": ("铁路用地", _N), "1002": ("轨道交通用地", _N), "1003": ("公路用地", _N),
    "1004": ("城镇村道路用地", _N), "1005": ("交通服务场站用地", _N), "1006": ("农村道路", _N),
    "1007": ("机场用地", _N), "1008": ("港口码头用地", _N), "1009": ("管道运输用地", _N),
    "1101": ("河流水面", _W), "1102": ("湖泊水面", _W), "1103": ("水库水面", _W),
    "1104": ("坑塘水面", _N), "1105": ("沿海滩涂", _WL), "1106": ("内陆滩涂", _WL),
    "1107": ("沟渠", _N), "1108": ("沼泽地", _WL), "1109": ("水工建筑用地", _N),
    "1110": ("冰川及永久积雪", _W),
    "1201": ("空闲地", _N), "1202": ("设施农用地", _N), "1203": ("田坎", _N),
    "1204": ("盐碱地", _N), "1205": ("沙地", _X), "1206": ("裸土地", _X),
    "1207": ("裸岩石砾地", _X),
}


@dataclass(frozen=True)
class UnitCode:
    """A registration unit's code as read by the configured pattern (NRCODE-1)."""

    code: str
    division: str | None  # the `division` group, when the pattern has one
    type_code: str | None  # the `type` group, when the pattern has one


def check_unit_code(text: str, pattern: str = DEFAULT_UNIT_CODE_PATTERN,
                    known_divisions: Collection[str] | None = None,
                    type_code: str | None = None) -> list[Problem]:
    """NRCODE-1: every problem of `text` as a unit code; [] when it is well formed.

    `known_divisions` (when given) are the division codes a `division` group may take;
    `type_code` (when given) is the type a `type` group must equal."""
    code = normalize(text)
    if not code:
        return [Problem("EMPTY", "登记单元号为空", "the unit code is empty")]
    if len(code) > 64:
        return [Problem("BAD_LENGTH", "登记单元号过长", "the unit code is too long")]
    match = re.fullmatch(pattern, code)
    if match is None:
        return [Problem("BAD_FORMAT", f"登记单元号“{code}”不符合编码规则（{pattern}）",
                        f"unit code {code!r} does not match the configured pattern {pattern}")]
    problems: list[Problem] = []
    groups = match.groupdict()
    division = groups.get("division")
    if division is not None and known_divisions is not None and division not in known_divisions:
        problems.append(Problem("UNKNOWN_DIVISION", f"登记单元号中的行政区划代码{division}不存在",
                                f"division {division} in the unit code is not known",
                                match.start("division") + 1))
    kind = groups.get("type")
    if kind is not None and type_code is not None and kind != type_code:
        problems.append(Problem("UNIT_TYPE_MISMATCH",
                                f"登记单元号中的类型码{kind}与登记单元类型{type_code}不符",
                                f"type {kind} in the unit code is not the unit's type "
                                f"{type_code}", match.start("type") + 1))
    return problems


def parse_unit_code(text: str, pattern: str = DEFAULT_UNIT_CODE_PATTERN) -> UnitCode:
    """The code's parts by the pattern's named groups; CodeError if it does not match."""
    problems = check_unit_code(text, pattern)
    if problems:
        raise CodeError(problems)
    code = normalize(text)
    match = re.fullmatch(pattern, code)
    assert match is not None
    groups = match.groupdict()
    return UnitCode(code, groups.get("division"), groups.get("type"))


def is_working_day(day: date, holidays: Collection[date] = ()) -> bool:
    return day.weekday() < 5 and day not in holidays


def notice_period_end(published_on: date, working_days: int = DEFAULT_NOTICE_WORKING_DAYS,
                      holidays: Collection[date] = ()) -> date:
    """NRCODE-4: the last day of a public notice published on `published_on`."""
    if working_days < 1:
        raise ValueError("a notice lasts at least one working day")
    day, counted = published_on, 0
    while True:
        if is_working_day(day, holidays):
            counted += 1
            if counted == working_days:
                return day
        day += timedelta(days=1)
