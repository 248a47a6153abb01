"""Figures: every one draws with Chinese labels fully rendered, at print size (column and page
width, text >= 7 pt, no colliding tick labels), with one colour per model across figures, and
saves PDF (fonts embedded, <= 7 in wide), SVG and PNG at 300 dpi."""

from __future__ import annotations

import re
import warnings
import zlib

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.ft2font import FT2Font
from PIL import Image
from run_fixtures import judgment_records

from alignbench_utils.analysis import aggregate, cross_judge, plots, stats
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
        "confusion": cross_judge.score_confusion(two_judges(), ("judge-a", "judge-b")),
        **pairwise_tables(),
    }


def two_judges():
    return aggregate.judgments_frame(judgment_records("judge-a", per_category=3)
                                     + judgment_records("judge-b", per_category=3, seed=1))


def pairwise_tables() -> dict:
    """The pairwise view of a synthetic run: five challengers against m0, a planted length
    effect, a few format errors."""
    comparisons = stats.synthetic_comparisons(
        [0.0, 0.6, 0.2, -0.3, 0.9, 0.1], {c: 12 for c in CATEGORIES},
        mean_lengths=[400, 800, 300, 500, 400, 650], length_effect=1.0, fail_rate=0.05, seed=0)
    return {
        "ratings": stats.bradley_terry(comparisons, baseline="m0", n_boot=200, seed=0),
        "win_rates": stats.win_rates(comparisons, baseline="m0", n_boot=200, seed=0),
        "length_control": stats.length_controlled_win_rates(comparisons, baseline="m0").table,
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
    "category_ci": lambda t: plots.plot_category_ci(t["ci"]),
    "judge_confusion": lambda t: plots.plot_judge_confusion(t["confusion"], ("judge-a", "judge-b")),
    "category_heatmap": lambda t: plots.plot_category_heatmap(t["leaderboard"]),
    "radar": lambda t: plots.plot_radar(t["leaderboard"]),
    "score_distributions": lambda t: plots.plot_score_distributions(t["frame"]),
    "paired_forest": lambda t: plots.plot_paired_forest(t["comparisons"]),
    "dimension_heatmap": lambda t: plots.plot_dimension_heatmap(t["dimensions"]),
    "failures": lambda t: plots.plot_failures(t["failures"]),
    "score_vs_length": lambda t: plots.plot_score_vs_length(t["frame"]),
    "rating_forest": lambda t: plots.plot_rating_forest(t["ratings"]),
    "win_rate_heatmap": lambda t: plots.plot_win_rate_heatmap(t["win_rates"]),
    "length_control": lambda t: plots.plot_length_control(t["length_control"]),
}


def pdf_facts(path) -> tuple[float, bytes]:
    """Width in inches (MediaBox) and the decompressed object streams of a PDF."""
    data = path.read_bytes()
    box = re.search(rb"/MediaBox \[\s*([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+)", data)
    streams = [zlib.decompress(m) for m in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data,
                                                      re.DOTALL) if m[:1] == b"x"]
    return (float(box.group(3)) - float(box.group(1))) / 72, data + b"".join(streams)


def tick_label_collisions(fig) -> list[tuple[str, str]]:
    """Pairs of visible tick labels, within one axes, whose rendered boxes overlap."""
    renderer = fig.canvas.get_renderer()
    pairs = []
    for ax in fig.axes:
        for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
            shown = [t for t in labels if t.get_visible() and t.get_text()]
            boxes = [t.get_window_extent(renderer) for t in shown]
            pairs += [(shown[i].get_text(), shown[j].get_text())
                      for i in range(len(boxes)) for j in range(i + 1, len(boxes))
                      if boxes[i].overlaps(boxes[j])]
    return pairs


@pytest.mark.parametrize("width", ["column", "page"])
@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_is_print_ready_and_saves(tables, tmp_path, name, width):
    plots.use_style(width)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = FIGURES[name](tables)
        fig.canvas.draw()
        paths = plots.save_figure(fig, tmp_path, name)
    glyph = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not glyph, glyph
    assert not tick_label_collisions(fig), tick_label_collisions(fig)
    small = {(t.get_text(), t.get_fontsize()) for t in fig.findobj(matplotlib.text.Text)
             if t.get_visible() and t.get_text().strip() and t.get_fontsize() < 7}
    assert not small, small
    plt.close(fig)
    assert [p.name for p in paths] == [f"{name}.pdf", f"{name}.svg", f"{name}.png"]
    inches, pdf = pdf_facts(paths[0])
    limit = {"column": 3.3, "page": 6.8}[width] + 0.02  # print width, rounding
    assert inches <= limit, (name, width, inches)
    assert b"/FontFile2" in pdf and b"WenQuanYi" in pdf  # TrueType, CJK font embedded
    assert b"/Type3" not in pdf
    dpi = Image.open(paths[2]).info["dpi"]
    assert round(dpi[0]) == 300
    svg = paths[1].read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<path" in svg


