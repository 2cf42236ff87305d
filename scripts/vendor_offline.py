"""Removes outside addresses from vendored front-end files (scripts/update-graphiql.sh).

Every `http(s)://…` or protocol-relative `//host/…` address in a .js/.css file becomes "#",
except the namespace names below: they identify a vocabulary (what createElementNS and JSON
Schema compare against) and are never fetched. Exits 1 if an address survives.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

NAMESPACE_NAMES = frozenset({
    "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xhtml",
    "http://www.w3.org/1998/Math/MathML", "http://www.w3.org/1999/xlink",
    "http://www.w3.org/XML/1998/namespace", "http://www.w3.org/2000/xmlns/",
    "http://json-schema.org/draft-04/schema",
})
ADDRESS = re.compile(r"""https?://[^\s"'`)<>\\]+|(?<=["'(])//[a-z0-9-]+\.[a-z0-9.-]+[^\s"'`)<>\\]*""",
                     re.IGNORECASE)


def strip(text: str) -> str:
    return ADDRESS.sub(lambda m: m.group(0) if m.group(0) in NAMESPACE_NAMES else "#", text)


def main(folder: str) -> int:
    left = []
    for path in sorted(Path(folder).glob("*")):
        if path.suffix in {".js", ".css"}:
            text = strip(path.read_text(encoding="utf-8"))
            path.write_text(text, encoding="utf-8")
            left += [f"{path.name}: {a}" for a in ADDRESS.findall(text) if a not in NAMESPACE_NAMES]
    print("\n".join(left) or "no outside addresses left", file=sys.stderr)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
