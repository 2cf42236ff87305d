"""What a natural-resource recording writes into the register beside the unit and its ownership
(NRCASE-7): the unit's natural state and its links at that moment.

- NRREG-1 The entry body holds `areas` (NRAREA-1..4: hectares of each resource type with its
  polygon count, the natural-resource, non-resource and uncovered totals), `real_estate_links`
  (NRLINK-3: ID numbers masked), `licences` (the current entered links), `control_zones`
  (NRLINK-6) and `attributes` (NRATTR: the current per-type values). The register keeps what
  was true when the registrar recorded; the live links and areas (services/natural_resources/
  links.py, areas.py) keep changing with the land cover and the real-estate register.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from registry.codes.natural_resources import ResourceType
from registry.db.natural_resources import NaturalUnit
from registry.services.natural_resources.areas import ResourceAreas, resource_areas
from registry.services.natural_resources.attributes import attributes_of
from registry.services.natural_resources.links import (
    control_zone_links,
    licence_links,
    link_snapshot,
)


def areas_json(areas: ResourceAreas) -> dict[str, Any]:
    """NRAREA figures as a register entry and the API give them (hectares as text)."""
    return {
        "unit_area_ha": str(areas.unit_area_ha),
        "types": [{"type": kind.value, "label_zh": kind.label_zh,
                   "area_ha": str(areas.by_type[kind].area_ha),
                   "polygons": areas.by_type[kind].polygons} for kind in ResourceType],
        "natural_total_ha": str(areas.natural_resource_ha),
        "non_resource_ha": str(areas.non_resource_ha),
        "covered_ha": str(areas.covered_ha), "uncovered_ha": str(areas.uncovered_ha),
    }


def recorded_state(session: Session, unit: NaturalUnit) -> dict[str, Any]:
    """NRREG-1 for the unit's version being recorded."""
    licences = [{"kind": link.kind.value, "label_zh": link.kind.label_zh,
                 "licence_no": link.licence_no, "holder": link.holder,
                 "location": link.location,
                 "valid_from": None if link.valid_from is None else link.valid_from.isoformat(),
                 "valid_to": None if link.valid_to is None else link.valid_to.isoformat(),
                 "authority": link.authority} for link in licence_links(session, unit.code)]
    zones = [{"kind": z.kind.value, "label_zh": z.kind.label_zh, "block_no": z.block_no,
              "name": z.name, "content": z.content, "overlap_ha": str(z.overlap_ha),
              "designated_on": None if z.designated_on is None else z.designated_on.isoformat(),
              "authority": z.authority} for z in control_zone_links(session, unit.code)]
    return {
        "areas": areas_json(resource_areas(session, unit.id)),
        "real_estate_links": link_snapshot(session, unit.code),
        "licences": licences,
        "control_zones": zones,
        "attributes": {a.resource_type: a.attributes for a in attributes_of(session, unit.code)},
    }
