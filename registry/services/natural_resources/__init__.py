"""Natural-resource registration (自然资源统一确权登记), one module per job:

- units.py       registration units: pre-delimit, validate, change as new versions (NRUNIT-*)
- land_cover.py  import of a 三调 land-cover layer (COPY to staging, SQL checks, rejects)
- areas.py       the area of each resource type inside a unit, by intersection in PostGIS
- procedure.py   the case: 预划 → 通告 → 调查 → 审核 → 公告 (objections) → 登簿
- links.py       关联信息: real-estate rights inside a unit, licences, public-control zones
- attributes.py  per-type attributes land cover cannot give (水质, 蓄积量 …)

Tables and database rules: registry/db/natural_resources.py (migration 0017).
"""
