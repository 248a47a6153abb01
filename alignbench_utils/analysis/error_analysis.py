"""Where answers go wrong and where the judge does: the tables of notebook 06.

Pure functions of the judgments frame, so the notebook only calls and displays them.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from alignbench_utils.taxonomy import CATEGORIES

__all__ = [
    "clip_texts",
    "failed_judgments",
    "judge_disagreements",
    "length_correlation",
    "worst_answers",
]

TEXT_COLUMNS = ("question", "answer", "judgment")


def clip_texts(frame: pd.DataFrame, max_chars: int) -> pd.DataFrame:
    """A copy with ``answer_chars`` (the full answer length) and long texts cut to
    ``max_chars`` characters for display.

    >>> clip_texts(pd.DataFrame({"question": ["问题"], "answer": ["很长的回答"],
    ...                          "judgment": [None]}), 2).values.tolist()
    [['问题', '很长', '', 5]]
    """
    out = frame.copy()
    out["answer_chars"] = out["answer"].fillna("").str.len()
    for column in TEXT_COLUMNS:
        out[column] = out[column].fillna("").str.slice(0, max_chars)
    return out


def worst_answers(frame: pd.DataFrame, *, n_worst: int,
                  exclude_models: Sequence[str] = ()) -> pd.DataFrame:
    """The ``n_worst`` lowest-scored ok answers per category (categories in official order).

    >>> f = pd.DataFrame({"model": ["a", "a", "b"], "category": ["数学计算"] * 3,
    ...                   "status": ["ok"] * 3, "score": [3.0, 7.0, 1.0], "question_id": [1, 2, 1],
    ...                   "question": [""] * 3, "answer": [""] * 3, "judgment": [""] * 3})
    >>> worst_answers(f, n_worst=1, exclude_models=["b"])["score"].tolist()
    [3.0]
    """
    ok = frame[frame["status"].eq("ok") & ~frame["model"].isin(list(exclude_models))]
    ok = ok.assign(category_order=ok["category"].map(CATEGORIES.index))
    worst = ok.sort_values(["category_order", "score"]).groupby("category", sort=False)
    return worst.head(n_worst)[["category", "model", "question_id", "score", "question",
                                "answer", "judgment"]]


def failed_judgments(frame: pd.DataFrame) -> pd.DataFrame:
    """Every judgment not ok (of every judge in ``frame``), with its reason and raw output."""
    return frame[~frame["status"].eq("ok")][["judge", "model", "question_id", "category",
                                              "status", "error", "judgment"]]


def judge_disagreements(frame: pd.DataFrame, other: pd.DataFrame, *,
                        names: tuple[str, str] = ("judge", "second judge")) -> pd.DataFrame:
    """Every answer two judges both scored ok, largest gap first, with both critiques;
    columns of the two scores are named by ``names``.

    >>> a = pd.DataFrame({"model": ["m", "m"], "question_id": [1, 2], "category": ["c", "c"],
    ...                   "status": ["ok", "ok"], "score": [9.0, 5.0], "judgment": ["x", "y"]})
    >>> b = a.assign(score=[2.0, 5.0], judgment=["p", "q"])
    >>> judge_disagreements(a, b, names=("A", "B"))[["A", "B", "gap"]].values.tolist()
    [[9.0, 2.0, 7.0], [5.0, 5.0, 0.0]]
    """
    keys = ["model", "question_id"]
    both = frame[frame["status"].eq("ok")].merge(
        other[other["status"].eq("ok")][[*keys, "score", "judgment"]], on=keys,
        suffixes=("", "_2"))
    both["gap"] = (both["score"] - both["score_2"]).abs()
    return (both.sort_values("gap", ascending=False, kind="stable")
            [["model", "question_id", "category", "score", "score_2", "gap", "judgment",
              "judgment_2"]].rename(columns={"score": names[0], "score_2": names[1]})
            .reset_index(drop=True))


def length_correlation(frame: pd.DataFrame) -> pd.DataFrame:
    """Spearman correlation of score and answer length per model (ok judgments); a strong
    positive value hints at a length bias of the judge. Needs ``answer_chars``
    (:func:`clip_texts`)."""
    ok = frame[frame["status"].eq("ok")]
    return (ok.groupby("model")[["score", "answer_chars"]].corr(method="spearman")
            .xs("score", level=1)["answer_chars"].rename("spearman(score, length)").round(3)
            .to_frame())
