"""Right codes of the national database standard (../shared/domain.md §5): 权利类型 and 权利性质,
with the words a certificate prints for them."""

from __future__ import annotations

RIGHT_TYPES: dict[int, str] = {
    1: "集体土地所有权", 2: "国家土地所有权", 3: "国有建设用地使用权",
    4: "国有建设用地使用权/房屋（构筑物）所有权", 5: "宅基地使用权",
    6: "宅基地使用权/房屋（构筑物）所有权", 7: "集体建设用地使用权",
    8: "集体建设用地使用权/房屋（构筑物）所有权", 9: "土地承包经营权", 19: "地役权",
    23: "抵押权", 99: "其它",
}

RIGHT_NATURES: dict[int, str] = {
    101: "划拨", 102: "出让", 103: "作价出资（入股）", 104: "租赁", 105: "授权经营",
    200: "集体土地", 201: "家庭承包", 202: "其他方式承包", 203: "批准拨用", 204: "入股",
    205: "联营",
}


def right_type_label(code: int | None) -> str:
    """权利类型 as printed: its words, or the bare code when the list lacks it (never blank)."""
    if code is None:
        return ""
    return RIGHT_TYPES.get(code, str(code))


def right_nature_label(code: int | None) -> str:
    if code is None:
        return ""
    return RIGHT_NATURES.get(code, str(code))
