"""MRZ reader test helpers: rendered data pages (cached per session) and one-hot probabilities."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from hardware_mocks.document_page import Sample, render_sample
from kiosk.mrz.classify import ALPHABET, INDEX, ProbArray

SPECIMEN = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)

_SAMPLES: dict[tuple[int, str, str], Sample] = {}


def sample(seed: int, condition: str, kind: str = "TD3") -> Sample:
    """A rendered benchmark-style sample (no face photos: silhouettes), cached."""
    key = (seed, condition, kind)
    if key not in _SAMPLES:
        _SAMPLES[key] = render_sample(seed, condition, kind)  # type: ignore[arg-type]
    return _SAMPLES[key]


def one_hot(
    lines: Sequence[str],
    confidence: float = 0.999,
    alternatives: dict[int, dict[str, float]] | None = None,
) -> ProbArray:
    """Probabilities that read ``lines`` with ``confidence``; ``alternatives`` gives, per
    position in the joined lines, other characters' probabilities (the rest renormalised)."""
    text = "".join(lines)
    rest = (1 - confidence) / (len(ALPHABET) - 1)
    probs = np.full((len(text), len(ALPHABET)), rest)
    for i, c in enumerate(text):
        probs[i, INDEX[c]] = confidence
    for i, alts in (alternatives or {}).items():
        for c, p in alts.items():
            probs[i, INDEX[c]] = p
        probs[i] /= probs[i].sum()
    return probs


@pytest.fixture
def specimen() -> tuple[str, str]:
    return SPECIMEN
