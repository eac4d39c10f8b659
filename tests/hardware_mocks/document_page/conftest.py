"""Helpers for the document-page tests: ink masks and MRZ-only documents."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from hardware_mocks.document_page import PageData
from hardware_mocks.document_page.geometry import DocumentKind


def ink(image: npt.NDArray[np.uint8], threshold: int = 100) -> npt.NDArray[np.bool_]:
    """Dark printed ink (the guilloche is far lighter than this)."""
    return np.asarray(image.astype(np.int32).sum(axis=2) < 3 * threshold)


def document(kind: DocumentKind, seed: int = 1) -> PageData:
    return PageData.random(random.Random(seed), kind)


def h_document(kind: DocumentKind) -> PageData:
    """A document whose MRZ lines are all ``H``: every cell holds one symmetric glyph."""
    doc = document(kind)
    return dataclasses.replace(doc, mrz_lines=tuple("H" * len(line) for line in doc.mrz_lines))


@pytest.fixture(scope="session")
def faces_dir(test_data_dir: Path) -> Path:
    path = test_data_dir / "faces" / "lfw_crops"
    if not path.is_dir():
        pytest.skip(f"no LFW crops at {path}")
    return path
