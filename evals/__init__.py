"""Offline, deterministic evaluation of the coach (datasets in evals/datasets)."""
