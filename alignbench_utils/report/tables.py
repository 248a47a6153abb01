"""Tables for papers and for the report's pages.

A paper needs numbers it can paste: a leaderboard ranked by 总分, with a tier column and cells
like ``5.50 [5.38, 5.62]`` (estimate and bootstrap CI), written as CSV, Markdown and booktabs
LaTeX from one frame (:func:`write_table`; LaTeX through pandas' ``Styler.to_latex``, never
string building). A report page needs every row, no index column, ``–`` for missing values and
fixed decimals, and wide tables wrapped rather than clipped (:func:`html_table`, the one
formatter of every notebook page).
"""

from __future__ import annotations

import html
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from alignbench_utils.taxonomy import (
    CATEGORIES,
    CATEGORY_EN,
    LANGUAGE_COL,
    OVERALL_COL,
    REASONING_COL,
)

__all__ = [
    "MISSING",
    "PAPER_METRICS",
    "TABLE_FORMATS",
    "ci_cell",
    "english_columns",
    "format_numbers",
    "html_table",
    "latex_escape",
    "leaderboard_table",
    "write_table",
]

MISSING = "–"  # a cell without a value (no ok judgment, no CI), on pages and in papers
TABLE_FORMATS = ("csv", "md", "tex")
# The leaderboard's metrics in a paper's order: the three summaries, then the 8 categories.
PAPER_METRICS: tuple[str, ...] = (OVERALL_COL, REASONING_COL, LANGUAGE_COL, *CATEGORIES)
_ENGLISH = {"模型": "Model", "model": "Model", "rank": "Rank", "tier": "Tier",
            **{name: short.title() for name, short in CATEGORY_EN.items()}}


def ci_cell(estimate: float, lower: float, upper: float, decimals: int = 2) -> str:
    """``estimate [lower, upper]`` at fixed ``decimals``; :data:`MISSING` without an estimate,
    the estimate alone without an interval.

    >>> ci_cell(5.5, 5.375, 5.625)
    '5.50 [5.38, 5.62]'
    >>> ci_cell(float("nan"), 1, 2), ci_cell(7, float("nan"), float("nan"), 1)
    ('–', '7.0')
    """
    if _missing(estimate):
        return MISSING
    if _missing(lower) or _missing(upper):
        return f"{estimate:.{decimals}f}"
    return f"{estimate:.{decimals}f} [{lower:.{decimals}f}, {upper:.{decimals}f}]"


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


_LATEX_SPECIALS = str.maketrans({"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                                 "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                                 "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"})


def latex_escape(text: str) -> str:
    r"""``text`` with LaTeX's special characters escaped (for a caption; cells are escaped by
    ``Styler.format(escape="latex")``).

    >>> print(latex_escape("judge_a: 50% & more"))
    judge\_a: 50\% \& more
    """
    return text.translate(_LATEX_SPECIALS)


def english_columns(table: pd.DataFrame) -> pd.DataFrame:
    """The table with official Chinese column names (and ``rank``/``tier``/``model``) in
    English: 总分 → Overall, 数学计算 → Math, ...

    >>> list(english_columns(pd.DataFrame(columns=["模型", "总分", "数学计算", "n_ok"])).columns)
    ['Model', 'Overall', 'Math', 'n_ok']
    """
    return table.rename(columns=lambda c: _ENGLISH.get(c, c))


def leaderboard_table(ci: pd.DataFrame, tiers: pd.DataFrame, *, decimals: int = 2,
                      english: bool = False) -> pd.DataFrame:
    """One judge's leaderboard for a paper: models ranked (``tiers`` order), ``rank``,
    ``tier``, then 总分, 中文推理, 中文语言 and the 8 categories as ``est [lower, upper]``,
    then ``n_ok`` / ``n_failed`` over all questions.

    ``ci`` is ``stats.bootstrap_leaderboard`` (long), ``tiers`` is ``stats.rank_tiers`` of
    the same replicates. Every cell is text at ``decimals``; a model without a value in a
    metric shows :data:`MISSING`.

    >>> ci = pd.DataFrame({"model": ["a", "b"], "metric": "总分", "estimate": [5.0, 6.0],
    ...                    "lower": [4.5, 5.5], "upper": [5.5, 6.5], "n_ok": 8, "n_failed": 0})
    >>> tiers = pd.DataFrame({"model": ["b", "a"], "rank": [1, 2], "tier": [1, 1]})
    >>> leaderboard_table(ci, tiers, decimals=1)[["模型", "rank", "总分", "数学计算"]].values.tolist()
    [['b', 1, '6.0 [5.5, 6.5]', '–'], ['a', 2, '5.0 [4.5, 5.5]', '–']]
    """
    cells = ci.assign(cell=[ci_cell(e, lo, hi, decimals) for e, lo, hi
                            in zip(ci["estimate"], ci["lower"], ci["upper"])])
    wide = cells.pivot(index="model", columns="metric", values="cell")
    wide = wide.reindex(columns=list(PAPER_METRICS)).astype(object)
    wide = wide.where(wide.notna(), MISSING)
    counts = ci[ci["metric"] == OVERALL_COL].set_index("model")[["n_ok", "n_failed"]]
    order = list(tiers["model"])
    table = pd.DataFrame({"模型": order, "rank": tiers["rank"].to_numpy(),
                          "tier": tiers["tier"].to_numpy()})
    table = table.join(wide, on="模型").join(counts, on="模型")
    for column in ("rank", "tier", "n_ok", "n_failed"):
        table[column] = pd.array(table[column], dtype="Int64")
    table = table.rename_axis(None, axis=1).reset_index(drop=True)
    return english_columns(table) if english else table