def test_a_model_keeps_its_colour_and_place_in_every_figure(tables):
    """The run's order (best 总分 first) fixes each model's colour; the reference control is
    grey and dashed wherever it appears."""
    order = plots.model_order(tables["leaderboard"])
    plots.use_style("column", models=order, reference=["reference"])
    expected = {m: plots.model_color(m) for m in order}
    assert expected["reference"] == plots.REFERENCE_COLOR
    others = [c for m, c in expected.items() if m != "reference"]
    assert len(set(others)) == len(others) and set(others) <= set(plots.OKABE_ITO)
    to_hex = matplotlib.colors.to_hex
    lb = plots.plot_leaderboard(tables["ci"])
    labels = [t.get_text() for t in lb.axes[0].get_yticklabels()]
    assert labels == order
    seen_lb = {to_hex(line.get_color()) for line in lb.axes[0].lines if line.get_xdata().size}
    assert {to_hex(c) for c in expected.values()} <= seen_lb
    cat = plots.plot_category_ci(tables["ci"])
    legend = cat.legends[0]
    colours = {t.get_text(): to_hex(h.lines[0].get_color() if hasattr(h, "lines") else
                                    h.get_color()) for t, h in zip(legend.get_texts(),
                                                                   legend.legend_handles)}
    assert colours == {m: to_hex(c) for m, c in expected.items()}
    radar = plots.plot_radar(tables["leaderboard"])
    titles = {ax.get_title(): ax for ax in radar.axes if ax.get_visible()}
    assert list(titles) == order
    for model, ax in titles.items():
        line = next(line for line in ax.lines if to_hex(line.get_color()) != to_hex("0.8"))
        assert to_hex(line.get_color()) == to_hex(expected[model])
        assert (line.get_linestyle() == "--") == (model == "reference")
    heat = plots.plot_category_heatmap(tables["leaderboard"])
    assert [t.get_text() for t in heat.axes[0].get_yticklabels()] == order
    plt.close("all")


def test_figures_show_the_data(tables):
    plots.use_style()
    heat = plots.plot_category_heatmap(tables["leaderboard"])
    texts = {t.get_text() for t in heat.axes[0].texts}
    first = tables["leaderboard"].iloc[0]
    assert f"{first['数学计算']:.2f}" in texts and f"{first[OVERALL_COL]:.2f}" in texts
    radar = plots.plot_radar(tables["leaderboard"])
    assert [t.get_text() for t in radar.axes[0].get_xticklabels()] == list(CATEGORIES)
    assert len(radar.axes[0].get_lines()) == len(tables["leaderboard"])  # its own + the others
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


def test_pairwise_figures_show_the_data(tables):
    plots.use_style()
    ratings = tables["ratings"]
    forest = plots.plot_rating_forest(ratings).axes[0]
    assert [t.get_text() for t in forest.get_yticklabels()] == ratings["model"].tolist()
    baseline_line = [line for line in forest.get_lines() if line.get_linestyle() == "--"]
    assert baseline_line and baseline_line[0].get_xdata()[0] == 1000
    rates = tables["win_rates"]
    heat = plots.plot_win_rate_heatmap(rates).axes[0]
    assert [t.get_text() for t in heat.get_xticklabels()] == [*CATEGORIES, OVERALL_COL]
    best = rates[rates["metric"] == OVERALL_COL].sort_values("win_rate").iloc[-1]
    assert heat.get_yticklabels()[0].get_text() == best["model"]
    assert f"{best['win_rate']:.0%}" in {t.get_text() for t in heat.texts}
    control = tables["length_control"]
    left, right = plots.plot_length_control(control).axes
    challengers = control[~control["is_baseline"]]
    assert len(left.get_yticklabels()) == len(challengers)
    assert len(right.collections) == 3  # connecting lines, raw and length-controlled points
    plt.close("all")


def test_win_rate_heatmap_marks_missing_categories(tables):
    plots.use_style()
    rates = tables["win_rates"].copy()
    rates.loc[rates["metric"] == "数学计算", "win_rate"] = float("nan")
    texts = [t.get_text() for t in plots.plot_win_rate_heatmap(rates).axes[0].texts]
    assert texts.count("n/a") == rates["model"].nunique()
    plt.close("all")
