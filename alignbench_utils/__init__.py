"""alignbench_utils: a faithful, robust, notebook-first runner for AlignBench.

Public, stable names are re-exported here; everything else lives in small modules.
"""

from alignbench_utils._version import __version__
from alignbench_utils.analysis import stats
from alignbench_utils.analysis.aggregate import dimension_means, judgments_frame, leaderboard
from alignbench_utils.data.questions import load_questions
from alignbench_utils.errors import InputError
from alignbench_utils.protocols.parsing import Judgment, official_parse, parse_judgment
from alignbench_utils.protocols.prompts import build_judge_prompt

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
