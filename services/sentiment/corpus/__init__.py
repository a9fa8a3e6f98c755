"""Labelled call-centre utterances shipped with the package (jsonl).

The folder is not called data/: the repository .gitignore ignores every data/ folder.
"""
