"""Sentiment stage: positive | neutral | negative per utterance, with a score in [-1, 1]."""
