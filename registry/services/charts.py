"""Charts of completion (PNG and SVG): the rate of each county against its target, and the
monthly trend. Drawn with matplotlib's Agg and SVG backends, no display needed.

County names are Chinese, so a CJK font is needed for PNG: the first of CJK_FONTS found on the
system is used (Debian's fonts-wqy-microhei, installed by scripts/system-deps.sh, or Noto CJK).
In SVG the names stay text (svg.fonttype "none"), so they can be searched and read aloud and
the viewer's own CJK font draws them.
"""

from __future__ import annotations

import io
import logging
import math
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal

from registry.services.statistics import Completion, Figures

log = logging.getLogger(__name__)

Format = Literal["png", "svg"]
FORMATS: tuple[Format, ...] = ("png", "svg")
CONTENT_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC",
             "SimHei", "Microsoft YaHei")
CJK_FONT_FILES = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
                  "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                  "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
NONE_DUE = "无应登记单元"  # a division with no unit due has no rate (STAT-4), not 0 %
_lock = threading.Lock()  # matplotlib's rcParams are process-wide


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of an installed CJK-capable font, or None."""
    from matplotlib import font_manager

    for path in CJK_FONT_FILES:
        if Path(path).exists():
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError):  # unreadable font file: try the next one
                continue
    available = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FONTS:
        if family in available:
            return family
    log.warning("no CJK font found: county names will not render in PNG charts "
                "(install fonts-wqy-microhei)")
    return None


def _render(draw: object, fmt: Format, size: tuple[float, float]) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    if fmt not in FORMATS:
        raise ValueError(fmt)
    family = cjk_font()
    params = {"svg.fonttype": "none", "font.family": "sans-serif",
              "font.sans-serif": [*([family] if family else []), "DejaVu Sans"],
              "axes.unicode_minus": False, "svg.hashsalt": "registry"}
    with _lock, matplotlib.rc_context(params):
        figure = Figure(figsize=size, dpi=100)
        draw(figure)  # type: ignore[operator]
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt, bbox_inches="tight",
                       metadata={"Date": None} if fmt == "svg" else None)
    return buffer.getvalue()


def rate_label(figures: Figures) -> str:
    """A rate as the chart writes it: "50.0%", or NONE_DUE where nothing is due."""
    return NONE_DUE if figures.rate is None else f"{float(figures.rate) * 100:.1f}%"


def completion_chart(report: Completion, fmt: Format) -> bytes:
    """Bars: each part's rate (%), with its target as a marker; the title names the date."""
    parts = report.parts

    def draw(figure: object) -> None:
        axes = figure.subplots()  # type: ignore[attr-defined]
        names = [p.name for p in parts]
        rates = [float(p.rate or 0) * 100 for p in parts]
        positions = range(len(parts))
        bars = axes.bar(positions, rates, color="#3b7dd8", label="完成率 rate")
        for bar, part in zip(bars, parts, strict=True):
            text = (NONE_DUE if part.rate is None
                    else f"{rate_label(part)}\n{part.recorded}/{part.due}")
            axes.annotate(text,
                          (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                          ha="center", va="bottom", fontsize=8)
        targets = [(i, float(p.target) * 100) for i, p in enumerate(parts) if p.target]
        if targets:
            axes.scatter([i for i, _ in targets], [t for _, t in targets], marker="_", s=900,
                         linewidths=3, color="#d62728", label="目标 target", zorder=3)
        axes.set_xticks(list(positions), names)
        axes.set_ylim(0, 110)
        axes.set_ylabel("%")
        axes.set_title(f"{report.total.name}{report.kind.label_zh}登记完成率"
                       f"（截至 {report.as_of.isoformat()}）  合计 {rate_label(report.total)}")
        axes.legend(loc="upper right", fontsize=8)

    return _render(draw, fmt, (max(6.0, 1.4 * len(parts) + 2), 4.5))


def trend_chart(series: Sequence[Completion], fmt: Format) -> bytes:
    """Lines: each part's rate (%) at every month's end, and the total dashed."""

    def draw(figure: object) -> None:
        axes = figure.subplots()  # type: ignore[attr-defined]
        months = [f"{c.as_of.month}月" for c in series]
        if series:
            for part in series[-1].parts:
                values = []
                for point in series:
                    same = next((p for p in point.parts if p.code == part.code), None)
                    # nothing due: no point (a gap in the line), not 0 %
                    values.append(float(same.rate) * 100 if same and same.rate is not None
                                  else math.nan)
                axes.plot(months, values, marker="o", label=part.name)
            axes.plot(months, [float(c.total.rate) * 100 if c.total.rate is not None
                               else math.nan for c in series], "k--",
                      marker="s", label=series[0].total.name)
            axes.set_title(f"{series[0].total.name}{series[0].kind.label_zh}登记完成率月度趋势"
                           f"（{series[0].as_of.year}年）")
        axes.set_ylim(0, 105)
        axes.set_ylabel("%")
        axes.legend(loc="upper left", fontsize=8)

    return _render(draw, fmt, (8.0, 4.5))
