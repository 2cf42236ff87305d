"""Completion figures as a text table, CSV or XLSX (one row per part, then the total)."""

from __future__ import annotations

import csv
import io
from typing import Any

from registry.services.statistics import Completion, Figures

HEADER = [("code", "区划代码"), ("name", "名称"), ("due", "应登记"), ("recorded", "已登簿"),
          ("certified", "已发证"), ("in_progress", "在办"), ("disputed", "有异议"),
          ("rate", "完成率"), ("target", "年度目标"), ("backlog", "欠帐")]


def _cells(f: Figures) -> list[Any]:
    data = f.as_dict()
    return [data[name] for name, _ in HEADER]


def rows_of(report: Completion) -> list[list[Any]]:
    return [_cells(p) for p in report.parts] + [_cells(report.total)]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def render_completion(report: Completion, fmt: str) -> str | bytes:
    title = f"{report.kind.label_zh}（{report.kind.name}）截至 {report.as_of.isoformat()}"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([label for _, label in HEADER])
        writer.writerows([[_text(v) for v in row] for row in rows_of(report)])
        return out.getvalue()
    if fmt == "table":
        cells = [[label for _, label in HEADER]] + [[_text(v) for v in row]
                                                    for row in rows_of(report)]
        widths = [max(_width(row[i]) for row in cells) for i in range(len(HEADER))]
        lines = [title]
        for index, row in enumerate(cells):
            lines.append("  ".join(v + " " * (w - _width(v)) for v, w in zip(row, widths,
                                                                           strict=True)))
            if index == 0 or index == len(cells) - 2:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines) + "\n"
    if fmt == "xlsx":
        from openpyxl import Workbook

        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None
        sheet.title = "完成率"
        sheet.append([label for _, label in HEADER])
        for row in rows_of(report):
            sheet.append([float(v) if hasattr(v, "as_integer_ratio") and not isinstance(v, int)
                          else v for v in row])
        sheet.append([])
        sheet.append([title])
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()
    raise ValueError(fmt)


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
