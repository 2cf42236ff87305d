"""A county bureau's staff, working through GraphQL as the front end does.

Tests read like a clerk's day: the clerk stores parcels and units and takes applications in,
scans the papers the case needs (要件) and accepts it, the reviewer reviews, the registrar
records. Geometry is made of squares in Bazhong's CRS
(EPSG:4545) around each county's seat, so parcels land where they should.
"""

from __future__ import annotations

import io
import itertools
from functools import cache
from typing import Any

from PIL import Image, ImageDraw

from registry.codes import credit_code_check_char, resident_id_check_char
from tests.conftest import GraphQLClient, Users
from tests.operations import operation

# Each county seat in EPSG:4545 (metres): x east, y north.
SEATS = {
    "511902": (383_600.0, 3_527_000.0),
    "511903": (370_300.0, 3_520_500.0),
    "511921": (429_000.0, 3_532_100.0),
    "511922": (389_900.0, 3_581_300.0),
    "511923": (414_600.0, 3_493_400.0),
}
# A township (cadastral district) of each county, as seeded by migration 0001.
TOWNSHIP = {"511902": "101", "511903": "101", "511921": "101", "511922": "101",
            "511923": "101"}

_serial = itertools.count(1)


def square(county: str, slot: int, size: float = 20.0, dx: float = 0.0,
           dy: float = 0.0) -> dict[str, Any]:
    """A size × size m square, the `slot`-th on a grid near the county seat (EPSG:4545)."""
    x0, y0 = SEATS[county]
    x = x0 + (slot % 50) * 40.0 + dx
    y = y0 + (slot // 50) * 40.0 + dy
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def resident_id(region: str = "511923", birth: str = "19800101",
                sequence: int | None = None) -> str:
    seq = f"{(sequence if sequence is not None else next(_serial)) % 1000:03d}"
    first17 = region + birth + seq
    return first17 + resident_id_check_char(first17)


def credit_code(prefix: str = "91", region: str = "511923") -> str:
    """A valid 统一社会信用代码: authority and category (91 enterprise, 11 government body,
    12 public institution), region, a fresh 9-digit organisation code, check character."""
    first17 = f"{prefix}{region}{next(_serial):09d}"
    return first17 + credit_code_check_char(first17)


def person(name: str, number: str | None = None) -> dict[str, Any]:
    return {"kind": "PERSON", "name": name, "idType": "RESIDENT_ID",
            "idNumber": number or resident_id()}


PREFIX_OF_KIND = {"ENTERPRISE": "91", "GOVERNMENT": "11", "PUBLIC_INSTITUTION": "12"}


def organisation(name: str, kind: str = "ENTERPRISE") -> dict[str, Any]:
    return {"kind": kind, "name": name, "idType": "CREDIT_CODE",
            "idNumber": credit_code(PREFIX_OF_KIND.get(kind, "91"))}


@cache
def scan(label: str = "申请书", size: tuple[int, int] = (62, 88), fmt: str = "PNG") -> bytes:
    """A small generated page (an A4 ratio), different for each label."""
    page = Image.new("L", size, 255)
    draw = ImageDraw.Draw(page)
    draw.rectangle((4, 4, size[0] - 5, 12), fill=0)
    draw.text((6, 20), str(abs(hash(label)) % 10_000), fill=0)
    out = io.BytesIO()
    page.save(out, format=fmt)
    return out.getvalue()


class Bureau:
    """Staff of one county: a clerk, a reviewer and a registrar, each with a token."""

    def __init__(self, gql: GraphQLClient, users: Users, county: str, prefix: str = "") -> None:
        self.gql = gql
        self.county = county
        tag = prefix or county
        self.clerk = users.add(f"{tag}-clerk", "clerk", county=county)
        self.reviewer = users.add(f"{tag}-reviewer", "reviewer", county=county)
        self.registrar = users.add(f"{tag}-registrar", "registrar", county=county)
        self._slots = itertools.count(0)
        self._parcels = itertools.count(1)

    # ------------------------------------------------------------------ parcels and units

    def parcel_code(self, feature: str = "JC", district: str | None = None,
                    sub_district: str = "003") -> str:
        return (f"{self.county}{district or TOWNSHIP[self.county]}{sub_district}{feature}"
                f"{next(self._parcels):05d}")

    def create_parcel(self, feature: str = "JC", land_use: str = "0702", **extra: Any) -> dict:
        geometry = extra.pop("geometry", None) or square(self.county, next(self._slots))
        data = {"code": extra.pop("code", None) or self.parcel_code(feature),
                "geometry": geometry, "crs": extra.pop("crs", 4545),
                "landUseCode": land_use, "location": extra.pop("location", "巴中市某村"),
                **extra}
        return self.gql.data(operation("CreateParcel"), {"input": data},
                             self.clerk)["createParcel"]

    def create_unit(self, parcel_code: str, kind: str, **extra: Any) -> dict:
        data = {"parcelCode": parcel_code, "kind": kind, **extra}
        return self.gql.data(operation("CreateUnit"), {"input": data}, self.clerk)["createUnit"]

    def rural_house(self, building_no: int = 1) -> dict:
        parcel = self.create_parcel("JC", "0702")["parcel"]
        return self.create_unit(parcel["code"], "RURAL_HOUSE", buildingNo=building_no, unitNo=1,
                                house={"floors": 2, "structure": "砖混", "floorArea": "126.50"})

    def road(self) -> dict:
        parcel = self.create_parcel("GB", "1003")["parcel"]
        return self.create_unit(parcel["code"], "INFRASTRUCTURE", landOnly=True,
                                infrastructure={"category": "ROAD",
                                                "managingBody": "平昌县交通运输局",
                                                "lengthM": "1250.00",
                                                "bookValue": "3800000.00",
                                                "completionYear": 2015})

    def parking_space(self, space: int = 1, garage_parcel: str | None = None) -> dict:
        if garage_parcel is None:
            garage_parcel = self.create_parcel(
                "GX", "0701", layer="UNDERGROUND", elevationBottom="-9.00",
                elevationTop="-1.00")["parcel"]["code"]
        return self.create_unit(garage_parcel, "PARKING_SPACE", buildingNo=1, unitNo=space,
                                parkingSpace={"garage": "滨江花园地下车库", "level": -1,
                                              "spaceNo": f"B1-{space:03d}", "area": "12.50"})

    # ------------------------------------------------------------------ the workflow

    def submit(self, kind: str, unit_codes: list[str], **extra: Any) -> dict:
        data = {"kind": kind, "unitCodes": unit_codes, **extra}
        return self.gql.data(operation("SubmitApplication"), {"input": data},
                             self.clerk)["submitApplication"]

    def upload(self, kind: str, data: bytes | None = None, name: str = "scan.png",
               as_: dict[str, str] | None = None, **target: str) -> dict:
        """Scan a paper of `kind` into the registry (multipart upload), linked to `target`
        (applicationNumber, unitCode and/or parcelCode)."""
        body = self.gql.upload(operation("UploadDocument"), {"kind": kind, "target": target},
                               {"file": (name, data if data is not None else scan())},
                               as_ or self.clerk)
        assert "errors" not in body, body["errors"]
        return body["data"]["uploadDocument"]

    def documents(self, number: str) -> dict:
        return self.gql.data(operation("ApplicationDocuments"), {"number": number},
                             self.clerk)["application"]

    def attach_required(self, number: str) -> list[dict]:
        """Scan every paper the case still lacks (one generated page each)."""
        missing = self.documents(number)["missingDocumentKinds"]
        return [self.upload(kind, applicationNumber=number) for kind in missing]

    def accept(self, number: str) -> dict:
        """受理: the clerk scans the papers the case needs, then accepts it."""
        self.attach_required(number)
        return self.gql.data(operation("AcceptApplication"), {"number": number},
                             self.clerk)["acceptApplication"]

    def review(self, number: str) -> dict:
        return self.gql.data(operation("ReviewApplication"), {"number": number, "comment": "符合"},
                             self.reviewer)["reviewApplication"]

    def record(self, number: str) -> dict:
        return self.gql.data(operation("RecordApplication"), {"number": number},
                             self.registrar)["recordApplication"]

    def print_papers(self, number: str) -> list[dict]:
        """缮证: print every certificate and proof of the recorded case (on blank paper)."""
        case = self.gql.data(operation("Application"), {"number": number},
                             self.registrar)["application"]
        return [self.gql.data(operation("PrintPaper"), {"input": {"number": c["number"]}},
                              self.registrar)["printPaper"] for c in case["certificates"]]

    def certify(self, number: str) -> dict:
        """The papers printed, then the case certified (PRINT-4)."""
        self.print_papers(number)
        return self.gql.data(operation("CertifyApplication"), {"number": number},
                             self.registrar)["certifyApplication"]

    def register(self, kind: str, unit_codes: list[str], **extra: Any) -> dict:
        """The whole way: submit, accept, review, record. Returns the recorded case."""
        number = self.submit(kind, unit_codes, **extra)["number"]
        self.accept(number)
        self.review(number)
        return self.record(number)

    def unit(self, code: str, as_: dict[str, str] | None = None) -> dict:
        return self.gql.data(operation("Unit"), {"code": code}, as_ or self.clerk)["unit"]
