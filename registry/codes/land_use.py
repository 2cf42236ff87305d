"""Land-use classification codes (土地用途/用地分类代码): format only.

The same number means different things in different systems (0702 is 农村宅基地 in
GB/T 21010-2017, 0703 in the 2023 用地用海 classification), so a code is always stored with its
system. The code lists themselves live in the database (``land_use_codes``); this module only
checks the shape of a code:

- GB/T 21010-2017 and -2007 (土地利用现状分类): 2 digits (一级类) or 4 digits (二级类); the
  first-level class is 01–12 in both editions.
- 国土空间调查、规划、用途管制用地用海分类 (2023): 2, 4 or 6 digits (一级/二级/三级类); the
  first-level class is 01–24 (01 耕地 … 23 其他土地, 24 其他海域).
"""

from __future__ import annotations

from enum import StrEnum

from registry.codes._segments import is_digits
from registry.codes.problems import Problem, empty, normalize, too_long


class LandUseSystem(StrEnum):
    """Land-use classification system (用地分类体系). The value is the system's usual name."""

    GB_T_21010_2017 = "GB/T 21010-2017"
    GB_T_21010_2007 = "GB/T 21010-2007"
    LAND_SEA_2023 = "用地用海分类2023"

    @property
    def label_zh(self) -> str:
        """Chinese label (中文名称)."""
        return _SYSTEM_ZH[self]


_SYSTEM_ZH: dict[LandUseSystem, str] = {
    LandUseSystem.GB_T_21010_2017: "土地利用现状分类（GB/T 21010-2017）",
    LandUseSystem.GB_T_21010_2007: "土地利用现状分类（GB/T 21010-2007）",
    LandUseSystem.LAND_SEA_2023: "国土空间调查、规划、用途管制用地用海分类（2023）",
}

#: Allowed code lengths and the number of first-level classes (一级类 01..N) per system.
CODE_LENGTHS: dict[LandUseSystem, tuple[int, ...]] = {
    LandUseSystem.GB_T_21010_2017: (2, 4),
    LandUseSystem.GB_T_21010_2007: (2, 4),
    LandUseSystem.LAND_SEA_2023: (2, 4, 6),
}
FIRST_LEVEL_CLASSES: dict[LandUseSystem, int] = {
    LandUseSystem.GB_T_21010_2017: 12,
    LandUseSystem.GB_T_21010_2007: 12,
    LandUseSystem.LAND_SEA_2023: 24,
}


def check_land_use_code(system: LandUseSystem | str, code: str) -> list[Problem]:
    """Problems in the format of a land-use code in ``system``; empty if the shape is right.

    ``system`` must be a :class:`LandUseSystem` (or its value). Never raises for ``code``.
    Whether the code exists is for the database to say.
    """
    kind = LandUseSystem(system)
    what_zh, what_en = "土地用途代码", "land-use code"
    if (long := too_long(code, what_zh, what_en)) is not None:
        return [long]
    s = normalize(code)
    if not s:
        return [empty(what_zh, what_en)]
    lengths = CODE_LENGTHS[kind]
    lengths_text = "、".join(str(n) for n in lengths)
    if not is_digits(s) or len(s) not in lengths:
        return [Problem(
            "BAD_LAND_USE_CODE",
            f"{kind.label_zh}的代码应为{lengths_text}位数字",
            f"a {kind.value} code must be {' or '.join(str(n) for n in lengths)} digits",
        )]
    classes = FIRST_LEVEL_CLASSES[kind]
    if not 1 <= int(s[:2]) <= classes:
        return [Problem(
            "BAD_LAND_USE_CODE",
            f"{kind.label_zh}的一级类应为01–{classes:02d}，不是{s[:2]}",
            f"the first-level class of a {kind.value} code must be 01–{classes:02d}, "
            f"not {s[:2]}",
            position=1,
        )]
    return []
