"""From the register to the national exchange tables (TD/T 1066-2021), kept as data.

- EXCHANGE-4 Every exchange table and column the registry writes is declared here, once: its
  name, its XSD type and where its value comes from (a key of the facts that
  services/exchange/facts.py reads from the register); the message builder, the full export and
  the XSD (`exchange.xsd`, checked against `render_xsd()` by a test) all read this table.
- EXCHANGE-5 Codes in the exchange are national values, never the API's enum names: every
  conversion goes through `code()`, here. What domain.md §15 marks [sure] is code below;
  what it marks [unsure] or vendor-dependent (RecType, ASID, 证件种类, codes ≥ 23 of 权利类型,
  房屋结构/用途/类型, the signature) comes from the mapping file (`mapping.toml` beside this
  module, or EXCHANGE_MAPPING_FILE), never from code.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from registry.db.applications import REGISTRATION_TYPE, ApplicationKind
from registry.db.parties import PartyKind
from registry.db.rights import CoOwnership, MortgageMode, RightStatus
from registry.db.spatial import Layer

HERE = Path(__file__).resolve().parent
DEFAULT_MAPPING_FILE = HERE / "mapping.toml"
XSD_FILE = HERE / "exchange.xsd"


@dataclass(frozen=True)
class Column:
    """One exchange column: `source` is a facts key (None: the register does not hold it, the
    attribute is declared and left out); `code` names a code list converted by `code()`."""

    name: str
    type: str  # string | int | decimal | date | datetime
    source: str | None
    code: str | None = None
    length: int | None = None


@dataclass(frozen=True)
class Table:
    name: str
    label_zh: str
    columns: tuple[Column, ...]
    spatial: bool = False  # carries the parcel's geometry in the full export


def _c(name: str, type_: str, source: str | None, code: str | None = None,
       length: int | None = None) -> Column:
    return Column(name, type_, source, code, length)


YWH = _c("YWH", "string", "ywh")  # 1–50 characters: the Head's RecFlowID type
BDCDYH = _c("BDCDYH", "string", "unit_code", length=28)
DJLX = _c("DJLX", "int", "registration_type")
QSZT = _c("QSZT", "int", "status", "QSZT")
DJJG = _c("DJJG", "string", "authority_name", length=200)
DBR = _c("DBR", "string", "registrar", length=50)
DJSJ = _c("DJSJ", "datetime", "recorded_at")
FJ = _c("FJ", "string", "note", length=4000)
PROOF = _c("BDCDJZMH", "string", "certificate_number", length=64)
RIGHT_TAIL = (DJJG, DBR, DJSJ, FJ, QSZT)

TABLES: dict[str, Table] = {t.name: t for t in (
    Table("KTT_ZDJBXX", "宗地基本信息", (
        YWH, _c("ZDDM", "string", "parcel_code", length=19), BDCDYH,
        _c("ZDTZM", "string", "feature_code", length=2), _c("ZL", "string", "location"),
        _c("ZDMJ", "decimal", "parcel_area"), _c("MJDW", "int", "area_unit"),
        _c("YT", "string", "land_use_code", length=8), _c("QLLX", "int", "title_right_type"),
        _c("QLXZ", "int", "right_nature"), _c("QLSDFS", "int", "layer", "QLSDFS"),
        _c("RJL", "decimal", None), _c("JZMD", "decimal", None), _c("JZXG", "decimal", None),
        QSZT), spatial=True),
    Table("KTT_FW_ZRZ", "自然幢", (
        YWH, BDCDYH, _c("ZDDM", "string", "parcel_code", length=19),
        _c("ZRZH", "string", "building_code", length=24), _c("ZCS", "int", "floors"),
        _c("DXCS", "int", "underground_floors"), _c("GHYT", "string", "unit_kind", "FWYT"),
        _c("FWJG", "string", "structure", "FWJG"), _c("ZL", "string", "location"), QSZT)),
    Table("KTT_FW_H", "户", (
        YWH, BDCDYH, _c("ZRZH", "string", "building_code", length=24),
        _c("HH", "int", "unit_no"), _c("SHBW", "string", "space_no"),
        _c("FWYT1", "string", "unit_kind", "FWYT"), _c("SCJZMJ", "decimal", "floor_area"),
        _c("SCTNJZMJ", "decimal", None), _c("SCFTJZMJ", "decimal", None),
        _c("FWLX", "string", "unit_kind", "FWLX"), _c("FWXZ", "string", "unit_kind", "FWXZ"),
        _c("ZL", "string", "location"), QSZT)),
    Table("ZTT_GY_QLR", "权利人", (
        YWH, BDCDYH, _c("QLRMC", "string", "party_name", length=200),
        _c("ZJZL", "string", "id_type", "ZJZL"), _c("ZJH", "string", "id_number", length=64),
        _c("QLRLX", "int", "party_kind", "QLRLX"), _c("GYFS", "int", "co_ownership", "GYFS"),
        _c("QLBL", "string", "share"), _c("SFCZR", "int", "holds_paper"),
        _c("SXH", "int", "position"), _c("BDCQZH", "string", "certificate_number", length=64),
        _c("QLLX", "int", "right_type"), QSZT)),
    Table("QLF_QL_JSYDSYQ", "建设用地使用权、宅基地使用权", (
        YWH, BDCDYH, _c("ZDDM", "string", "parcel_code", length=19),
        _c("QLLX", "int", "right_type"), DJLX, _c("SYQMJ", "decimal", "parcel_area"),
        _c("SYQQSSJ", "date", "term_start"), _c("SYQJSSJ", "date", "term_end"),
        _c("QDJG", "decimal", None), _c("BDCQZH", "string", "certificate_number", length=64),
        *RIGHT_TAIL)),
    Table("QLT_FW_FDCQ_YZ", "房地产权（独幢、层、套、间）", (
        YWH, BDCDYH, _c("QLLX", "int", "right_type"), DJLX,
        _c("FDZL", "string", "location"), _c("GHYT", "string", "unit_kind", "FWYT"),
        _c("FWJG", "string", "structure", "FWJG"), _c("JZMJ", "decimal", "floor_area"),
        _c("TDSYQSSJ", "date", "term_start"), _c("TDSYJSSJ", "date", "term_end"),
        _c("BDCQZH", "string", "certificate_number", length=64), *RIGHT_TAIL)),
    Table("QLT_QL_GJZWSYQ", "构（建）筑物所有权", (
        YWH, BDCDYH, _c("QLLX", "int", "right_type"), DJLX, _c("ZL", "string", "location"),
        _c("GJZWLX", "int", "category", "GJZWLX"),
        _c("BDCQZH", "string", "certificate_number", length=64), *RIGHT_TAIL)),
    Table("QLF_QL_DYAQ", "抵押权", (
        YWH, BDCDYH, DJLX, _c("DYBDCLX", "string", "unit_kind", "DYBDCLX"),
        _c("DYR", "string", "obligors"), _c("DYFS", "int", "mortgage_mode", "DYFS"),
        _c("BDBZZQSE", "decimal", "amount"), _c("ZWLXQSSJ", "date", "term_start"),
        _c("ZWLXJSSJ", "date", "term_end"), _c("ZGZQSE", "decimal", "max_amount"),
        PROOF, *RIGHT_TAIL)),
    Table("QLF_QL_CFDJ", "查封登记", (
        YWH, BDCDYH, _c("CFJG", "string", "court"), _c("CFLX", "int", "seizure_type"),
        _c("CFWH", "string", "document_no"), _c("CFQSSJ", "date", "term_start"),
        _c("CFJSSJ", "date", "term_end"), *RIGHT_TAIL)),
    Table("QLF_QL_YGDJ", "预告登记", (
        YWH, BDCDYH, DJLX, _c("YGDJZL", "int", "notice_kind"),
        _c("QLRMC", "string", "holders"), _c("YWR", "string", "obligors"),
        PROOF, *RIGHT_TAIL)),
    Table("QLF_QL_YYDJ", "异议登记", (
        YWH, BDCDYH, _c("YYSX", "string", "note"), _c("QLRMC", "string", "holders"),
        PROOF, DJJG, DBR, DJSJ, QSZT)),
    Table("QLF_QL_DYIQ", "地役权", (
        YWH, _c("GYDBDCDYH", "string", "unit_code", length=28),
        _c("XYDBDCDYH", "string", "dominant_unit_code", length=28), DJLX,
        _c("DYQNR", "string", "purpose"), _c("QLQSSJ", "date", "term_start"),
        _c("QLJSSJ", "date", "term_end"), _c("QLRMC", "string", "holders"),
        PROOF, *RIGHT_TAIL)),
    Table("QLF_QL_JZQ", "居住权 [unsure: no national table seen]", (
        YWH, BDCDYH, DJLX, _c("JZQNR", "string", "purpose"),
        _c("QLQSSJ", "date", "term_start"), _c("QLJSSJ", "date", "term_end"),
        _c("QLRMC", "string", "holders"), PROOF, *RIGHT_TAIL)),
    Table("QLF_QL_ZXDJ", "注销登记", (
        YWH, BDCDYH, _c("ZXYWH", "string", "ended_ywh", length=50),
        _c("ZXQLLX", "int", "right_type"),
        _c("ZXZH", "string", "certificate_number", length=64),
        _c("ZXYY", "string", "reason"), _c("ZXSJ", "datetime", "recorded_at"), DBR, DJJG)),
    Table("DJT_DJ_SL", "受理", (
        YWH, DJLX, _c("DJDL", "string", "kind_label"), _c("QLLX", "int", "right_type"),
        _c("SLRY", "string", "acceptor"), _c("SLSJ", "datetime", "accepted_at"),
        _c("SQSJ", "datetime", "submitted_at"), _c("ZL", "string", "location"),
        _c("AJZT", "int", "case_state"), DJJG)),
    Table("DJF_DJ_SQR", "申请人", (
        YWH, _c("SQRXM", "string", "party_name", length=200),
        _c("SQRZJZL", "string", "id_type", "ZJZL"),
        _c("SQRZJH", "string", "id_number", length=64),
        _c("SQRLX", "int", "party_kind", "QLRLX"), _c("SQRLB", "int", "role", "SQRLB"),
        _c("QLBL", "string", "share"))),
    Table("DJF_DJ_SJ", "收件", (
        YWH, _c("SJMC", "string", "document_label"), _c("SJLX", "string", "document_kind"),
        _c("YS", "int", "pages"), _c("SJSJ", "datetime", "received_at"),
        _c("BZ", "string", "sha256"))),
    Table("DJF_DJ_SF", "收费", (
        YWH, _c("SFKMMC", "string", None), _c("SSJE", "decimal", None))),
    Table("DJF_DJ_SH", "审核", (
        YWH, _c("JDMC", "string", "step_label"), _c("SXH", "int", "position"),
        _c("SHRYXM", "string", "actor"), _c("SHKSSJ", "datetime", "at"),
        _c("SHYJ", "string", "reason"))),
    Table("DJF_DJ_SZ", "缮证", (
        YWH, _c("SZMC", "string", "paper_label"), _c("SZZH", "string", "certificate_number"),
        _c("SZRY", "string", "actor"), _c("SZSJ", "datetime", "at"))),
    Table("DJF_DJ_FZ", "发证", (
        YWH, _c("FZRY", "string", "actor"), _c("FZSJ", "datetime", "at"),
        _c("FZMC", "string", "paper_label"))),
    Table("DJF_DJ_GD", "归档", (
        YWH, _c("GDRY", "string", "actor"), _c("GDSJ", "datetime", "at"))),
)}

# Which table a right is reported in: by kind, and for titles by what the unit is.
TITLE_TABLE = {"rural_house": "QLT_FW_FDCQ_YZ", "parking_space": "QLT_FW_FDCQ_YZ",
               "infrastructure": "QLT_QL_GJZWSYQ", "land": "QLF_QL_JSYDSYQ"}
RESTRICTION_TABLE = {"mortgage": "QLF_QL_DYAQ", "seizure": "QLF_QL_CFDJ",
                     "advance_notice": "QLF_QL_YGDJ", "objection": "QLF_QL_YYDJ",
                     "easement": "QLF_QL_DYIQ", "residence": "QLF_QL_JZQ"}

# [sure] code lists (domain.md §4, §5, §13).
SURE_CODES: dict[str, dict[str, str]] = {
    "QSZT": {RightStatus.PROVISIONAL: "0", RightStatus.CURRENT: "1",
             RightStatus.HISTORIC: "2", RightStatus.TERMINATED: "3"},
    "GYFS": {CoOwnership.SOLE: "0", CoOwnership.JOINT: "1", CoOwnership.SHARES: "2",
             CoOwnership.NONE: "3"},
    "QLRLX": {PartyKind.PERSON: "1", PartyKind.ENTERPRISE: "2",
              PartyKind.PUBLIC_INSTITUTION: "3", PartyKind.GOVERNMENT: "4",
              PartyKind.COLLECTIVE: "99", PartyKind.OTHER: "99"},
    "QLSDFS": {Layer.ABOVE: "1", Layer.SURFACE: "2", Layer.UNDERGROUND: "3"},
    "DYFS": {MortgageMode.GENERAL: "1", MortgageMode.MAXIMUM: "2"},
    "GJZWLX": {"tunnel": "101", "bridge": "102", "water": "103", "road": "199",
               "park": "199", "other": "199"},
    "SQRLB": {"holder": "1", "obligor": "2"},  # 申请人类别: 1 权利人 2 义务人
}
DJLX: dict[ApplicationKind, int] = dict(REGISTRATION_TYPE)  # 100–900 [sure]
AREA_UNIT_M2 = 1  # 面积单位 1 m² [sure]


class MappingError(ValueError):
    """The mapping file is wrong: a code list or head setting is missing or unreadable."""


@dataclass(frozen=True)
class Mapping:
    """The [unsure] part, from the mapping file."""

    asid: str
    digital_sign: str  # "sha256" or "none"
    rec_type: dict[str, str]  # ApplicationKind value → RecType
    codes: dict[str, dict[str, str]]  # code list → (our value → national code)
    reg_org: dict[str, str]  # county code → RegOrgID
    source: str

    def code(self, lists: str, value: Any) -> str | None:
        """EXCHANGE-5: our value → the national code of list `lists` (None stays None)."""
        if value is None:
            return None
        key = value.value if hasattr(value, "value") else str(value)
        table = SURE_CODES.get(lists) or self.codes.get(lists)
        if table is None:
            raise MappingError(f"no code list {lists} in {self.source}")
        if key in table:
            return table[key]
        if "*" in table:  # the list's default for values it does not name
            return table["*"]
        raise MappingError(f"code list {lists} in {self.source} has no code for {key!r}")


@lru_cache(maxsize=8)
def load_mapping(path: str | None = None) -> Mapping:
    """The mapping file (default: mapping.toml beside this module)."""
    file = Path(path) if path else DEFAULT_MAPPING_FILE
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
        head = data["head"]
        mapping = Mapping(asid=str(head["asid"]), digital_sign=str(head["digital_sign"]),
                          rec_type={k: str(v) for k, v in data["rec_type"].items()},
                          codes={name: {k: str(v) for k, v in values.items()}
                                 for name, values in data["codes"].items()},
                          reg_org={k: str(v) for k, v in data.get("reg_org", {}).items()},
                          source=str(file))
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise MappingError(f"exchange mapping file {file}: {exc!r}") from exc
    missing = [k.value for k in ApplicationKind if k.value not in mapping.rec_type]
    if missing:
        raise MappingError(f"{file}: no RecType for {', '.join(missing)}")
    if mapping.digital_sign not in ("sha256", "none"):
        raise MappingError(f"{file}: digital_sign must be sha256 or none")
    return mapping


def text_of(column: Column, value: Any) -> str | None:
    """A column's value as its XML attribute / CSV field says it."""
    if value is None or value == "":
        return None
    if column.type == "datetime":
        return value.isoformat(timespec="seconds")
    if column.type == "date":
        return value.isoformat()
    if column.type == "decimal":
        return format(Decimal(value), "f")
    text = str(value)
    if column.length is not None and len(text) > column.length:
        text = text[:column.length]
    return text


