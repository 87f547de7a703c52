"""What one benchmark clip yields: its JSON detail, (stem, reference) pairs per system, and plot series.

Its own module so the harness (which makes results) and the report (which reads them) both import it and
neither imports the other at module level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class ClipResult:
    detail: dict[str, Any]  # JSON-able
    pairs: dict[str, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)  # system → (stem, ref)
    plot: list[dict[str, Any]] = field(default_factory=list)
