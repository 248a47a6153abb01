"""Published figures reproduced from published judge outputs, through the importers and metrics.

LLMBar: each subset's ChatGPT (Vanilla_NoRules) ``result.json`` gives its ``statistics.json``
``correct_average``, ``correct_both`` and ``equal`` (counts exactly, percentages to float
precision). PandaLM: its two output files give the README's accuracy / precision / recall / F1.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from alignbench_utils import InputError
from alignbench_utils.judgebench import (
    LLMBAR_PROCESSED,
    LLMBAR_SUBSETS,
    import_llmbar_result,
    import_pandalm_result,
    judge_metrics,
    load_llmbar,
    load_pandalm,
    published_llmbar_chatgpt,
    published_pandalm,
)
from alignbench_utils.paths import judgebench_dir

RESULTS = judgebench_dir() / "llmbar" / "results_chatgpt_vanilla_norules"


@pytest.fixture(scope="module")
def llmbar_metrics() -> pd.DataFrame:
    items = pd.concat([load_llmbar(s) for s in LLMBAR_SUBSETS + LLMBAR_PROCESSED])
    table = judge_metrics(published_llmbar_chatgpt(), items, n_boot=200)
    return table.set_index(["subset", "metric"])


def published_statistic(text: str) -> tuple[int | None, float]:
    """'24 / 92 = 26.08695652173913%' → (24, 26.08…); '29.347826086956523%' → (None, 29.3…)."""
    match = re.fullmatch(r"(?:(\d+) / \d+ = )?([\d.]+)%", text)
    assert match, text
    return (int(match[1]) if match[1] else None), float(match[2])


@pytest.mark.parametrize("subset", LLMBAR_SUBSETS + LLMBAR_PROCESSED)
def test_llmbar_chatgpt_statistics(subset, llmbar_metrics):
    stats = json.loads((RESULTS / f"{subset}.statistics.json").read_text())
    for name in ("correct_average", "correct_both", "equal"):
        row = llmbar_metrics.loc[(subset, name)]
        count, percent = published_statistic(stats[name])
        assert row["estimate"] * 100 == pytest.approx(percent, rel=1e-13, abs=1e-13), name
        if count is not None:
            assert round(row["estimate"] * row["n_items"]) == count, name
        assert row["lower"] <= row["estimate"] <= row["upper"]
    for name, official in (("correct_ab", "correct_False"), ("correct_ba", "correct_True")):
        count, _ = published_statistic(stats[official])
        assert round(llmbar_metrics.loc[(subset, name), "estimate"] * len(load_llmbar(subset))) \
            == count


def test_llmbar_import_keeps_raw_text_and_marks_refusals_as_errors():
    verdicts = published_llmbar_chatgpt()
    assert len(verdicts) == 2 * 885 and set(verdicts["order"]) == {"ab", "ba"}
    errors = verdicts[verdicts["status"].eq("error")]
    assert len(errors) == 11 and set(errors["error"]) == {"content management policy"}
    assert set(errors["subset"]) == {"Processed_LLMEval2"} and errors["verdict"].isna().all()
    ok = verdicts[verdicts["status"].eq("ok")]
    assert set(ok["raw"]) == {"Output (a)", "Output (b)"}


PANDALM_PUBLISHED = {
    "gpt-3.5-turbo (published)": (71.07, 58.79, 57.36, 57.55),
    "PandaLM-7B (published)": (66.77, 57.38, 57.50, 57.43),
}


@pytest.mark.parametrize("judge", PANDALM_PUBLISHED)
def test_pandalm_published_figures(judge):
    table = judge_metrics(published_pandalm(), load_pandalm(), n_boot=200)
    got = table[table["judge"].eq(judge)].set_index("metric")["estimate"]
    figures = [round(100 * got[m], 2) for m in ("accuracy", "precision", "recall", "f1")]
    assert figures == list(PANDALM_PUBLISHED[judge])
    fallbacks = round(got["fallback_rate"] * 999)
    assert fallbacks == (25 if judge.startswith("gpt") else 0)  # the "garbage" replies


def test_importers_refuse_misaligned_files(tmp_path):
    records = json.loads((RESULTS / "Natural.result.json").read_text())
    shuffled = tmp_path / "Natural.result.json"
    shuffled.write_text(json.dumps([records[1], records[0], *records[2:]]))
    with pytest.raises(InputError, match="differs from the shipped item 0") as info:
        import_llmbar_result(shuffled, subset="Natural")
    assert (info.value.item, info.value.field) == (0, "input")
    with pytest.raises(InputError, match="100 items, but Adversarial_Manual has 46"):
        import_llmbar_result(RESULTS / "Natural.result.json", subset="Adversarial_Manual")
    broken = tmp_path / "broken.result.json"
    records[3]["results"][-1]["swap = True"]["winner"] = "3"
    broken.write_text(json.dumps(records))
    with pytest.raises(InputError, match=re.escape("'winner': '1' | '2' | null")) as info:
        import_llmbar_result(broken, subset="Natural")
    assert (info.value.item, info.value.field) == (3, "results[-1].swap = True")
    with pytest.raises(InputError, match="no shipped LLMBar subset"):
        import_llmbar_result(broken, subset="Mine")

    outputs = json.loads((judgebench_dir() / "pandalm" / "gpt-3.5-turbo-testset-v1.json")
                         .read_text())
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(outputs[:5] + [outputs[5] | {"gpt_result": "maybe"}]
                              + outputs[6:]))
    with pytest.raises(InputError, match="got 'maybe'") as info:
        import_pandalm_result(bad)
    assert (info.value.item, info.value.field) == (5, "gpt_result")
    bad.write_text(json.dumps(outputs[1:] + outputs[:1]))
    with pytest.raises(InputError, match="idx 1 at the place of test item 0"):
        import_pandalm_result(bad)
    bad.write_text(json.dumps([{k: v for k, v in o.items() if k != "gpt_result"}
                               for o in outputs]))
    with pytest.raises(InputError, match="no result field"):
        import_pandalm_result(bad)
