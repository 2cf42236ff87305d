-- Hand EXPLAINs for bench/scale.py --explain (experiment runs only): the holdings audit's
-- statement (registry/services/audit_holdings.py, holding_page) for 平昌县 from a cursor, as
-- the server sends it, and the same question rewritten (not in the application).
-- 1. as holding_page builds it
SELECT u.code AS unit_code, u.kind::text AS unit_kind, u.county_code, u.township_code,
       u.location, p.land_use_system, p.land_use_code, p.code AS parcel_code,
       round(p.area / greatest(1, (SELECT count(*) FROM units o
                                    WHERE o.parcel_id = u.parcel_id
                                      AND o.status <> 'cancelled')), 2) AS land_area,
       coalesce(u.floor_area, u.space_area) AS floor_area, u.book_value,
       pa.id AS party_id, pa.name AS holder_name, pa.kind::text AS holder_kind,
       pa.id_type::text AS id_type, pa.id_number,
       r.co_ownership::text AS co_ownership, h.share_numerator, h.share_denominator,
       r.certificate_number, r.begun_at,
       EXISTS (SELECT 1 FROM rights x WHERE x.burdened_right_id = r.id AND x.kind = 'mortgage'
               AND x.status = 'current' AND (x.lapses_at IS NULL OR x.lapses_at > now())) AS mortgaged,
       EXISTS (SELECT 1 FROM rights x WHERE x.burdened_right_id = r.id AND x.kind = 'seizure'
               AND x.status = 'current' AND (x.lapses_at IS NULL OR x.lapses_at > now())) AS seized
  FROM units u
  JOIN rights r ON r.unit_id = u.id AND r.kind = 'title' AND r.status = 'current'
  JOIN right_holders h ON h.right_id = r.id
  JOIN parties pa ON pa.id = h.party_id
  JOIN parcels p ON p.id = u.parcel_id
 WHERE u.county_code = ANY('{511923}') AND (u.code, pa.id) > ('511923101002JC50000F00010001', 0)
 ORDER BY u.code, pa.id LIMIT 101;
-- 2. rewritten: the cursor's code also as a bound the index can start from (u.code >= …),
--    and the per-row subqueries evaluated on the page of 101 only (after the LIMIT)
SELECT page.*,
       round(page.parcel_area / greatest(1, (SELECT count(*) FROM units o
                                              WHERE o.parcel_id = page.parcel_id
                                                AND o.status <> 'cancelled')), 2) AS land_area,
       EXISTS (SELECT 1 FROM rights x WHERE x.burdened_right_id = page.right_id
               AND x.kind = 'mortgage' AND x.status = 'current'
               AND (x.lapses_at IS NULL OR x.lapses_at > now())) AS mortgaged,
       EXISTS (SELECT 1 FROM rights x WHERE x.burdened_right_id = page.right_id
               AND x.kind = 'seizure' AND x.status = 'current'
               AND (x.lapses_at IS NULL OR x.lapses_at > now())) AS seized
  FROM (SELECT u.code AS unit_code, u.kind::text AS unit_kind, u.county_code, u.township_code,
               u.location, p.land_use_system, p.land_use_code, p.code AS parcel_code,
               p.area AS parcel_area, u.parcel_id, r.id AS right_id,
               coalesce(u.floor_area, u.space_area) AS floor_area, u.book_value,
               pa.id AS party_id, pa.name AS holder_name, pa.kind::text AS holder_kind,
               pa.id_type::text AS id_type, pa.id_number,
               r.co_ownership::text AS co_ownership, h.share_numerator, h.share_denominator,
               r.certificate_number, r.begun_at
          FROM units u
          JOIN rights r ON r.unit_id = u.id AND r.kind = 'title' AND r.status = 'current'
          JOIN right_holders h ON h.right_id = r.id
          JOIN parties pa ON pa.id = h.party_id
          JOIN parcels p ON p.id = u.parcel_id
         WHERE u.county_code = ANY('{511923}') AND u.code >= '511923101002JC50000F00010001'
           AND (u.code, pa.id) > ('511923101002JC50000F00010001', 0)
         ORDER BY u.code, pa.id LIMIT 101) AS page
 ORDER BY page.unit_code, page.party_id;
