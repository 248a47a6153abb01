"""Judge replacement: put one judge's scores on another judge's scale, with honest errors.

Why: the original AlignBench judge (GPT-4-0613) is retired; a leaderboard judged by a new
judge can be set beside an old one only through a mapping fitted where both judged the same
answers. The mapping is fitted per category (judges differ by category) on a split of the
*questions*, and its error is reported on the held-out questions only: ``linear``
(least squares) or ``isotonic`` (monotone, scipy's ``isotonic_regression``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.optimize import isotonic_regression

__all__ = ["METHODS", "calibrate_judge", "calibration_errors", "fit_mapping"]

METHODS = ("linear", "isotonic")


def fit_mapping(x: np.ndarray, y: np.ndarray, method: str) -> Callable[[np.ndarray], np.ndarray]:
    """A function mapping source scores ``x`` onto target scores ``y``.

    >>> f = fit_mapping(np.array([1.0, 2, 3, 4]), np.array([2.0, 4, 6, 8]), "linear")
    >>> f(np.array([5.0])).round(6).tolist()
    [10.0]
    >>> g = fit_mapping(np.array([1.0, 2, 2, 3]), np.array([1.0, 5, 3, 2]), "isotonic")
    >>> g(np.array([1.0, 2.0, 3.0])).round(2).tolist()
    [1.0, 3.33, 3.33]
    """
    if method == "linear":
        if np.ptp(x) == 0:
            mean = float(np.mean(y))
            return lambda v: np.full(np.shape(v), mean)
        slope, intercept = np.polyfit(x, y, 1)
        return lambda v: slope * np.asarray(v, float) + intercept
    if method != "isotonic":
        raise ValueError(f"unknown method {method!r}; allowed: {', '.join(METHODS)}")
    xs, inverse = np.unique(x, return_inverse=True)
    sums = np.bincount(inverse, y)
    weights = np.bincount(inverse).astype(float)
    fitted = isotonic_regression(sums / weights, weights=weights).x
    return lambda v: np.interp(np.asarray(v, float), xs, fitted)


def calibrate_judge(items: pd.DataFrame, source: str, target: str, *, method: str = "linear",
                    by_category: bool = True, test_size: float = 0.3,
                    seed: int = 0) -> pd.DataFrame:
    """Fit ``source``'s scores onto ``target``'s on a random ``1 - test_size`` of the
    questions both scored (``default_rng(seed)``), per category when ``by_category`` (a
    category with fewer than 3 training items falls back to the pooled fit), and report on
    the held-out questions. One row per held-out item: ``model, question_id, category,
    target, raw, calibrated`` (summarised by :func:`calibration_errors`).
    """
    ok = items[items["status"].eq("ok") & items["judge"].isin([source, target])]
    wide = (ok.assign(score=pd.to_numeric(ok["score"]))
            .pivot_table(index=["model", "question_id", "category"], columns="judge",
                         values="score", aggfunc="first")
            .dropna(subset=[c for c in (source, target)]).reset_index())
    if wide.empty:
        raise ValueError(f"no answers scored by both {source!r} and {target!r}")
    questions = np.unique(wide["question_id"])
    rng = np.random.default_rng(seed)
    test = set(rng.choice(questions, max(1, round(test_size * len(questions))), replace=False))
    held = wide["question_id"].isin(test).to_numpy()
    train, out = wide[~held], wide[held].copy()
    pooled = fit_mapping(train[source].to_numpy(), train[target].to_numpy(), method)
    out["calibrated"] = pooled(out[source].to_numpy())
    if by_category:
        for category, part in train.groupby("category"):
            rows = out["category"].eq(category).to_numpy()
            if len(part) >= 3 and rows.any():
                mapping = fit_mapping(part[source].to_numpy(), part[target].to_numpy(), method)
                out.loc[rows, "calibrated"] = mapping(out.loc[rows, source].to_numpy())
    out = out.rename(columns={target: "target", source: "raw"})
    return out[["model", "question_id", "category", "target", "raw", "calibrated"]] \
        .reset_index(drop=True)


def calibration_errors(held_out: pd.DataFrame) -> pd.DataFrame:
    """Mean absolute and root mean squared error against the target judge on held-out items,
    before (``raw``) and after (``calibrated``) the mapping, per category and overall.

    >>> h = pd.DataFrame({"category": ["a", "a"], "target": [5.0, 7.0], "raw": [3.0, 5.0],
    ...                   "calibrated": [5.0, 6.0]})
    >>> e = calibration_errors(h)
    >>> e["category"].tolist(), e["mae_raw"].tolist(), e["mae_calibrated"].tolist()
    (['a', 'all'], [2.0, 2.0], [0.5, 0.5])
    """
    def errors(part: pd.DataFrame) -> dict[str, float]:
        raw, cal = part["raw"] - part["target"], part["calibrated"] - part["target"]
        return {"n": len(part), "mae_raw": float(raw.abs().mean()),
                "mae_calibrated": float(cal.abs().mean()),
                "rmse_raw": float(np.sqrt((raw**2).mean())),
                "rmse_calibrated": float(np.sqrt((cal**2).mean()))}

    rows = [{"category": c, **errors(p)} for c, p in held_out.groupby("category", sort=True)]
    rows.append({"category": "all", **errors(held_out)})
    return pd.DataFrame(rows)
