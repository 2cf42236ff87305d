"""Registration (登记): one module per part of a case's life and per family of kinds.

- applications.py: submission and the workflow's steps (CASE-1..4), preconditions;
- recording.py: 登簿, one transaction and one register entry per case;
- certificates.py: certificate and proof numbers (CERT-1), 缮证/发证;
- rights.py: what stands on a unit now, lapses (RESTRICT-1);
- encumbrances.py: 居住权, 地役权, mortgage mode, rank, change and transfer (RESIDENCE-*,
  EASEMENT-*, MORTGAGE-*);
- advance_notices.py: 预告登记转本登记 (ADVANCE-1/2);
- replacement.py: 换证/补证 (CERT-2/3);
- seizures.py: court-commissioned seizures and their queue (SEIZURE-1..4);
- splits.py: 分割/合并 of parcels and units, lineage, rights carried (SPLIT-1..8, MERGE-1).
The kinds and their rules for users: docs/registration.md.
"""
