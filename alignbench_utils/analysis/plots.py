"""Paper-ready figures in one style: leaderboard with CIs, heatmaps, radar, distributions,
paired-difference forest plot, failures, the pairwise view (Bradley-Terry ratings, win
rates by category, length control) and the judge meta-evaluation (position bias, consistency).

Every function takes the tables the other modules produce (leaderboard, bootstrap CIs,
comparisons, dimension means, failure counts, the judgments frame) and returns a
``matplotlib.figure.Figure``; :func:`save_figure` writes PNG + SVG at 300 dpi. Chinese labels
need a CJK font: :func:`use_style` registers one and refuses to draw empty boxes silently.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import lru_cache
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

from alignbench_utils.taxonomy import CATEGORIES, LANGUAGE_COL, OVERALL_COL, REASONING_COL

__all__ = [
    "STYLE_FILE",
    "SUMMARY_METRICS",
    "cjk_font",
    "plot_category_heatmap",
    "plot_consistency",
    "plot_dimension_heatmap",
    "plot_failures",
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


def use_style() -> str:
    """Apply the package style (seaborn + style file) with the CJK font first; returns it."""
    family, _ = cjk_font()
    sns.set_theme(style="whitegrid", palette=_PALETTE)
    plt.style.use(str(STYLE_FILE))
    plt.rcParams["font.sans-serif"] = [family, *plt.rcParams["font.sans-serif"]]
    return family


def save_figure(fig: Figure, directory: str | Path, name: str,
                formats: Sequence[str] = ("png", "svg"), dpi: int = 300) -> list[Path]:
    """Write ``name.png`` and ``name.svg`` (300 dpi) into ``directory``; returns the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = directory / f"{name}.{fmt}"
        fig.savefig(path, dpi=dpi, format=fmt)
        paths.append(path)
    return paths


def _model_order(table: pd.DataFrame, model_col: str, value_col: str) -> list[str]:
    return (table.groupby(model_col)[value_col].mean().sort_values(ascending=False)
            .index.tolist())


def plot_leaderboard(ci: pd.DataFrame, metrics: Sequence[str] = SUMMARY_METRICS,
                     level: float = 0.95) -> Figure:
    """Point estimates with bootstrap CIs per model for the summary metrics.

    ``ci`` is the long table of ``stats.bootstrap_leaderboard``
    (``model, metric, estimate, lower, upper, ...``).
    """
    data = ci[ci["metric"].isin(metrics)]
    order = _model_order(data[data["metric"] == metrics[0]], "model", "estimate")
    fig, ax = plt.subplots(figsize=(7, 0.55 * len(order) * len(metrics) ** 0.5 + 1.4))
    colors = sns.color_palette(_PALETTE, len(metrics))
    offsets = np.linspace(-0.22, 0.22, len(metrics)) if len(metrics) > 1 else [0.0]
    for metric, color, offset in zip(metrics, colors, offsets):
        rows = data[data["metric"] == metric].set_index("model").reindex(order)
        y = np.arange(len(order)) + offset
        err = np.vstack([rows["estimate"] - rows["lower"], rows["upper"] - rows["estimate"]])
        ax.errorbar(rows["estimate"], y, xerr=err, fmt="o", color=color, capsize=3,
                    markersize=5 if metric == metrics[0] else 4, label=metric)
    ax.set_yticks(range(len(order)), order)
    ax.invert_yaxis()
    ax.set_xlabel(f"score (1-10), {level:.0%} bootstrap CI")
    ax.set_title("Leaderboard")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def _leaderboard_matrix(leaderboard: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    model_col = "模型" if "模型" in leaderboard.columns else "model"
    return leaderboard.set_index(model_col).loc[:, list(columns)].astype(float)


def _mark_missing(ax: matplotlib.axes.Axes, matrix: pd.DataFrame) -> None:
    """Write "n/a" in heatmap cells without a value (no ok judgment there)."""
    for row, col in zip(*np.nonzero(matrix.isna().to_numpy())):
        ax.text(col + 0.5, row + 0.5, "n/a", ha="center", va="center", color="0.45")


def _score_heatmap(matrix: pd.DataFrame, *, figsize: tuple[float, float], fmt: str, label: str,
                   title: str, limits: tuple[float, float] = (1, 10)) -> tuple[Figure, plt.Axes]:
    """A score heatmap (1-10 unless ``limits`` say otherwise) with values in the cells and
    missing cells marked "n/a"."""
    fig, ax = plt.subplots(figsize=figsize)
    sns.heatmap(matrix, annot=True, fmt=fmt, cmap="RdYlGn", vmin=limits[0], vmax=limits[1],
                ax=ax, linewidths=0.5, cbar_kws={"label": label})
    _mark_missing(ax, matrix)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=35)
    ax.grid(False)
    return fig, ax


