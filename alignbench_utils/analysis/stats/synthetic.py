"""Synthetic judgments and comparisons frames with known truth, for tests, coverage checks and
benchmarks.

Why in the package: the benchmark script and the tests need the same generator, and a
reader can reproduce a coverage figure from one call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from scipy.special import expit

from alignbench_utils.analysis.stats.bootstrap import bootstrap_replicates, intervals
from alignbench_utils.analysis.stats.matrix import METRICS
from alignbench_utils.taxonomy import CATEGORIES, OVERALL_COL

__all__ = ["expected_game_scores", "interval_coverage", "synthetic_comparisons",
           "synthetic_frame", "synthetic_judge_samples"]


def synthetic_frame(model_means: Sequence[float], sizes: Mapping[str, int], *, sd: float = 1.5,
                    question_sd: float = 1.0, fail_rate: float = 0.0,
                    seed: int = 0) -> pd.DataFrame:
    """Judgments frame: score = model mean + question effect + noise, failures at random.

    ``sizes`` maps category → number of questions; ``question_sd`` is the spread of question
    difficulty shared by all models (what makes paired comparisons sharper). Failed rows get
    ``status='parse_failed'`` and NaN score. The true value of every category is the model
    mean, so every leaderboard metric's truth is the model mean too.

    >>> f = synthetic_frame([6.0, 7.0], {"数学计算": 3, "逻辑推理": 2}, fail_rate=0.0)
    >>> len(f), sorted(f["model"].unique()), f["status"].eq("ok").all()
    (10, ['m0', 'm1'], np.True_)
    """
    unknown = set(sizes) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"unknown categories {sorted(unknown)}")
    rng = np.random.default_rng(seed)
    category = np.repeat(list(sizes), list(sizes.values()))
    n_q, n_m = category.size, len(model_means)
    difficulty = rng.normal(0.0, question_sd, n_q)
    score = (np.asarray(model_means, float)[:, None] + difficulty[None]
             + rng.normal(0.0, sd, (n_m, n_q)))
    failed = rng.random((n_m, n_q)) < fail_rate
    return pd.DataFrame({
        "model": np.repeat([f"m{i}" for i in range(n_m)], n_q),
        "question_id": np.tile(np.arange(n_q), n_m),
        "category": np.tile(category, n_m),
        "status": np.where(failed, "parse_failed", "ok").ravel(),
        "score": np.where(failed, np.nan, score).ravel(),
    })


def interval_coverage(n_sets: int, *, method: str = "percentile", level: float = 0.95,
                      n_boot: int = 1000, per_category: int = 100, seed: int = 0) -> float:
    """Share of ``n_sets`` simulated datasets whose 总分 interval holds the truth (6.0).

    One model, ``per_category`` questions in each of the 8 categories, normal scores
    (question sd 1.0, noise sd 1.5): a setting where the percentile bootstrap is accurate.
    Dataset ``s`` uses data seed ``seed + s`` and bootstrap seed ``s``.
    """
    sizes = {c: per_category for c in CATEGORIES}
    k = METRICS.index(OVERALL_COL)
    hits = 0
    for s in range(n_sets):
        frame = synthetic_frame([6.0], sizes, sd=1.5, question_sd=1.0, seed=seed + s)
        lower, upper = intervals(bootstrap_replicates(frame, n_boot=n_boot, seed=s),
                                 level=level, method=method)
        hits += bool(lower[0, k] <= 6.0 <= upper[0, k])
    return hits / n_sets


def _verdict_probs(advantage: np.ndarray, order: str, position_bias: float,
                   tie_margin: float) -> np.ndarray:
    """P(a wins), P(tie), P(b wins) of one order (last axis), ``advantage`` = a's logit edge.

    The judge sees the first answer's edge ``d`` (a's advantage, plus ``position_bias`` for
    whichever is shown first) and picks it with ``σ(d − τ)``, the other with ``σ(−d − τ)``,
    and a tie otherwise (``τ = tie_margin`` ≥ 0).
    """
    sign = 1.0 if order == "ab" else -1.0
    edge = sign * advantage + position_bias
    first, second = expit(edge - tie_margin), expit(-edge - tie_margin)
    a, b = (first, second) if order == "ab" else (second, first)
    return np.stack([a, 1 - a - b, b], axis=-1)


#: Game score of model_a for (verdict ab, verdict ba) in (a, tie, b) order, per rule; NaN: drop.
_RULE_SCORES = {
    "tie": np.array([[1.0, 0.5, 0.5], [0.5, 0.5, 0.5], [0.5, 0.5, 0.0]]),
    "half": np.array([[1.0, 0.75, 0.5], [0.75, 0.5, 0.25], [0.5, 0.25, 0.0]]),
    "drop": np.array([[1.0, np.nan, np.nan], [np.nan, 0.5, np.nan], [np.nan, np.nan, 0.0]]),
}


def expected_game_scores(strengths: Sequence[float], *, position_bias: float = 0.0,
                         tie_margin: float = 0.5, inconsistent: str = "tie") -> np.ndarray:
    """True expected game score of model i against model j, ``(n, n)``, without length effect.

    The truth :func:`synthetic_comparisons` simulates (with ``length_effect=0``), both orders
    combined by the ``inconsistent`` rule of :func:`~.pairwise.combine_orders` (under
    ``"drop"``: given that the game is used). The win rate of model i against the baseline is
    ``[i, 0]``; its Bradley-Terry target rating is ``1000 + 400·log10(p / (1 − p))``.

    >>> e = expected_game_scores([0.0, 1.0], position_bias=0.3)
    >>> round(float(e[1, 0]), 4), round(float(e[0, 1] + e[1, 0]), 6), float(e[0, 0])
    (0.6733, 1.0, 0.5)
    """
    s = np.asarray(strengths, float)
    advantage = s[:, None] - s[None, :]
    ab = _verdict_probs(advantage, "ab", position_bias, tie_margin)
    ba = _verdict_probs(advantage, "ba", position_bias, tie_margin)
    joint = ab[..., :, None] * ba[..., None, :]
    scores = _RULE_SCORES[inconsistent]
    kept = ~np.isnan(scores)
    return (joint * np.nan_to_num(scores)).sum((-2, -1)) / (joint * kept).sum((-2, -1))


def synthetic_comparisons(strengths: Sequence[float], sizes: Mapping[str, int], *,
                          mean_lengths: Sequence[float] | None = None, length_sd: float = 0.5,
                          length_effect: float = 0.0, position_bias: float = 0.0,
                          tie_margin: float = 0.5, design: str = "baseline",
                          fail_rate: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """Comparisons frame (both orders of every game) with known strengths and biases.

    Models ``m0, m1, …`` with logit ``strengths``; ``m0`` is the baseline. ``design``:
    ``"baseline"`` (every other model as model_a against m0) or ``"all"`` (every pair once).
    Each model answers each question once; the answer length is log-normal with mean
    ``mean_lengths[i]`` (default 400 characters) and log-sd ``length_sd``. In a game, a's edge is
    ``strength_a − strength_b + length_effect · tanh(Δ / sd(Δ))`` with ``Δ = len_a − len_b``
    over all games; each order's verdict follows :func:`expected_game_scores`' judge (position
    bias ``position_bias`` for the answer shown first, ties within ``tie_margin``). A share
    ``fail_rate`` of orders get ``status='parse_failed'`` and no winner.

    >>> f = synthetic_comparisons([0.0, 0.5, 1.0], {"数学计算": 4, "逻辑推理": 2})
    >>> len(f), sorted(f["model_a"].unique()), f["model_b"].unique().tolist()
    (24, ['m1', 'm2'], ['m0'])
    """
    unknown = set(sizes) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"unknown categories {sorted(unknown)}")
    if design not in ("baseline", "all"):
        raise ValueError(f"unknown design {design!r}; use 'baseline' or 'all'")
    rng = np.random.default_rng(seed)
    s = np.asarray(strengths, float)
    n_m = s.size
    means = np.full(n_m, 400.0) if mean_lengths is None else np.asarray(mean_lengths, float)
    category = np.repeat(list(sizes), list(sizes.values()))
    n_q = category.size
    lengths = np.maximum(1, np.round(means[:, None] * np.exp(
        rng.normal(-length_sd**2 / 2, length_sd, (n_m, n_q)))))
    pairs = (np.array([(i, 0) for i in range(1, n_m)]) if design == "baseline"
             else np.array(list(combinations(range(n_m), 2))))
    a, b = np.repeat(pairs[:, 0], n_q), np.repeat(pairs[:, 1], n_q)
    q = np.tile(np.arange(n_q), len(pairs))
    delta = lengths[a, q] - lengths[b, q]
    advantage = s[a] - s[b] + length_effect * np.tanh(delta / delta.std(ddof=1))
    frames = []
    for order in ("ab", "ba"):
        probs = _verdict_probs(advantage, order, position_bias, tie_margin)
        pick = (rng.random(q.size)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
        failed = rng.random(q.size) < fail_rate
        frames.append(pd.DataFrame({
            "question_id": q, "category": category[q], "model_a": [f"m{i}" for i in a],
            "model_b": [f"m{i}" for i in b], "order": order,
            "status": np.where(failed, "parse_failed", "ok"),
            "winner": np.where(failed, None, np.array(["a", "tie", "b"])[np.minimum(pick, 2)]),
            "len_a": lengths[a, q].astype(int), "len_b": lengths[b, q].astype(int)}))
    return pd.concat(frames, ignore_index=True)


def synthetic_judge_samples(model_means: Mapping[str, float], judges: Mapping[str, float], *,
                            per_category: int = 10, samples: int = 3,
                            length_slope: Mapping[str, float] | None = None,
                            self_bonus: Mapping[str, float] | None = None,
                            families: Mapping[str, str] | None = None, sample_sd: float = 1.0,
                            question_sd: float = 1.0, seed: int = 0) -> pd.DataFrame:
    """A sample frame (one row per judge × model × question × sample) with planted judge
    effects, to check that the reliability and bias statistics recover them.

    Score = model mean + question effect + judge leniency (``judges``: name → offset)
    + ``length_slope[judge]`` per 100 characters of answer (lengths vary by answer, 100 to
    1,100 characters) + ``self_bonus[judge]`` on answers of models of the judge's family
    (``families``: model and judge names → family) + sample noise (``sample_sd``), rounded to
    a whole point in 1-10 as a judge writes it.

    >>> f = synthetic_judge_samples({"a": 5, "b": 7}, {"j": 0.0}, per_category=1, samples=2)
    >>> len(f), sorted(f.columns)[:4], int(f["score"].between(1, 10).all())
    (32, ['answer', 'category', 'dimensions', 'judge'], 1)
    """
    rng = np.random.default_rng(seed)
    slope, bonus, family = dict(length_slope or {}), dict(self_bonus or {}), dict(families or {})
    questions = [(c, i) for c in CATEGORIES for i in range(per_category)]
    difficulty = rng.normal(0.0, question_sd, len(questions))
    lengths = rng.integers(100, 1100, (len(model_means), len(questions)))
    rows = []
    for m, (model, mean) in enumerate(model_means.items()):
        for q, (category, _) in enumerate(questions):
            answer = "字" * int(lengths[m, q])
            for judge, leniency in judges.items():
                own = family.get(judge) is not None and family.get(judge) == family.get(model)
                base = (mean + difficulty[q] + leniency + slope.get(judge, 0.0) * lengths[m, q]
                        / 100 + (bonus.get(judge, 0.0) if own else 0.0))
                noise = rng.normal(0.0, sample_sd, samples)
                for k in range(samples):
                    rows.append({"judge": judge, "model": model, "question_id": q,
                                 "category": category, "sample": k, "status": "ok",
                                 "score": float(np.clip(np.round(base + noise[k]), 1, 10)),
                                 "answer": answer, "dimensions": {}})
    return pd.DataFrame(rows)
