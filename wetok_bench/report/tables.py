"""Table rendering: one :class:`Table` model, written as Markdown, CSV, LaTeX (booktabs) or HTML.

Leaderboards and paper tables both become a :class:`Table`; the writers here know nothing of
metrics. A cell carries its display text, an optional +- part, an optional mark (``†``) and a
raw sort value (the HTML table sorts on it when a header is clicked).
"""

from __future__ import annotations

import html
import io
import math
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from wetok_bench.report.leaderboard import Column, Leaderboard, Row, metric_keys

DASH = "–"


@dataclass(frozen=True)
class Cell:
    """One table cell: ``text`` [+- ``pm``] [``mark``]; ``value`` is what sorting compares."""

    text: str
    value: Any = None
    pm: str | None = None
    mark: str = ""

    def plain(self, pm_symbol: str = "±") -> str:
        out = self.text if self.pm is None else f"{self.text} {pm_symbol} {self.pm}"
        return out + self.mark


@dataclass
class Table:
    """A titled table with headers, rows of cells and notes printed under it."""

    title: str
    headers: list[str]
    numeric: list[bool]
    rows: list[list[Cell]]
    notes: list[str] = field(default_factory=list)
    table_id: str = ""


def format_number(value: float | None, decimals: int | None) -> str:
    """A number for display: dash for missing, ``inf`` kept, thousands separators for integers."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if decimals == 0:
        return f"{value:,.0f}"
    return f"{value:.{decimals if decimals is not None else 3}f}"


def _leaderboard_cell(row: Row, column: Column) -> Cell:
    value = row.value(column.key)
    if not column.numeric:
        return Cell(str(value) if value not in (None, "") else DASH, str(value or ""))
    mark = "†" if column.key in row.unreliable else ""
    if column.key in row.stats and row.stats[column.key] is not None:
        stat = row.stats[column.key]
        pm = None if stat.half_width is None else format_number(stat.half_width, column.decimals)
        return Cell(format_number(stat.mean, column.decimals), stat.mean, pm=pm, mark=mark)
    return Cell(format_number(value, column.decimals), value, mark=mark)


def leaderboard_table(board: Leaderboard, part: str = "all") -> Table:
    """The display table of a leaderboard (rows in the board's order). ``part``: ``all`` columns
    (the files), ``main`` (the page: tokenizer, compression, the metrics, images) or ``details``
    (the page's second table: the tokenizer's codes and cost, :attr:`Column.detail`)."""
    columns = {"all": board.columns, "main": [c for c in board.columns if not c.detail],
               "details": [c for c in board.columns if c.detail or c.key == "tokenizer"]}[part]
    return Table(
        title=board.title if part != "details" else f"{board.title}: codes and cost",
        headers=[c.header for c in columns],
        numeric=[c.numeric for c in columns],
        rows=[[_leaderboard_cell(r, c) for c in columns] for r in board.rows],
        notes=list(board.notes) if part != "details" else [],
        table_id=f"leaderboard-{board.slug}" + ("" if part != "details" else "-details"),
    )


def leaderboard_frame(board: Leaderboard) -> pd.DataFrame:
    """Raw numbers of a leaderboard (full precision, interval bounds in their own columns)."""
    records = []
    # keys with infinite per-image values somewhere (PSNR of lossless images): their count is a column
    infinite = {key for row in board.rows for key, stat in row.stats.items() if stat is not None and stat.n_infinite}
    set_keys = {key.name for key in metric_keys([row.job for row in board.rows]) if not key.per_image}
    for row in board.rows:
        record: dict[str, Any] = {
            "tokenizer": row.tokenizer,
            "name": row.name,
            "family": row.family,
            "type": row.kind,
            "tokens": row.tokens,
            "codebook_or_latent": row.shape,
            "bits_per_image": row.bits,
            "compression_ratio": row.ratio,
        }
        for metric, stat in row.stats.items():
            record[metric] = None if stat is None else stat.mean
            if metric in set_keys:
                record[f"{metric}_unreliable"] = metric in row.unreliable
                continue
            record[f"{metric}_ci_low"] = None if stat is None else stat.low
            record[f"{metric}_ci_high"] = None if stat is None else stat.high
            if metric in infinite:
                record[f"{metric}_lossless_images"] = None if stat is None else stat.n_infinite
        record["images"] = row.images
        record["job"] = row.job.folder.name
        records.append(record)
    return pd.DataFrame.from_records(records)


def to_csv(board: Leaderboard) -> str:
    """CSV of :func:`leaderboard_frame` (``inf`` written as ``inf``)."""
    buffer = io.StringIO()
    leaderboard_frame(board).to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


#: What starts HTML markup in Markdown: ``<`` before a tag name, ``/``, ``!`` or ``?``, and ``&``
#: before an entity; a lone ``<`` (``N < 2048``) stays as it reads.
_MARKUP = re.compile(r"<(?=[A-Za-z/!?])|&(?=[#A-Za-z])")


def _md_escape(text: str) -> str:
    """Text for Markdown: ``|`` escaped, and what would start HTML markup as an entity, so a name
    such as ``<img onerror=...>`` shows as text in any Markdown renderer instead of HTML."""
    return _MARKUP.sub(lambda m: "&lt;" if m.group() == "<" else "&amp;", text).replace("|", "\\|")


def to_markdown(table: Table) -> str:
    """A GitHub-flavoured Markdown table with its title and notes (every text escaped: :func:`_md_escape`)."""
    lines = [f"### {_md_escape(table.title)}", ""]
    lines.append("| " + " | ".join(_md_escape(h) for h in table.headers) + " |")
    lines.append("|" + "|".join("---:" if n else ":---" for n in table.numeric) + "|")
    for row in table.rows:
        lines.append("| " + " | ".join(_md_escape(c.plain()) for c in row) + " |")
    if table.notes:
        lines.append("")
        lines.extend(f"- {_md_escape(n)}" for n in table.notes)
    return "\n".join(lines) + "\n"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "†": r"$^\dagger$", "±": r"$\pm$", "–": "--",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters (and map the few Unicode marks tables use)."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(table: Table) -> str:
    """A ``booktabs`` table (``\\toprule``/``\\midrule``/``\\bottomrule``); needs ``\\usepackage{booktabs}``."""
    spec = "".join("r" if n else "l" for n in table.numeric)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\caption{" + latex_escape(table.title) + "}",
        r"\begin{tabular}{" + spec + "}",
        r"\toprule",
        " & ".join(latex_escape(h) for h in table.headers) + r" \\",
        r"\midrule",
    ]
    for row in table.rows:
        cells = []
        for cell in row:
            text = latex_escape(cell.text)
            if cell.pm is not None:
                text = f"{text} $\\pm$ {latex_escape(cell.pm)}"
            cells.append(text + latex_escape(cell.mark))
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if table.notes:
        lines.append(r"\par\smallskip\footnotesize " + r" \\ ".join(latex_escape(n) for n in table.notes))
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def _sort_attr(cell: Cell) -> str:
    value = cell.value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return str(value)


def to_html(table: Table) -> str:
    """An HTML fragment: a ``table.sortable`` (the report's script sorts it on header clicks)."""
    out = [f'<section class="table-block" id="{html.escape(table.table_id)}">', f"<h3>{html.escape(table.title)}</h3>"]
    out.append('<div class="table-scroll"><table class="sortable"><thead><tr>')
    for header, numeric in zip(table.headers, table.numeric):
        kind = "num" if numeric else "text"
        out.append(f'<th data-type="{kind}" title="click to sort">{html.escape(header)}</th>')
    out.append("</tr></thead><tbody>")
    for row in table.rows:
        out.append("<tr>")
        for cell, numeric in zip(row, table.numeric):
            text = html.escape(cell.text)
            if cell.pm is not None:
                text += f' <span class="pm">± {html.escape(cell.pm)}</span>'
            text += html.escape(cell.mark)
            cls = ' class="num"' if numeric else ""
            out.append(f'<td{cls} data-sort="{html.escape(_sort_attr(cell))}">{text}</td>')
        out.append("</tr>")
    out.append("</tbody></table></div>")
    if table.notes:
        out.append('<ul class="notes">' + "".join(f"<li>{html.escape(n)}</li>" for n in table.notes) + "</ul>")
    out.append("</section>")
    return "\n".join(out)
