"""Embedding stage: a vector per utterance and per call."""
