"""Papers the bureau hands out (issue 14, ../shared/domain.md §12), typeset on the machine.

- `typeset.py`   typst with the CJK fonts embedded (PAPER-1)
- `records.py`   what a certificate or proof prints, read from the register (PAPER-2)
- `parcel_map.py` the 宗地图 drawn from PostGIS (MAP-1..)
- `templates/`   the typst templates, one per paper

Why typst: one compiler object holds the fonts once and compiles each paper without loading
them again, subsets and embeds every font it uses, and needs no browser engine or fontconfig at
run time; its templates are plain text files a bureau can adapt. (Its speed is for
bench/papers.py to measure; that bench is not written yet.)
"""