def row_of(mapping: Mapping, table: Table, facts: dict[str, Any]) -> dict[str, str]:
    """One exchange row from the facts of one register object (only the columns held)."""
    row: dict[str, str] = {}
    for column in table.columns:
        if column.source is None:
            continue
        value = facts.get(column.source)
        if column.code is not None:
            value = mapping.code(column.code, value)
        rendered = text_of(column, value)
        if rendered is not None:
            row[column.name] = rendered
    return row


XSD_TYPES = {"string": "xs:string", "int": "xs:integer", "decimal": "xs:decimal",
             "date": "xs:date", "datetime": "xs:dateTime"}
HEAD_ELEMENTS = (  # (name, type, required) in the order the Head carries them [sure]
    ("BizMsgID", "BizMsgID", True), ("ASID", "xs:string", True),
    ("AreaCode", "AreaCode", True), ("RecType", "xs:string", True),
    ("RightType", "xs:string", True), ("RegType", "xs:string", True),
    ("CreateDate", "xs:dateTime", True), ("RecFlowID", "RecFlowID", True),
    ("RegOrgID", "xs:string", True), ("ParcelID", "xs:string", False),
    ("EstateNum", "EstateNum", False), ("PreEstateNum", "xs:string", False),
    ("PreCertID", "xs:string", False), ("CertCount", "xs:nonNegativeInteger", True),
    ("ProofCount", "xs:nonNegativeInteger", True), ("DigitalSign", "xs:string", True),
)