def plot_category_heatmap(leaderboard: pd.DataFrame) -> Figure:
    """Models × (8 categories + 3 summaries) with the values written in each cell."""
    matrix = _leaderboard_matrix(leaderboard, [*CATEGORIES, *SUMMARY_METRICS[1:], OVERALL_COL])
    fig, ax = _score_heatmap(matrix, figsize=(9.5, 0.5 * len(matrix) + 1.8), fmt=".2f",
                             label="mean score", title="Mean score per category")
    ax.axvline(len(CATEGORIES), color="white", linewidth=3)
    return fig


def plot_radar(leaderboard: pd.DataFrame) -> Figure:
    """The AlignBench paper's radar chart: one polygon per model over the 8 categories."""
    matrix = _leaderboard_matrix(leaderboard, CATEGORIES)
    angles = np.linspace(0, 2 * np.pi, len(CATEGORIES), endpoint=False)
    closed = np.append(angles, angles[0])
    fig, ax = plt.subplots(figsize=(6.5, 6), subplot_kw={"projection": "polar"})
    colors = sns.color_palette(_PALETTE, len(matrix))
    for (model, row), color in zip(matrix.iterrows(), colors):
        values = np.append(row.to_numpy(), row.to_numpy()[0])
        ax.plot(closed, values, color=color, linewidth=1.6, label=model)
        ax.fill(closed, values, color=color, alpha=0.08)
    ax.set_xticks(angles, list(CATEGORIES))
    ax.set_ylim(0, 10)
    ax.set_yticks([2, 4, 6, 8, 10])
    ax.set_theta_offset(np.pi / 2)
    ax.set_theta_direction(-1)
    ax.tick_params(axis="x", pad=14)
    ax.set_title("Category scores", pad=28)
    ax.legend(loc="upper left", bbox_to_anchor=(1.05, 1.05))
    return fig


def plot_score_distributions(judgments: pd.DataFrame) -> Figure:
    """Per-category distribution of ok scores, one box per model, with the points."""
    ok = judgments[judgments["status"].eq("ok")].copy()
    order = [c for c in CATEGORIES if c in set(ok["category"])]
    models = _model_order(ok, "model", "score")
    fig, ax = plt.subplots(figsize=(10, 4.2))
    with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib 3.11's deprecated `vert`
        warnings.simplefilter("ignore", matplotlib.MatplotlibDeprecationWarning)
        sns.boxplot(data=ok, x="category", y="score", hue="model", order=order,
                    hue_order=models, ax=ax, fliersize=0, linewidth=0.8, palette=_PALETTE)
    sns.stripplot(data=ok, x="category", y="score", hue="model", order=order,
                  hue_order=models, dodge=True, ax=ax, size=2.5, alpha=0.6, palette="dark:0.2",
                  legend=False)
    ax.set_ylim(0.5, 10.5)
    ax.set_xlabel("")
    ax.set_title("Score distribution per category (ok judgments)")
    ax.legend(title="model", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def plot_paired_forest(comparisons: pd.DataFrame, metric: str = OVERALL_COL) -> Figure:
    """Paired differences (a − b) with CIs; filled markers where significant after correction.

    ``comparisons`` is the table of ``stats.compare_models``.
    """
    rows = comparisons[comparisons["metric"] == metric].copy()
    rows["pair"] = rows["model_a"].astype(str) + " − " + rows["model_b"].astype(str)
    rows = rows.sort_values("diff").reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.5))
    for y, row in rows.iterrows():
        sig = bool(row["significant"])
        color = sns.color_palette(_PALETTE)[3 if sig else 7]
        ax.plot([row["lower"], row["upper"]], [y, y], color=color, linewidth=1.8)
        ax.plot(row["diff"], y, "o", color=color, markerfacecolor=color if sig else "white",
                markersize=6)
    ax.axvline(0, color="0.3", linewidth=0.8, linestyle="--")
    if rows["diff"].isna().all():
        ax.text(0.5, 0.5, f"no pair has both {metric} values\n(a category without ok judgments)",
                transform=ax.transAxes, ha="center", va="center", color="0.4")
    ax.set_yticks(range(len(rows)), rows["pair"])
    ax.set_xlabel(f"difference in {metric} (filled: significant after correction)")
    ax.set_title("Paired model comparisons")
    return fig


def plot_dimension_heatmap(dimension_means: pd.DataFrame) -> Figure:
    """Models × judge dimensions (mean dimension score), values in the cells."""
    matrix = dimension_means.pivot(index="model", columns="dimension", values="mean")
    fig, _ = _score_heatmap(matrix, figsize=(1.0 * matrix.shape[1] + 2.5, 0.5 * len(matrix) + 2.0),
                            fmt=".1f", label="mean dimension score",
                            title="Mean score per judge dimension")
    return fig


