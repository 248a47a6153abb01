"""Report: HTML pages from executed notebooks, the judgment viewer, provenance, and table export."""
