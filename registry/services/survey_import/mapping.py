"""The attribute mapping of docs/survey-import.md: which columns of the files are read as which
field, which of them are required, and the accepted spellings of the enumerated values. Reading
(reading.py) matches the columns; checking (checking.py) maps the values.
"""

from __future__ import annotations

DEFAULT_LAND_USE_SYSTEM = "GB/T 21010-2017"  # YTFL, when the file has none

# canonical name → accepted column names (case-insensitive): the national database standard's
# field name first, then an English alias. docs/survey-import.md lists them with meanings.
PARCEL_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("ZDDM", "parcel_code"),
    "land_use_code": ("TDYT", "land_use"),
    "land_use_system": ("YTFL", "land_use_system"),
    "location": ("ZL", "location"),
    "declared_area": ("ZDMJ", "declared_area"),
    "elevation_bottom": ("QSGC", "elevation_bottom"),
    "elevation_top": ("ZZGC", "elevation_top"),
}
UNIT_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("BDCDYH", "unit_code"),
    "kind": ("DYLX", "kind"),
    "location": ("ZL", "location"),
    "structure": ("FWJG", "structure"),
    "floors": ("ZCS", "floors"),
    "floor_area": ("JZMJ", "floor_area"),
    "category": ("SSLB", "category"),
    "managing_body": ("GLDW", "managing_body"),
    "length_m": ("CD", "length_m"),
    "capacity": ("GM", "capacity"),
    "book_value": ("ZMJZ", "book_value"),
    "completion_year": ("JCNF", "completion_year"),
    "garage": ("CK", "garage"),
    "level": ("SZC", "level"),
    "space_no": ("CWH", "space_no"),
    "space_area": ("CWMJ", "space_area"),
    "civil_defence": ("RFCW", "civil_defence"),
}
REQUIRED_PARCEL_COLUMNS = ("code", "land_use_code")
REQUIRED_UNIT_COLUMNS = ("code", "kind")
KIND_VALUES = {"rural_house": "rural_house", "农房": "rural_house", "房地一体": "rural_house",
               "宅基地及房屋": "rural_house",
               "infrastructure": "infrastructure", "基础设施": "infrastructure",
               "公共基础设施": "infrastructure",
               "parking_space": "parking_space", "车位": "parking_space"}
CATEGORY_VALUES = {"road": "road", "道路": "road", "公路": "road", "bridge": "bridge",
                   "桥梁": "bridge", "tunnel": "tunnel", "隧道": "tunnel", "water": "water",
                   "水利": "water", "水利设施": "water", "park": "park", "公园": "park",
                   "公园绿地": "park", "other": "other", "其他": "other"}
BOOLEAN_VALUES = {"": "false", "0": "false", "false": "false", "no": "false", "n": "false",
                  "否": "false", "1": "true", "true": "true", "yes": "true", "y": "true",
                  "是": "true"}
