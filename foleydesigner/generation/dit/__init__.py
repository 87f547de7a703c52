"""FoleyDiT: the Stable-Audio-style DiT with position-aware spatio-temporal clue injection (paper §3).

Modules: `model` (FoleyDiT + recipes), `clues` (Fourier features, soft mask, conv encoder), `codec` (latent
codecs), `text` (text/duration conditioning), `sampling` (rectified flow + CFG), `data` (synthetic
FilmStereo-like dataset), `train` (accelerate loop), `backend` (the `dit` generator). Importing this package
imports nothing heavy; torch loads with the submodules.
"""