def plot_failures(failures: pd.DataFrame) -> Figure:
    """Stacked counts of parse failures and errors per judge/model (zeros shown as such).

    ``failures`` is the table of ``aggregate.failure_table``.
    """
    kinds = [k for k in ("parse_failed", "error") if k in failures.columns]
    label = failures["model"].astype(str)
    if failures["judge"].nunique() > 1:
        label = failures["judge"].astype(str) + " / " + label
    counts = failures.assign(label=label).groupby("label")[kinds].sum()
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(counts) + 1.5))
    left = np.zeros(len(counts))
    for kind, color in zip(kinds, sns.color_palette(_PALETTE)[1:3]):
        ax.barh(counts.index, counts[kind], left=left, color=color, label=kind)
        left += counts[kind].to_numpy()
    for y, value in enumerate(left):
        ax.text(value, y, f" {int(value)}", va="center", fontsize=9)
    total = int(left.sum())
    ax.set_xlim(0, max(1.0, left.max() * 1.15))
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("failed judgments")
    ax.set_title("Failed judgments" + (" (none)" if total == 0 else f" ({total})"))
    ax.invert_yaxis()
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def plot_score_vs_length(judgments: pd.DataFrame) -> Figure:
    """Judge score against answer length (characters), one colour per model: a length bias
    shows as a slope."""
    ok = judgments[judgments["status"].eq("ok")].copy()
    ok["answer_chars"] = ok["answer"].fillna("").str.len()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    sns.scatterplot(data=ok, x="answer_chars", y="score", hue="model", ax=ax, alpha=0.7,
                    palette=_PALETTE, s=22)
    ax.set_xscale("symlog", linthresh=100)
    ax.set_ylim(0.5, 10.5)
    ax.set_xlabel("answer length (characters)")
    ax.set_title("Score vs answer length")
    ax.legend(title="model", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def plot_rating_forest(ratings: pd.DataFrame, level: float = 0.95) -> Figure:
    """Bradley-Terry ratings with bootstrap CIs, best first; the baseline (square) anchors the
    scale and its rating is the dashed line.

    ``ratings`` is the table of ``stats.bradley_terry``; models without games are left out.
    """
    rows = ratings.dropna(subset=["rating"]).sort_values("rating", ascending=False)
    rows = rows.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(rows) + 1.5))
    colors = sns.color_palette(_PALETTE)
    for y, row in rows.iterrows():
        base = bool(row["is_baseline"])
        ax.plot([row["lower"], row["upper"]], [y, y], color=colors[7 if base else 0],
                linewidth=1.8)
        ax.plot(row["rating"], y, "s" if base else "o", color=colors[7 if base else 0],
                markersize=6)
    anchor = rows.loc[rows["is_baseline"], "rating"]
    if len(anchor):
        ax.axvline(anchor.iloc[0], color="0.3", linewidth=0.8, linestyle="--")
    ax.set_yticks(range(len(rows)), rows["model"])
    ax.invert_yaxis()
    ax.set_xlabel(f"Bradley-Terry rating (Elo scale), {level:.0%} bootstrap CI")
    ax.set_title("Pairwise ranking against the baseline")
    return fig


def plot_win_rate_heatmap(win_rates: pd.DataFrame) -> Figure:
    """Models × (8 categories + 总分) win rate against the baseline, values in the cells.

    ``win_rates`` is the table of ``stats.win_rates``; rows sorted by 总分.
    """
    matrix = win_rates.pivot(index="model", columns="metric", values="win_rate")
    matrix = matrix.reindex(columns=[*CATEGORIES, OVERALL_COL])
    matrix = matrix.sort_values(OVERALL_COL, ascending=False)
    fig, ax = _score_heatmap(matrix, figsize=(9.5, 0.5 * len(matrix) + 1.8), fmt=".0%",
                             label="win rate (win + tie/2)", limits=(0, 1),
                             title="Win rate against the baseline per category")
    ax.axvline(len(CATEGORIES), color="white", linewidth=3)
    return fig


