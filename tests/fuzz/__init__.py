"""Seeded, bounded fuzzing of every emseq command (see :mod:`tests.fuzz.campaign`).

``python -m pytest tests/fuzz`` runs a few hundred cases; ``python -m tests.fuzz --cases 5000``
runs a longer campaign and prints its counts.
"""
