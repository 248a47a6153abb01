"""Paper-ready figures in one style: leaderboard with CIs, category CIs, heatmaps, radar
panels, distributions, paired-difference forest plot, failures, the pairwise view
(Bradley-Terry ratings, win rates by category, length control), the judge meta-evaluation
(position bias, consistency) and two judges' score confusion.

Figures are drawn at print size: :func:`use_style` sets the width (``column`` 3.3 in or
``page`` 6.8 in, ``config.FIGURE_WIDTHS``) and the run's models, so text is at least 7 pt in
the paper, every model keeps one colour in every figure of a run (Okabe-Ito, colour-blind
safe; a reference control grey and dashed) and models come in one order (the primary judge's
总分). Maps are cividis (sequential) or vlag (diverging), never red-green. Legends go below
the axes so they cover no data; x tick labels that would collide are turned upright.
Every function takes the tables the other modules produce and returns a
``matplotlib.figure.Figure``; :func:`save_figure` writes PDF (fonts embedded), SVG and PNG
(300 dpi). Chinese labels need a CJK font: :func:`use_style` registers one and refuses to draw
empty boxes silently.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, wraps
from pathlib import Path

import matplotlib
import matplotlib.axes
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import font_manager
from matplotlib.figure import Figure

from alignbench_utils.config import FIGURE_FORMATS, FIGURE_WIDTHS
from alignbench_utils.taxonomy import CATEGORIES, LANGUAGE_COL, OVERALL_COL, REASONING_COL

__all__ = [
    "OKABE_ITO",
    "REFERENCE_COLOR",
    "STYLE_FILE",
    "SUMMARY_METRICS",
    "cjk_font",
    "model_color",
    "model_order",
    "plot_category_ci",
    "plot_category_heatmap",
    "plot_consistency",
    "plot_dimension_heatmap",
    "plot_failures",
    "plot_judge_confusion",
    "plot_leaderboard",
    "plot_length_control",
    "plot_paired_forest",
    "plot_position_bias",
    "plot_radar",
    "plot_rating_forest",
    "plot_score_distributions",
    "plot_score_vs_length",
    "plot_win_rate_heatmap",
    "save_figure",
    "use_style",
]

STYLE_FILE = Path(__file__).with_name("style.mplstyle")
SUMMARY_METRICS = (OVERALL_COL, REASONING_COL, LANGUAGE_COL)
_PALETTE = "colorblind"
# Okabe & Ito (2008), colour-blind safe; yellow last (weak on white). A model's colour is its
# position in the run's model order; the reference control is grey and dashed.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#000000",
             "#F0E442")
REFERENCE_COLOR = "#8C8C8C"
SEQUENTIAL, DIVERGING = "cividis", "vlag"
_METRIC_MARKERS = ("o", "s", "^")
_CJK_HINT = ("no CJK font found for Chinese labels; install one "
             "(scripts/install_system_deps.sh installs fonts-wqy-microhei)")


def _wanted_families() -> list[str]:
    """CJK families named in the style file, in preference order."""
    families = matplotlib.rc_params_from_file(str(STYLE_FILE), use_default_template=False)
    return [f for f in families["font.sans-serif"] if f != "DejaVu Sans"]


@lru_cache(maxsize=1)
def cjk_font() -> tuple[str, Path]:
    """``(family, file)`` of the first CJK font of the style file that is installed.

    Fonts installed after matplotlib built its cache are registered from the system font
    folders, so a fresh ``apt-get install`` works without clearing any cache.
    """
    wanted = _wanted_families()

    def find() -> tuple[str, Path] | None:
        by_name = {f.name: Path(f.fname) for f in font_manager.fontManager.ttflist}
        return next(((name, by_name[name]) for name in wanted if name in by_name), None)

    found = find()
    if found is None:
        for path in font_manager.findSystemFonts():
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
        found = find()
    if found is None:
        raise RuntimeError(_CJK_HINT)
    return found


@dataclass
class _RunStyle:
    """What :func:`use_style` fixed for every figure of a run."""

    width: float = FIGURE_WIDTHS["page"]
    order: list[str] = field(default_factory=list)
    reference: set[str] = field(default_factory=set)
    colors: dict[str, str] = field(default_factory=dict)


_STYLE = _RunStyle()


def use_style(width: str = "page", models: Sequence[str] = (),
              reference: Sequence[str] = ()) -> str:
    """Apply the package style (seaborn + style file) with the CJK font first, at print
    ``width`` (``column`` or ``page``); ``models`` in the run's order (:func:`model_order`) fix
    each model's colour and place, ``reference`` names the reference control(s). Returns the
    CJK font family.
    """
    if width not in FIGURE_WIDTHS:
        raise ValueError(f"unknown figure width {width!r}; allowed: {', '.join(FIGURE_WIDTHS)}")
    family, _ = cjk_font()
    sns.set_theme(style="whitegrid", palette=_PALETTE)
    plt.style.use(str(STYLE_FILE))
    plt.rcParams["font.sans-serif"] = [family, *plt.rcParams["font.sans-serif"]]
    plt.rcParams["figure.figsize"] = (FIGURE_WIDTHS[width], 0.62 * FIGURE_WIDTHS[width])
    _STYLE.width = FIGURE_WIDTHS[width]
    _STYLE.order = list(dict.fromkeys(models))
    _STYLE.reference = set(reference)
    _STYLE.colors = {}
    for model in _STYLE.order:
        model_color(model)
    return family


def model_order(leaderboard: pd.DataFrame) -> list[str]:
    """Models by 总分, best first (the primary judge's official leaderboard), models without
    总分 last: the order of every figure and table of a run.

    >>> model_order(pd.DataFrame({"模型": ["a", "b", "c"], "总分": [5.0, float("nan"), 6.0]}))
    ['c', 'a', 'b']
    """
    model_col = "模型" if "模型" in leaderboard.columns else "model"
    ranked = leaderboard.sort_values(OVERALL_COL, ascending=False, kind="stable",
                                     na_position="last")
    return ranked[model_col].astype(str).tolist()


def model_color(model: str) -> str:
    """The model's colour in every figure of the run: grey for a reference control, else the
    next Okabe-Ito colour in the order :func:`use_style` was given (models it was not given
    get the following ones, once)."""
    if model in _STYLE.reference:
        return REFERENCE_COLOR
    if model not in _STYLE.colors:
        _STYLE.colors[model] = OKABE_ITO[len(_STYLE.colors) % len(OKABE_ITO)]
    return _STYLE.colors[model]


def _linestyle(model: str) -> str:
    return "--" if model in _STYLE.reference else "-"


def _ordered(models: Sequence[str], values: pd.Series | None = None) -> list[str]:
    """``models`` in the run's order; models outside it after, by ``values`` (descending)."""
    present = list(dict.fromkeys(models))
    known = [m for m in _STYLE.order if m in present]
    rest = [m for m in present if m not in known]
    if values is not None:
        rest = sorted(rest, key=lambda m: -float(values.get(m, np.nan))
                      if pd.notna(values.get(m, np.nan)) else np.inf)
    return known + rest


def _figure(height: float, **kwargs) -> tuple[Figure, plt.Axes]:
    """A figure at the run's print width and ``height`` inches."""
    return plt.subplots(figsize=(_STYLE.width, height), **kwargs)


def _narrow() -> bool:
    return _STYLE.width < FIGURE_WIDTHS["page"] - 1


def _legend_below(fig: Figure, ax: plt.Axes, title: str | None = None) -> None:
    """The axes' legend under the figure (it covers no data and adds no width)."""
    handles, labels = ax.get_legend_handles_labels()
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    if handles:
        ncols = max(1, min(len(labels), 2 if _narrow() else 4))
        fig.legend(handles, labels, loc="outside lower center", ncols=ncols, title=title,
                   title_fontsize=7)


def _overlapping(labels: list) -> bool:
    """Whether two of these text artists' window extents overlap (the renderer's)."""
    boxes = [t.get_window_extent() for t in labels if t.get_visible() and t.get_text()]
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def _fit_labels(fig: Figure) -> Figure:
    """Turn x tick labels that would collide upright (rotation 90, one per column)."""
    fig.canvas.draw()
    for ax in fig.axes:
        if ax.name != "polar" and _overlapping(ax.get_xticklabels()):
            ax.tick_params(axis="x", labelrotation=90)
    return fig


def _print_ready(plot: Callable[..., Figure]) -> Callable[..., Figure]:
    @wraps(plot)
    def draw(*args, **kwargs) -> Figure:
        return _fit_labels(plot(*args, **kwargs))
    return draw


def save_figure(fig: Figure, directory: str | Path, name: str,
                formats: Sequence[str] = FIGURE_FORMATS, dpi: int = 300) -> list[Path]:
    """Write ``name.<format>`` for each of ``formats`` (PDF with fonts embedded, SVG, PNG at
    ``dpi``) into ``directory``; returns the paths."""
    unknown = sorted(set(formats) - set(FIGURE_FORMATS))
    if unknown:
        raise ValueError(f"unknown figure formats {unknown}; allowed: {', '.join(FIGURE_FORMATS)}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = directory / f"{name}.{fmt}"
        fig.savefig(path, dpi=dpi, format=fmt)
        paths.append(path)
    return paths


def _rows_height(n_rows: int, extra: float = 1.0, per_row: float = 0.2) -> float:
    return per_row * max(n_rows, 1) + extra


@_print_ready
def plot_leaderboard(ci: pd.DataFrame, metrics: Sequence[str] = SUMMARY_METRICS,
                     level: float = 0.95, title: str = "Leaderboard") -> Figure:
    """Point estimates with bootstrap CIs per model (its colour) for the summary metrics
    (one marker shape each).

    ``ci`` is the long table of ``stats.bootstrap_leaderboard``
    (``model, metric, estimate, lower, upper, ...``).
    """
    data = ci[ci["metric"].isin(metrics)]
    first = data[data["metric"] == metrics[0]].set_index("model")["estimate"]
    order = _ordered(data["model"].astype(str), first)
    fig, ax = _figure(_rows_height(len(order) * max(1, len(metrics) // 2), 1.2))
    offsets = np.linspace(-0.25, 0.25, len(metrics)) if len(metrics) > 1 else [0.0]
    for metric, marker, offset in zip(metrics, _METRIC_MARKERS * 4, offsets):
        rows = data[data["metric"] == metric].set_index("model").reindex(order)
        for y, (model, row) in enumerate(rows.iterrows()):
            bars = ax.errorbar(row["estimate"], y + offset, fmt=marker, color=model_color(model),
                        xerr=[[row["estimate"] - row["lower"]], [row["upper"] - row["estimate"]]],
                        capsize=2, markersize=4 if metric == metrics[0] else 3,
                        markerfacecolor=model_color(model) if metric == metrics[0] else "white",
                        linestyle="none")
            bars[-1][0].set_linestyle(_linestyle(model))
        ax.plot([], [], marker, color="0.3", linestyle="none",
                markerfacecolor="0.3" if metric == metrics[0] else "white", label=metric)
    ax.set_yticks(range(len(order)), order)
    ax.invert_yaxis()
    ax.set_xlabel(f"score (1-10), {level:.0%} bootstrap CI")
    ax.set_title(title)
    _legend_below(fig, ax)
    return fig


@_print_ready
def plot_category_ci(ci: pd.DataFrame, level: float = 0.95,
                     title: str = "Category means") -> Figure:
    """Every category and summary (rows) with each model's mean and bootstrap CI (its colour,
    dodged), so category differences come with their uncertainty.

    ``ci`` is ``stats.bootstrap_leaderboard``.
    """
    metrics = [*CATEGORIES, REASONING_COL, LANGUAGE_COL, OVERALL_COL]
    overall = ci[ci["metric"] == OVERALL_COL].set_index("model")["estimate"]
    order = _ordered(ci["model"].astype(str), overall)
    fig, ax = _figure(_rows_height(len(metrics), 1.2, 0.12 * max(len(order), 2)))
    offsets = np.linspace(-0.3, 0.3, len(order)) if len(order) > 1 else [0.0]
    table = ci.set_index(["model", "metric"])
    for model, offset in zip(order, offsets):
        rows = table.loc[model].reindex(metrics)
        y = np.arange(len(metrics)) + offset
        line = ax.errorbar(rows["estimate"], y, fmt="o", color=model_color(model), capsize=1.5,
                           markersize=2.5, label=model, elinewidth=0.9,
                           xerr=np.vstack([rows["estimate"] - rows["lower"],
                                           rows["upper"] - rows["estimate"]]))
        line[-1][0].set_linestyle(_linestyle(model))
    ax.set_yticks(range(len(metrics)), metrics)
    ax.axhline(len(CATEGORIES) - 0.5, color="0.5", linewidth=0.6)
    ax.invert_yaxis()
    ax.set_xlabel(f"mean score, {level:.0%} bootstrap CI")
    ax.set_title(title)
    _legend_below(fig, ax)
    return fig


def _leaderboard_matrix(leaderboard: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    model_col = "模型" if "模型" in leaderboard.columns else "model"
    matrix = leaderboard.set_index(model_col).loc[:, list(columns)].astype(float)
    matrix.index = matrix.index.astype(str)
    return matrix.reindex(_ordered(matrix.index, matrix[columns[-1]]))


def _mark_missing(ax: matplotlib.axes.Axes, matrix: pd.DataFrame) -> None:
    """Write "n/a" in heatmap cells without a value (no ok judgment there)."""
    for row, col in zip(*np.nonzero(matrix.isna().to_numpy())):
        ax.text(col + 0.5, row + 0.5, "n/a", ha="center", va="center", color="0.45", fontsize=7)


def _score_heatmap(matrix: pd.DataFrame, *, fmt: str, label: str, title: str,
                   limits: tuple[float, float] = (1, 10), cmap: str = SEQUENTIAL,
                   center: float | None = None) -> tuple[Figure, plt.Axes]:
    """A heatmap at the run's width (1-10 unless ``limits`` say otherwise) with values in the
    cells (7 pt) and missing cells marked "n/a"."""
    fig, ax = _figure(_rows_height(len(matrix), 1.6, 0.24))
    sns.heatmap(matrix, annot=True, fmt=fmt, cmap=cmap, vmin=limits[0], vmax=limits[1],
                center=center, ax=ax, linewidths=0.5, annot_kws={"fontsize": 7},
                cbar_kws={"label": label, "shrink": 0.9})
    _mark_missing(ax, matrix)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=0)
    ax.tick_params(axis="y", rotation=0)
    ax.grid(False)
    return fig, ax


@_print_ready
def plot_category_heatmap(leaderboard: pd.DataFrame,
                          title: str = "Mean score per category") -> Figure:
    """Models × (8 categories + 3 summaries) with the values written in each cell."""
    matrix = _leaderboard_matrix(leaderboard, [*CATEGORIES, *SUMMARY_METRICS[1:], OVERALL_COL])
    fig, ax = _score_heatmap(matrix, fmt=".1f" if _narrow() else ".2f", label="mean score",
                             title=title)
    ax.axvline(len(CATEGORIES), color="white", linewidth=3)
    return fig


@_print_ready
def plot_radar(leaderboard: pd.DataFrame, title: str = "Category scores") -> Figure:
    """The AlignBench paper's radar chart as small multiples: one panel per model (its colour;
    the other models thin grey behind it), so no polygon hides another."""
    matrix = _leaderboard_matrix(leaderboard, CATEGORIES)
    angles = np.linspace(0, 2 * np.pi, len(CATEGORIES), endpoint=False)
    closed = np.append(angles, angles[0])
    ncols = min(len(matrix), 2 if _narrow() else 3)
    nrows = -(-len(matrix) // ncols)
    panel = _STYLE.width / ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(_STYLE.width, panel * nrows * 1.05 + 0.3),
                             subplot_kw={"projection": "polar"}, squeeze=False)
    polygons = {model: np.append(row.to_numpy(), row.to_numpy()[0])
                for model, row in matrix.iterrows()}
    for ax, model in zip(axes.flat, polygons):
        for other, values in polygons.items():
            if other != model:
                ax.plot(closed, values, color="0.8", linewidth=0.6)
        ax.plot(closed, polygons[model], color=model_color(model), linewidth=1.4,
                linestyle=_linestyle(model))
        ax.fill(closed, polygons[model], color=model_color(model), alpha=0.15)
        ax.set_xticks(angles, list(CATEGORIES), fontsize=7)
        ax.set_ylim(0, 10)
        ax.set_yticks([2, 4, 6, 8, 10], [])
        ax.set_theta_offset(np.pi / 2)
        ax.set_theta_direction(-1)
        ax.tick_params(axis="x", pad=1)
        ax.set_title(model, fontsize=8, pad=10, color=model_color(model))
    for ax in list(axes.flat)[len(polygons):]:
        ax.remove()
    fig.suptitle(f"{title} (rings at 2, 4, …, 10)", fontsize=8.5)
    return fig


@_print_ready
def plot_score_distributions(judgments: pd.DataFrame,
                             title: str = "Score distribution per category (ok judgments)"
                             ) -> Figure:
    """Per-category distribution of ok scores, one box per model (its colour)."""
    ok = judgments[judgments["status"].eq("ok")].copy()
    ok["model"] = ok["model"].astype(str)
    order = [c for c in CATEGORIES if c in set(ok["category"])]
    models = _ordered(ok["model"], ok.groupby("model")["score"].mean())
    fig, ax = _figure(2.6 if _narrow() else 3.0)
    with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib 3.11's deprecated `vert`
        warnings.simplefilter("ignore", matplotlib.MatplotlibDeprecationWarning)
        sns.boxplot(data=ok, x="category", y="score", hue="model", order=order,
                    hue_order=models, ax=ax, fliersize=1, linewidth=0.6,
                    palette={m: model_color(m) for m in models})
    ax.set_ylim(0.5, 10.5)
    ax.set_xlabel("")
    ax.set_title(title)
    _legend_below(fig, ax)
    return fig


@_print_ready
def plot_paired_forest(comparisons: pd.DataFrame, metric: str = OVERALL_COL,
                       title: str = "Paired model comparisons") -> Figure:
    """Paired differences (a − b) with CIs; filled markers where significant after correction.

    ``comparisons`` is the table of ``stats.compare_models``.
    """
    rows = comparisons[comparisons["metric"] == metric].copy()
    rows["pair"] = rows["model_a"].astype(str) + " − " + rows["model_b"].astype(str)
    rows = rows.sort_values("diff").reset_index(drop=True)
    fig, ax = _figure(_rows_height(len(rows), 1.1))
    for y, row in rows.iterrows():
        sig = bool(row["significant"])
        color = OKABE_ITO[3] if sig else REFERENCE_COLOR
        ax.plot([row["lower"], row["upper"]], [y, y], color=color, linewidth=1.4)
        ax.plot(row["diff"], y, "o", color=color, markerfacecolor=color if sig else "white",
                markersize=4)
    ax.axvline(0, color="0.3", linewidth=0.8, linestyle="--")
    if rows["diff"].isna().all():
        ax.text(0.5, 0.5, f"no pair has both {metric} values\n(a category without ok judgments)",
                transform=ax.transAxes, ha="center", va="center", color="0.4")
    ax.set_yticks(range(len(rows)), rows["pair"])
    ax.set_xlabel(f"{metric} difference (filled: significant, corrected)")
    ax.set_title(title)
    return fig


@_print_ready
def plot_dimension_heatmap(dimension_means: pd.DataFrame,
                           title: str = "Mean score per judge dimension") -> Figure:
    """Models × judge dimensions (mean dimension score), values in the cells."""
    matrix = dimension_means.pivot(index="model", columns="dimension", values="mean")
    matrix.index = matrix.index.astype(str)
    matrix = matrix.reindex(_ordered(matrix.index, matrix.mean(axis=1)))
    fig, _ = _score_heatmap(matrix, fmt=".1f", label="mean dimension score", title=title)
    return fig


@_print_ready
def plot_failures(failures: pd.DataFrame) -> Figure:
    """Stacked counts of parse failures and errors per judge/model (zeros shown as such).

    ``failures`` is the table of ``aggregate.failure_table``.
    """
    kinds = [k for k in ("parse_failed", "error") if k in failures.columns]
    label = failures["model"].astype(str)
    if failures["judge"].nunique() > 1:
        label = failures["judge"].astype(str) + " / " + label
    counts = failures.assign(label=label).groupby("label")[kinds].sum()
    fig, ax = _figure(_rows_height(len(counts), 1.2))
    left = np.zeros(len(counts))
    for kind, color in zip(kinds, (OKABE_ITO[1], OKABE_ITO[3])):
        ax.barh(counts.index, counts[kind], left=left, color=color, label=kind)
        left += counts[kind].to_numpy()
    for y, value in enumerate(left):
        ax.text(value, y, f" {int(value)}", va="center", fontsize=7)
    total = int(left.sum())
    ax.set_xlim(0, max(1.0, left.max() * 1.15))
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("failed judgments")
    ax.set_title("Failed judgments" + (" (none)" if total == 0 else f" ({total})"))
    ax.invert_yaxis()
    _legend_below(fig, ax)
    return fig


@_print_ready
def plot_score_vs_length(judgments: pd.DataFrame,
                         title: str = "Score vs answer length") -> Figure:
    """Judge score against answer length (characters, log axis with 1-2-5 ticks), one colour
    per model: a length bias shows as a slope."""
    ok = judgments[judgments["status"].eq("ok")].copy()
    ok["model"] = ok["model"].astype(str)
    ok["answer_chars"] = ok["answer"].fillna("").str.len().clip(lower=1)
    models = _ordered(ok["model"], ok.groupby("model")["score"].mean())
    fig, ax = _figure(2.6 if _narrow() else 3.2)
    sns.scatterplot(data=ok, x="answer_chars", y="score", hue="model", hue_order=models, ax=ax,
                    alpha=0.7, palette={m: model_color(m) for m in models}, s=8, linewidth=0)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_ylim(0.5, 10.5)
    ax.set_xlabel("answer length (characters, log scale)")
    ax.set_title(title)
    _legend_below(fig, ax)
    return fig


@_print_ready
def plot_rating_forest(ratings: pd.DataFrame, level: float = 0.95) -> Figure:
    """Bradley-Terry ratings with bootstrap CIs in the run's model order; the baseline
    (square) anchors the scale and its rating is the dashed line.

    ``ratings`` is the table of ``stats.bradley_terry``; models without games are left out.
    """
    rows = ratings.dropna(subset=["rating"]).copy()
    rows["model"] = rows["model"].astype(str)
    order = _ordered(rows["model"], rows.set_index("model")["rating"])
    rows = rows.set_index("model").loc[order].reset_index()
    fig, ax = _figure(_rows_height(len(rows), 1.1))
    for y, row in rows.iterrows():
        base = bool(row["is_baseline"])
        color = model_color(row["model"])
        ax.plot([row["lower"], row["upper"]], [y, y], color=color, linewidth=1.4,
                linestyle=_linestyle(row["model"]))
        ax.plot(row["rating"], y, "s" if base else "o", color=color, markersize=4)
    anchor = rows.loc[rows["is_baseline"], "rating"]
    if len(anchor):
        ax.axvline(anchor.iloc[0], color="0.3", linewidth=0.8, linestyle="--")
    ax.set_yticks(range(len(rows)), rows["model"])
    ax.invert_yaxis()
    ax.set_xlabel(f"Bradley-Terry rating (Elo scale), {level:.0%} bootstrap CI")
    ax.set_title("Pairwise ranking against the baseline")
    return fig


@_print_ready
def plot_win_rate_heatmap(win_rates: pd.DataFrame) -> Figure:
    """Models × (8 categories + 总分) win rate against the baseline, values in the cells,
    diverging around 0.5 (vlag: blue below, red above; not red-green).

    ``win_rates`` is the table of ``stats.win_rates``; rows in the run's model order.
    """
    matrix = win_rates.pivot(index="model", columns="metric", values="win_rate")
    matrix = matrix.reindex(columns=[*CATEGORIES, OVERALL_COL])
    matrix.index = matrix.index.astype(str)
    matrix = matrix.reindex(_ordered(matrix.index, matrix[OVERALL_COL]))
    fig, ax = _score_heatmap(matrix, fmt=".0%", label="win rate (win + tie/2)", limits=(0, 1),
                             cmap=DIVERGING, center=0.5,
                             title="Win rate against the baseline per category")
    ax.axvline(len(CATEGORIES), color="white", linewidth=3)
    return fig


@_print_ready
def plot_length_control(table: pd.DataFrame, level: float = 0.95) -> Figure:
    """Raw and length-controlled win rate per model (top), and both against the mean answer
    length (bottom): the gap between a hollow and a filled marker is what length explains.
    Legends sit under the panels, off the whiskers.

    ``table`` is ``stats.length_controlled_win_rates(...).table``.
    """
    rows = table[~table["is_baseline"]].copy()
    rows["model"] = rows["model"].astype(str)
    order = _ordered(rows["model"], rows.set_index("model")["lc_win_rate"])
    rows = rows.set_index("model").loc[order].reset_index()
    raw_color, lc_color = OKABE_ITO[1], OKABE_ITO[0]
    fig, (left, right) = plt.subplots(2, 1, figsize=(_STYLE.width,
                                                     _rows_height(len(rows), 3.6)),
                                      gridspec_kw={"height_ratios": [max(len(rows), 2), 5]})
    y = np.arange(len(rows))
    left.hlines(y, rows["win_rate"], rows["lc_win_rate"], color="0.6", linewidth=1)
    left.errorbar(rows["lc_win_rate"], y, fmt="o", color=lc_color, capsize=2,
                  xerr=[rows["lc_win_rate"] - rows["lc_lower"],
                        rows["lc_upper"] - rows["lc_win_rate"]],
                  label=f"length-controlled ({level:.0%} CI)")
    left.plot(rows["win_rate"], y, "o", color=raw_color, markerfacecolor="white", label="raw")
    left.set_yticks(y, rows["model"])
    left.invert_yaxis()
    left.axvline(0.5, color="0.3", linewidth=0.8, linestyle="--")
    left.set_xlabel("win rate against the baseline")
    right.vlines(rows["mean_length"], rows["win_rate"], rows["lc_win_rate"], color="0.6",
                 linewidth=1)
    right.scatter(rows["mean_length"], rows["win_rate"], facecolors="white",
                  edgecolors=raw_color, s=14)
    right.scatter(rows["mean_length"], rows["lc_win_rate"], color=lc_color, s=14)
    baseline = table.loc[table["is_baseline"], "mean_length"]
    if len(baseline):
        right.axvline(baseline.iloc[0], color="0.3", linewidth=0.8, linestyle="--")
    right.axhline(0.5, color="0.3", linewidth=0.8, linestyle=":")
    right.set_xlabel("mean answer length (characters; dashed: baseline)")
    right.set_ylabel("win rate")
    _legend_below(fig, left)
    fig.suptitle("Length control: raw vs length-controlled win rate", fontsize=8.5)
    return fig


@_print_ready
def plot_judge_confusion(matrix: pd.DataFrame, judges: tuple[str, str]) -> Figure:
    """How two judges score the same answers: counts of (score by the first, score by the
    second) over answers both scored ok; the diagonal is agreement.

    ``matrix`` is ``cross_judge.score_confusion`` (rows: first judge's score, columns: the
    second's).
    """
    side = min(_STYLE.width, 4.2)
    fig, ax = plt.subplots(figsize=(side, side * 0.9))
    sns.heatmap(matrix, annot=True, fmt="d", cmap=SEQUENTIAL, ax=ax, linewidths=0.3,
                annot_kws={"fontsize": 7}, cbar_kws={"label": "answers", "shrink": 0.8})
    ax.set_ylabel(f"score by {judges[0]}")
    ax.set_xlabel(f"score by {judges[1]}")
    ax.tick_params(axis="both", rotation=0)
    ax.set_title(f"Score confusion: {judges[0]} × {judges[1]}")
    ax.grid(False)
    return fig


def _judge_rows(table: pd.DataFrame) -> tuple[Figure, plt.Axes, pd.DataFrame]:
    """One horizontal row per judge × benchmark subset of a judge-eval study table."""
    rows = table.assign(row=table["judge"].astype(str) + " · " + table["subset"].astype(str))
    rows = rows.reset_index(drop=True)
    fig, ax = _figure(_rows_height(len(rows), 1.4, 0.3))
    ax.set_yticks(range(len(rows)), rows["row"])
    ax.invert_yaxis()
    return fig, ax, rows


def _label_values(ax: matplotlib.axes.Axes, values: pd.Series, y: np.ndarray, fmt: str,
                  undefined: str) -> None:
    """Each bar's value beside it (zeros too: nothing silent), ``undefined`` where NaN."""
    for value, where in zip(values.to_numpy(dtype=float), y):
        text = undefined if np.isnan(value) else format(value, fmt)
        ax.text(0.01 if np.isnan(value) else max(value, 0) + 0.01, where, f" {text}",
                va="center", fontsize=7, color="0.3")


@_print_ready
def plot_position_bias(table: pd.DataFrame) -> Figure:
    """Position bias per judge and benchmark subset: the share of decisive verdicts for the
    response shown first, minus 0.5 (0: no lean), with the share of items where the judge
    picked the first-shown response in *both* orders (it changed its mind with the order).

    ``table`` is the study table of ``judge_eval.judge_eval_table`` /
    ``judgebench.study_table``.
    """
    fig, ax, rows = _judge_rows(table)
    ax.barh(range(len(rows)), rows["position_bias"].fillna(0), color=OKABE_ITO[0], height=0.55,
            label="first-shown share − 0.5")
    ax.plot(rows["biased_first"], range(len(rows)), "D", color=OKABE_ITO[3], markersize=4,
            label="first-shown in both orders (share of items)")
    _label_values(ax, rows["position_bias"], np.arange(len(rows)) + 0.3, "+.2f",
                  "n/a: no decisive verdict")
    ax.axvline(0, color="0.3", linewidth=0.8)
    ax.set_xlim(-0.55, 1.05)
    ax.set_xlabel("position bias (0 = none; > 0 favours the response shown first)")
    ax.set_title("Position bias of each judge")
    _legend_below(fig, ax)
    return fig


@_print_ready
def plot_consistency(table: pd.DataFrame) -> Figure:
    """Consistency per judge and benchmark subset (same verdict in both orders, share of items
    judged in both) next to its format-error rate (replies without a verdict); a judge of one
    order has no consistency ("n/a").

    ``table`` is the study table of ``judge_eval.judge_eval_table``.
    """
    fig, ax, rows = _judge_rows(table)
    y = np.arange(len(rows))
    ax.barh(y - 0.18, rows["consistency"].fillna(0), height=0.36, color=OKABE_ITO[2],
            label="consistency (same verdict in both orders)")
    ax.barh(y + 0.18, rows["parse_failed_rate"].fillna(0), height=0.36, color=OKABE_ITO[1],
            label="format-error rate")
    _label_values(ax, rows["consistency"], y - 0.18, ".0%", "n/a: one order judged")
    _label_values(ax, rows["parse_failed_rate"], y + 0.18, ".0%", "n/a")
    ax.set_xlim(0, 1.02)
    ax.set_xlabel("share")
    ax.set_title("Consistency under swapping, and format errors")
    _legend_below(fig, ax)
    return fig
