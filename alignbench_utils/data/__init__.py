"""Data: records (the only place a record is built), the append-only store, the run layout, question loading, official formats and human labels."""
