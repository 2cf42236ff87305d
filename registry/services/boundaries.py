"""Division boundaries (行政区划界线): the county and township lines the register checks
city- and county-level natural-resource units against (NRUNIT-5), loaded from a bureau's layer.

- BOUNDARY-1 Only an admin loads boundaries (they are city-wide reference data); the layer is
  read whole and a bad feature refuses it (LAYER-1/2 in services/layers.py).
- BOUNDARY-2 Each feature names a county or township the register knows (`UNKNOWN_DIVISION`,
  naming the feature); features of one division are its parts and are united.
- BOUNDARY-3 A division's loaded line replaces its previous one; `source` records the file's
  name and SHA-256 and, when given, what the bureau says it is (e.g. "2023年度国土变更调查").
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from registry.db.access import Role
from registry.db.reference import Division, DivisionLevel
from registry.services.access import Principal, audit, require
from registry.services.errors import InvalidInput
from registry.services.layers import cell, read_polygon_layer

BOUNDARY_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("code", "XZQDM", "行政区代码", "行政区划代码", "区划代码"),
    "name": ("name", "XZQMC", "行政区名称", "名称"),
}

REQUIRED = dict(code="行政区代码")  # canonical column → its name as users read it

UPSERT = text("""
INSERT INTO division_boundaries (code, geom, source, loaded_at)
SELECT p.code, ST_Multi(ST_Union(ST_GeomFromEWKT(p.ewkt))), :source, :now
  FROM unnest(CAST(:codes AS text[]), CAST(:ewkts AS text[])) AS p(code, ewkt)
 GROUP BY p.code
ON CONFLICT (code) DO UPDATE SET geom = EXCLUDED.geom, source = EXCLUDED.source,
                                 loaded_at = EXCLUDED.loaded_at
""")


def import_boundaries(session: Session, principal: Principal | None, path: Path, now: datetime,
                      crs: int | None = None, label: str = "",
                      request_id: str | None = None) -> list[str]:
    """BOUNDARY-1..3: load the layer at `path`; the division codes it gave lines to."""
    actor = require(principal, Role.ADMIN)
    layer = read_polygon_layer(session, path, crs, BOUNDARY_COLUMNS, REQUIRED)
    known = frozenset(session.scalars(select(Division.code).where(
        Division.level.in_([DivisionLevel.COUNTY, DivisionLevel.TOWNSHIP]))))
    codes = []
    for feature in layer.features:
        code = cell(feature.cells["code"])
        if code not in known:
            raise InvalidInput("UNKNOWN_DIVISION",
                               f"第 {feature.row} 个要素的行政区代码“{code}”不是已知的县或乡镇",
                               f"feature {feature.row}: {code!r} is not a known county or "
                               "township", row=feature.row, code=code)
        codes.append(code)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    source = f"{path.name} (sha256 {digest})" + (f": {label.strip()}" if label.strip() else "")
    session.execute(UPSERT, {"codes": codes, "ewkts": [f.geom for f in layer.features],
                             "source": source, "now": now})
    loaded = sorted(set(codes))
    audit(session, actor, "importBoundaries", "division_boundaries", request_id,
          {"file": path.name, "sha256": digest, "divisions": loaded})
    session.flush()
    return loaded
