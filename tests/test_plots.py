"""Figures: every one draws with Chinese labels fully rendered and saves PNG + SVG at 300 dpi."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.ft2font import FT2Font
from PIL import Image
from run_fixtures import judgment_records

from alignbench_utils import aggregate, plots, stats
from alignbench_utils.taxonomy import (
    CATEGORIES,
    LANGUAGE_COL,
    OVERALL_COL,
    REASONING_COL,
    dimension_definitions,
)


@pytest.fixture(scope="module")
def tables():
    frame = aggregate.judgments_frame(judgment_records("judge-a", per_category=3))
    return {
        "frame": frame,
        "leaderboard": aggregate.leaderboard(frame),
        "ci": stats.bootstrap_leaderboard(frame, n_boot=200, seed=0),
        "comparisons": stats.compare_models(frame, n_boot=200, seed=0),
        "dimensions": aggregate.dimension_means(frame),
        "failures": aggregate.failure_table(frame),
    }


def test_cjk_font_has_every_label_glyph():
    family, path = plots.cjk_font()
    font = FT2Font(str(path))
    labels = [*CATEGORIES, REASONING_COL, LANGUAGE_COL, OVERALL_COL, *dimension_definitions()]
    missing = sorted({ch for label in labels for ch in label if font.get_char_index(ord(ch)) == 0})
    assert not missing, f"{family} ({path}) lacks glyphs {missing}"
    assert plots.use_style() == family
    assert plt.rcParams["font.sans-serif"][0] == family


FIGURES = {
    "leaderboard": lambda t: plots.plot_leaderboard(t["ci"]),
    "category_heatmap": lambda t: plots.plot_category_heatmap(t["leaderboard"]),
    "radar": lambda t: plots.plot_radar(t["leaderboard"]),
    "score_distributions": lambda t: plots.plot_score_distributions(t["frame"]),
    "paired_forest": lambda t: plots.plot_paired_forest(t["comparisons"]),
    "dimension_heatmap": lambda t: plots.plot_dimension_heatmap(t["dimensions"]),
    "failures": lambda t: plots.plot_failures(t["failures"]),
    "score_vs_length": lambda t: plots.plot_score_vs_length(t["frame"]),
}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_draws_without_missing_glyphs_and_saves(tables, tmp_path, name):
    plots.use_style()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = FIGURES[name](tables)
        fig.canvas.draw()
        paths = plots.save_figure(fig, tmp_path, name)
    plt.close(fig)
    glyph = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not glyph, glyph
    assert [p.name for p in paths] == [f"{name}.png", f"{name}.svg"]
    dpi = Image.open(paths[0]).info["dpi"]
    assert round(dpi[0]) == 300
    svg = paths[1].read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<path" in svg


def test_figures_show_the_data(tables):
    plots.use_style()
    heat = plots.plot_category_heatmap(tables["leaderboard"])
    texts = {t.get_text() for t in heat.axes[0].texts}
    first = tables["leaderboard"].iloc[0]
    assert f"{first['数学计算']:.2f}" in texts and f"{first[OVERALL_COL]:.2f}" in texts
    radar = plots.plot_radar(tables["leaderboard"])
    assert [t.get_text() for t in radar.axes[0].get_xticklabels()] == list(CATEGORIES)
    assert len(radar.axes[0].get_lines()) == len(tables["leaderboard"])
    forest = plots.plot_paired_forest(tables["comparisons"])
    n_pairs = int((tables["comparisons"]["metric"] == OVERALL_COL).sum())
    assert len(forest.axes[0].get_yticklabels()) == n_pairs
    fails = plots.plot_failures(tables["failures"])
    assert "(2)" in fails.axes[0].get_title()
    plt.close("all")


def test_cjk_font_installed_after_the_cache_was_built_is_found(monkeypatch):
    """A font apt-installed after matplotlib built its font cache is registered on demand."""
    from matplotlib import font_manager

    family, path = plots.cjk_font()
    without = [f for f in font_manager.fontManager.ttflist if f.name != family]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", without)
    plots.cjk_font.cache_clear()
    try:
        assert plots.cjk_font() == (family, path)
    finally:
        plots.cjk_font.cache_clear()


def test_missing_values_are_marked_not_blank(tables):
    plots.use_style()
    board = tables["leaderboard"].copy()
    board.loc[0, ["数学计算", REASONING_COL, OVERALL_COL]] = float("nan")
    texts = [t.get_text() for t in plots.plot_category_heatmap(board).axes[0].texts]
    assert texts.count("n/a") == 3
    comparisons = tables["comparisons"].assign(diff=float("nan"), lower=float("nan"),
                                               upper=float("nan"), significant=False)
    forest = plots.plot_paired_forest(comparisons)
    assert any("no pair has both" in t.get_text() for t in forest.axes[0].texts)
    plt.close("all")
