"""Evaluation helpers shared by the scripts: answer scoring and visual question sets."""
