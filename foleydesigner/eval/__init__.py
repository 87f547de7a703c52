"""Evaluation metrics: spatial (GCC-PHAT ITD, ILD, azimuth, GCC-MSE, FSAD) and temporal (IoU, onsets, AV offset)."""
