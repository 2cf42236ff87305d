"""Typesetting papers with typst (PAPER-1).

- PAPER-1 Every PDF embeds the fonts it uses (subset), taken only from FONT_DIRS: system fonts
  are ignored, so a paper looks the same on every machine and depends on no font of the
  reader's. Templates are files of this package; nothing is fetched (typst packages, images,
  fonts) from outside the machine: a template may only import files beside it.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import typst

from registry.services.errors import DomainError

# Debian's fonts-noto-cjk (serif for the papers), then WenQuanYi as the fallback of the charts.
FONT_DIRS = (Path("/usr/share/fonts/opentype/noto"), Path("/usr/share/fonts/truetype/wqy"))
CJK_FAMILIES = ("Noto Serif CJK SC", "Noto Sans CJK SC", "WenQuanYi Micro Hei")
TEMPLATES = resources.files("registry.papers") / "templates"


class Typesetter:
    """One typst compiler with the fonts loaded once; compiles are serialised (the compiler
    object is not documented as thread-safe, and a compile takes milliseconds)."""

    def __init__(self, font_dirs: tuple[Path, ...] = FONT_DIRS) -> None:
        found = [str(d) for d in font_dirs if d.is_dir()]
        fonts = typst.Fonts(include_system_fonts=False, include_embedded_fonts=False,
                            font_paths=found)
        self.families = frozenset(fonts.families())
        if not self.families.intersection(CJK_FAMILIES):
            raise DomainError("NO_CJK_FONT",
                              "未找到中文字体，无法生成证书（请安装 fonts-noto-cjk）",
                              "no CJK font found: install fonts-noto-cjk",
                              {"searched": [str(d) for d in font_dirs]})
        self._compiler = typst.Compiler(root=str(TEMPLATES), font_paths=fonts,
                                        ignore_system_fonts=True)
        self._lock = threading.Lock()

    def pdf(self, template: str, data: dict[str, Any], *, created: datetime) -> bytes:
        """`templates/<template>.typ` with `data` as its input, as PDF bytes."""
        source = (TEMPLATES / f"{template}.typ").read_bytes()
        inputs = {"data": json.dumps(data, ensure_ascii=False, default=str)}
        with self._lock:
            result = self._compiler.compile(input=source, format="pdf", sys_inputs=inputs,
                                            timestamp=created.replace(microsecond=0))
        assert isinstance(result, bytes)
        return result


@cache
def typesetter() -> Typesetter:
    """The process's typesetter (fonts read on first use)."""
    return Typesetter()
