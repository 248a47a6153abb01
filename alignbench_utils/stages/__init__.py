"""Stages: generation, judging, pairwise comparison, judge meta-evaluation, the pairwise leaderboard and the estimate.

Each is a thin composition of a protocol, a backend, the engine and the store."""
