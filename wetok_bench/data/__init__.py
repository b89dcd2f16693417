"""Datasets and preprocessing."""
