"""The fault-injecting OpenAI-compatible server that tests and benchmarks use."""
