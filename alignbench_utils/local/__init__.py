"""The embedded local model: llama.cpp build, the local server and the model registry."""
