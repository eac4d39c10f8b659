"""The classifier: the committed weights classify fresh OCR-B renderings, and the training code
still produces a working model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kiosk.mrz.classify import MODEL_PATH, CellClassifier, default_classifier
from kiosk.mrz.train import fit, training_set


def test_committed_model_is_small_and_accurate() -> None:
    assert MODEL_PATH.stat().st_size < 2 * 1024 * 1024
    x, y = training_set(12, seed=424242)  # fresh renderings, never seen in training
    predicted = default_classifier().probabilities(x).argmax(axis=1)
    assert (predicted == y).mean() > 0.98


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_retrained_small_model_classifies_rendered_glyphs(tmp_path: Path) -> None:
    x, y = training_set(60, seed=1)
    model = fit(x, y, hidden=48, epochs=25, seed=0)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = CellClassifier.load(path)
    test_x, test_y = training_set(8, seed=2)
    probs = loaded.probabilities(test_x)
    assert probs.shape == (len(test_y), 37)
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert (probs.argmax(axis=1) == test_y).mean() > 0.85