def plot_length_control(table: pd.DataFrame, level: float = 0.95) -> Figure:
    """Raw and length-controlled win rate per model (left), and both against the mean answer
    length (right): the gap between a hollow and a filled marker is what length explains.

    ``table`` is ``stats.length_controlled_win_rates(...).table``.
    """
    rows = table[~table["is_baseline"]].sort_values("lc_win_rate", ascending=False)
    rows = rows.reset_index(drop=True)
    raw_color, lc_color = sns.color_palette(_PALETTE)[1], sns.color_palette(_PALETTE)[0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 0.35 * len(rows) + 2.2),
                                      gridspec_kw={"width_ratios": [1.2, 1]})
    y = np.arange(len(rows))
    left.hlines(y, rows["win_rate"], rows["lc_win_rate"], color="0.6", linewidth=1)
    left.errorbar(rows["lc_win_rate"], y, fmt="o", color=lc_color, capsize=3,
                  xerr=[rows["lc_win_rate"] - rows["lc_lower"],
                        rows["lc_upper"] - rows["lc_win_rate"]],
                  label=f"length-controlled ({level:.0%} CI)")
    left.plot(rows["win_rate"], y, "o", color=raw_color, markerfacecolor="white", label="raw")
    left.set_yticks(y, rows["model"])
    left.invert_yaxis()
    left.axvline(0.5, color="0.3", linewidth=0.8, linestyle="--")
    left.set_xlabel("win rate against the baseline")
    left.legend(loc="lower right", fontsize=8)
    right.vlines(rows["mean_length"], rows["win_rate"], rows["lc_win_rate"], color="0.6",
                 linewidth=1)
    right.scatter(rows["mean_length"], rows["win_rate"], facecolors="white",
                  edgecolors=raw_color, label="raw")
    right.scatter(rows["mean_length"], rows["lc_win_rate"], color=lc_color,
                  label="length-controlled")
    baseline = table.loc[table["is_baseline"], "mean_length"]
    if len(baseline):
        right.axvline(baseline.iloc[0], color="0.3", linewidth=0.8, linestyle="--")
    right.axhline(0.5, color="0.3", linewidth=0.8, linestyle=":")
    right.set_xlabel("mean answer length (characters; dashed: baseline)")
    right.set_ylabel("win rate")
    right.legend(loc="best", fontsize=8)
    fig.suptitle("Length control: raw vs length-controlled win rate")
    return fig


def _judge_rows(table: pd.DataFrame) -> tuple[Figure, plt.Axes, pd.DataFrame]:
    """One horizontal row per judge × benchmark subset of a judge-eval study table."""
    rows = table.assign(row=table["judge"].astype(str) + " · " + table["subset"].astype(str))
    rows = rows.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.8))
    ax.set_yticks(range(len(rows)), rows["row"])
    ax.invert_yaxis()
    return fig, ax, rows


def _label_values(ax: matplotlib.axes.Axes, values: pd.Series, y: np.ndarray, fmt: str,
                  undefined: str) -> None:
    """Each bar's value beside it (zeros too: nothing silent), ``undefined`` where NaN."""
    for value, where in zip(values.to_numpy(dtype=float), y):
        text = undefined if np.isnan(value) else format(value, fmt)
        ax.text(0.01 if np.isnan(value) else max(value, 0) + 0.01, where, f" {text}",
                va="center", fontsize=8, color="0.3")


def plot_position_bias(table: pd.DataFrame) -> Figure:
    """Position bias per judge and benchmark subset: the share of decisive verdicts for the
    response shown first, minus 0.5 (0: no lean), with the share of items where the judge
    picked the first-shown response in *both* orders (it changed its mind with the order).

    ``table`` is the study table of ``judge_eval.judge_eval_table`` /
    ``judgebench.study_table``.
    """
    fig, ax, rows = _judge_rows(table)
    colors = sns.color_palette(_PALETTE)
    ax.barh(range(len(rows)), rows["position_bias"].fillna(0), color=colors[0], height=0.55,
            label="first-shown share − 0.5")
    ax.plot(rows["biased_first"], range(len(rows)), "D", color=colors[3], markersize=5,
            label="first-shown in both orders (share of items)")
    _label_values(ax, rows["position_bias"], np.arange(len(rows)) + 0.3, "+.2f",
                  "n/a: no decisive verdict")
    ax.axvline(0, color="0.3", linewidth=0.8)
    ax.set_xlim(-0.55, 1.05)
    ax.set_xlabel("position bias (0 = none; > 0 favours the response shown first)")
    ax.set_title("Position bias of each judge")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return fig


def plot_consistency(table: pd.DataFrame) -> Figure:
    """Consistency per judge and benchmark subset (same verdict in both orders, share of items
    judged in both) next to its format-error rate (replies without a verdict); a judge of one
    order has no consistency ("n/a").

    ``table`` is the study table of ``judge_eval.judge_eval_table``.
    """
    fig, ax, rows = _judge_rows(table)
    colors = sns.color_palette(_PALETTE)
    y = np.arange(len(rows))
    ax.barh(y - 0.18, rows["consistency"].fillna(0), height=0.36, color=colors[2],
            label="consistency (same verdict in both orders)")
    ax.barh(y + 0.18, rows["parse_failed_rate"].fillna(0), height=0.36, color=colors[1],
            label="format-error rate")
    _label_values(ax, rows["consistency"], y - 0.18, ".0%", "n/a: one order judged")
    _label_values(ax, rows["parse_failed_rate"], y + 0.18, ".0%", "n/a")
    ax.set_xlim(0, 1.02)
    ax.set_xlabel("share")
    ax.set_title("Consistency under swapping, and format errors")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return fig
