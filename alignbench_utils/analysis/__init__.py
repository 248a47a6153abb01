"""Analysis: pure functions of frames (aggregation, statistics, figures, error analysis)."""
