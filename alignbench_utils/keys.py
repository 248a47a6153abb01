"""API keys are read from environment variables named in configs, never written anywhere.

A user who pastes the key itself where the variable's NAME belongs (``api_key_env:
gsk_...``) would otherwise have it echoed to the terminal and written into notebooks and
reports; these checks catch that before anything runs, without echoing the value.
"""

from __future__ import annotations

import os
import re

__all__ = ["KEY_PREFIXES", "key_env_problem", "looks_like_key"]

# Prefixes of provider keys (OpenAI, Groq, Google, xAI, Hugging Face, GitHub, Replicate, ...).
KEY_PREFIXES: tuple[str, ...] = ("sk-", "sk_", "gsk_", "AIza", "xai-", "hf_", "ghp_", "gho_",
                                 "github_pat_", "r8_", "pk-", "nvapi-", "pplx-", "AKIA",
                                 "csk-", "fw_", "Bearer ")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def looks_like_key(text: str) -> bool:
    """Whether ``text`` looks like a secret rather than an environment variable's name:
    a known key prefix, or long and mixing lower case with digits (names are short words).

    >>> looks_like_key("OPENAI_API_KEY"), looks_like_key("DEEPSEEK_API_KEY_2")
    (False, False)
    >>> looks_like_key("gsk_" + "LITERALKEY1234567890abcdef"), looks_like_key("AIza" + "SyA1b2C3")
    (True, True)
    >>> looks_like_key("a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6")
    True
    """
    if text.startswith(KEY_PREFIXES):
        return True
    has_lower = any(c.islower() for c in text)
    has_digit = any(c.isdigit() for c in text)
    return len(text) >= 20 and has_lower and has_digit


def key_env_problem(name: str, *, require_set: bool) -> str | None:
    """Why ``name`` cannot be the environment variable holding an API key, or None.

    The message never contains ``name`` when it looks like a key.

    >>> key_env_problem("gsk_" + "LITERALKEY1234567890abcdef", require_set=False)[:33]
    'this looks like an API key itself'
    >>> key_env_problem("ALIGNBENCH_SURELY_UNSET_VAR", require_set=True)
    'environment variable ALIGNBENCH_SURELY_UNSET_VAR is not set; export it before the run (export ALIGNBENCH_SURELY_UNSET_VAR=...)'
    """
    if looks_like_key(name) or not _ENV_NAME.match(name):
        return ("this looks like an API key itself (the value is not shown), not the NAME of "
                "an environment variable; put the key in an environment variable and write "
                "its name here, e.g. OPENAI_API_KEY")
    if require_set and not os.environ.get(name):
        return (f"environment variable {name} is not set; export it before the run "
                f"(export {name}=...)")
    return None
