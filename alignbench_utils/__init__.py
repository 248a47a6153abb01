"""alignbench_utils: a faithful, robust, notebook-first runner for AlignBench.

Public, stable names are re-exported here (imported on first use); everything else lives in
small modules.
"""

from typing import TYPE_CHECKING

from alignbench_utils._version import __version__
from alignbench_utils.errors import InputError
from alignbench_utils.lazy import lazy_exports

if TYPE_CHECKING:
    from alignbench_utils.analysis import stats
    from alignbench_utils.analysis.aggregate import dimension_means, judgments_frame, leaderboard
    from alignbench_utils.data.questions import load_questions
    from alignbench_utils.protocols.parsing import Judgment, official_parse, parse_judgment
    from alignbench_utils.protocols.prompts import build_judge_prompt

# Loaded on first use, so `alignbench judge` does not import pandas through this file.
__getattr__, __dir__ = lazy_exports(__name__, {
    **dict.fromkeys(["dimension_means", "judgments_frame", "leaderboard"], ".analysis.aggregate"),
    "load_questions": ".data.questions", "stats": ".analysis.stats",
    **dict.fromkeys(["Judgment", "official_parse", "parse_judgment"], ".protocols.parsing"),
    "build_judge_prompt": ".protocols.prompts"})

__all__ = [
    "InputError",
    "Judgment",
    "__version__",
    "build_judge_prompt",
    "dimension_means",
    "judgments_frame",
    "leaderboard",
    "load_questions",
    "official_parse",
    "parse_judgment",
    "stats",
]
