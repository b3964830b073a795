"""Benchmark of the assistant against Rasa's starter bot (`make bench`)."""
