"""alignbench_utils: a faithful, robust, notebook-first runner for AlignBench.

Public, stable names are re-exported here; everything else lives in small modules.
"""

from ._version import __version__
from .aggregate import dimension_means, judgments_frame, leaderboard
from .data import load_questions
from .errors import InputError
from .parsing import Judgment, official_parse, parse_judgment
from .prompts import build_judge_prompt

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
]
