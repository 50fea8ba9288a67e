"""Evaluation metrics computed from trained models."""
