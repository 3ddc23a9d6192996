"""Experiments over the training layer: comparisons of pre-trained sources (and studies)."""