def render_xsd() -> str:
    """The XSD of the per-recording message, from this module (kept as exchange.xsd)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           "<!-- Generated from registry/services/exchange/mapping.py (render_xsd); a test"
           " checks the two agree. -->",
           '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
           'elementFormDefault="qualified">',
           '  <xs:simpleType name="BizMsgID"><xs:restriction base="xs:string">'
           '<xs:pattern value="[0-9]{18}"/></xs:restriction></xs:simpleType>',
           '  <xs:simpleType name="AreaCode"><xs:restriction base="xs:string">'
           '<xs:pattern value="[0-9]{6}"/></xs:restriction></xs:simpleType>',
           '  <xs:simpleType name="RecFlowID"><xs:restriction base="xs:string">'
           '<xs:minLength value="1"/><xs:maxLength value="50"/></xs:restriction>'
           "</xs:simpleType>",
           '  <xs:simpleType name="EstateNum"><xs:restriction base="xs:string">'
           '<xs:minLength value="6"/><xs:maxLength value="28"/></xs:restriction>'
           "</xs:simpleType>",
           '  <xs:element name="Message">', "    <xs:complexType><xs:sequence>",
           '      <xs:element name="Head"><xs:complexType><xs:sequence>']
    for name, type_, required in HEAD_ELEMENTS:
        occurs = "" if required else ' minOccurs="0"'
        out.append(f'        <xs:element name="{name}" type="{type_}"{occurs}/>')
    out += ["      </xs:sequence></xs:complexType></xs:element>",
            '      <xs:element name="Data"><xs:complexType>'
            '<xs:choice minOccurs="0" maxOccurs="unbounded">']
    for table in TABLES.values():
        out.append(f'        <xs:element name="{table.name}"><xs:complexType>')
        for column in table.columns:
            if column.length is not None and column.type == "string":
                out.append(f'          <xs:attribute name="{column.name}"><xs:simpleType>'
                           f'<xs:restriction base="xs:string"><xs:maxLength '
                           f'value="{column.length}"/></xs:restriction></xs:simpleType>'
                           "</xs:attribute>")
            else:
                type_, use = (("RecFlowID", ' use="required"') if column is YWH
                              else (XSD_TYPES[column.type], ""))
                out.append(f'          <xs:attribute name="{column.name}" '
                           f'type="{type_}"{use}/>')
        out.append("        </xs:complexType></xs:element>")
    out += ["      </xs:choice></xs:complexType></xs:element>",
            "    </xs:sequence></xs:complexType>", "  </xs:element>", "</xs:schema>", ""]
    return "\n".join(out)
