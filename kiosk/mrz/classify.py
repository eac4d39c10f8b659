"""The OCR-B cell classifier: a small multilayer perceptron over the 37-character MRZ alphabet.

The weights (``model.npz`` beside this file, float16, produced by :mod:`kiosk.mrz.train`) are
applied with numpy alone: no scikit-learn at read time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from kiosk.mrz.segment import FEATURES, CellArray

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"
INDEX = {c: i for i, c in enumerate(ALPHABET)}
MODEL_PATH = Path(__file__).with_name("model.npz")

ProbArray = npt.NDArray[np.float64]


class ModelMissingError(RuntimeError):
    """The classifier weights are absent (run ``python -m kiosk.mrz.train``)."""


@dataclass(frozen=True, slots=True)
class CellClassifier:
    """``layers``: (weights, bias) pairs; ReLU between them, softmax at the end."""

    layers: tuple[tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]], ...]

    def probabilities(self, cells: CellArray) -> ProbArray:
        """(N, FEATURES) cells -> (N, 37) class probabilities in ALPHABET order."""
        if cells.ndim != 2 or cells.shape[1] != FEATURES:
            raise ValueError(f"cells must be (N, {FEATURES}), not {cells.shape}")
        x = np.asarray(cells, dtype=np.float32)
        for i, (weights, bias) in enumerate(self.layers):
            x = x @ weights + bias
            if i < len(self.layers) - 1:
                np.maximum(x, 0, out=x)
        z = x.astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z

    def save(self, path: Path) -> None:
        arrays: dict[str, npt.NDArray[np.float16]] = {}
        for i, (w, b) in enumerate(self.layers):
            arrays[f"w{i}"] = w.astype(np.float16)
            arrays[f"b{i}"] = b.astype(np.float16)
        np.savez_compressed(path, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path) -> CellClassifier:
        try:
            with np.load(path) as data:
                count = len([k for k in data.files if k.startswith("w")])
                layers = tuple(
                    (
                        np.asarray(data[f"w{i}"], dtype=np.float32),
                        np.asarray(data[f"b{i}"], dtype=np.float32),
                    )
                    for i in range(count)
                )
        except FileNotFoundError as exc:
            raise ModelMissingError(
                f"no MRZ classifier at {path}: run python -m kiosk.mrz.train"
            ) from exc
        if not layers or layers[0][0].shape[0] != FEATURES or layers[-1][0].shape[1] != 37:
            raise ModelMissingError(f"{path} does not fit {FEATURES} features x 37 classes")
        return cls(layers)


@lru_cache(maxsize=1)
def default_classifier() -> CellClassifier:
    return CellClassifier.load(MODEL_PATH)