def format_numbers(table: pd.DataFrame, decimals: int = 2) -> pd.DataFrame:
    """Every float column as text at ``decimals`` (integers kept), :data:`MISSING` for
    missing values: what a paper table and a page show.

    >>> format_numbers(pd.DataFrame({"a": [0.12345, None], "n": [3, 4]}), 3).values.tolist()
    [['0.123', 3], ['–', 4]]
    """
    out = table.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_float_dtype(values):
            out[column] = [MISSING if _missing(v) else f"{v:.{decimals}f}" for v in values]
        elif values.dtype == object or pd.api.types.is_extension_array_dtype(values):
            out[column] = [MISSING if _missing(v) else v for v in values]
    return out


def write_table(table: pd.DataFrame, stem: str | os.PathLike, *, caption: str,
                decimals: int = 2, formats: Sequence[str] = TABLE_FORMATS) -> list[Path]:
    """Write ``table`` as ``<stem>.csv``, ``<stem>.md`` and ``<stem>.tex`` (booktabs:
    ``\\toprule``/``\\midrule``/``\\bottomrule``, LaTeX special characters escaped, the
    caption above); floats at ``decimals``, :data:`MISSING` for missing values. Chinese
    column names need ``xeCJK`` (or ``ctex``) in the paper's preamble. Returns the paths.
    """
    unknown = sorted(set(formats) - set(TABLE_FORMATS))
    if unknown:
        raise ValueError(f"unknown table formats {unknown}; allowed: {', '.join(TABLE_FORMATS)}")
    text = format_numbers(table, decimals).reset_index(drop=True)
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        if fmt == "csv":
            text.to_csv(path, index=False, encoding="utf-8")
        elif fmt == "md":
            path.write_text(text.to_markdown(index=False, disable_numparse=True) + "\n",
                            encoding="utf-8")
        else:
            latex = (text.style.hide(axis="index").format(escape="latex")
                     .format_index(escape="latex", axis=1)
                     .to_latex(hrules=True, caption=latex_escape(caption), position_float="centering",
                               column_format="l" + "r" * (text.shape[1] - 1)))
            path.write_text(latex, encoding="utf-8")
        paths.append(path)
    return paths


def _holds_intervals(column: pd.Series) -> bool:
    """Whether every value of a text column is a :func:`ci_cell` (or :data:`MISSING`)."""
    values = [v for v in column.dropna() if v != MISSING]
    return bool(values) and all(isinstance(v, str) and _INTERVAL.fullmatch(v) for v in values)


_INTERVAL = re.compile(r"-?[\d.]+ \[-?[\d.]+, -?[\d.]+\]")


def html_table(table: pd.DataFrame, *, decimals: int = 2, text_columns: Sequence[str] = (),
               link_columns: Sequence[str] = (),
               caption: str | None = None) -> pd.io.formats.style.Styler:
    """The one table format of the report's pages: every row, no index column, floats at
    ``decimals``, :data:`MISSING` for missing values, cells escaped as text; an interval
    cell (``5.50 [5.38, 5.62]``) puts its interval under the estimate; long texts
    (``text_columns``) wrap at a readable width and a table wider than the page scrolls in
    its own box instead of being clipped; ``link_columns`` hold URLs shown as "open" links.
    """
    styler = (table.reset_index(drop=True).style.hide(axis="index")
              .format(precision=decimals, na_rep=MISSING, escape="html")
              .set_table_attributes('class="alignbench-table"')
              .set_table_styles([
                  {"selector": "", "props": "display: block; max-width: 100%; overflow-x: auto; "
                                            "border-collapse: collapse;"},
                  {"selector": "th, td", "props": "padding: 2px 6px; vertical-align: top;"},
                  {"selector": "td", "props": "text-align: right; white-space: nowrap;"},
              ]))
    intervals = [c for c in table.columns if _holds_intervals(table[c])]
    if intervals:  # "5.50 [5.38, 5.62]": the interval on a second line, so wide tables fit
        styler = styler.format(lambda cell: html.escape(cell).replace(" [", "<br>[", 1),
                               subset=intervals, na_rep=MISSING)
    links = [c for c in link_columns if c in table.columns]
    if links:
        styler = styler.format(lambda url: f'<a href="{html.escape(str(url))}">open</a>',
                               subset=links, na_rep=MISSING)
    text = [c for c in text_columns if c in table.columns]
    if text:
        styler = styler.set_properties(subset=text, **{
            "white-space": "pre-wrap", "text-align": "left", "min-width": "16em",
            "max-width": "40em", "overflow-wrap": "anywhere"})
    if caption:
        styler = styler.set_caption(caption)
    return styler
