"""Passport data-page renderer: TD3 data pages and TD1 cards as a document reader images them.

* :class:`PageData`: the printed fields and the MRZ lines (``PageData.random``, ``.build``,
  ``.from_traveller``);
* :func:`render_page`: the page at a given dpi with ICAO Doc 9303 geometry (see ``geometry``);
* :func:`render_sample` / :func:`write_sample`: a page degraded for one benchmark condition
  (``clean``, ``degraded``, ``camera``) with its ground truth.
"""

from hardware_mocks.document_page.data import PageData
from hardware_mocks.document_page.degrade import (
    CONDITIONS,
    Capture,
    Condition,
    Pipeline,
    condition_pipeline,
    degrade,
    start,
)
from hardware_mocks.document_page.geometry import (
    GEOMETRIES,
    MRZ_PITCH_MM,
    OCRB_CAP_HEIGHT_MM,
    TD1_GEOMETRY,
    TD3_GEOMETRY,
    DocumentGeometry,
    DocumentKind,
    Side,
)
from hardware_mocks.document_page.render import (
    default_side,
    fit_portrait,
    render_page,
    render_page_image,
    silhouette,
)
from hardware_mocks.document_page.samples import (
    Sample,
    choose_photo,
    mrz_line_quads_px,
    page_portrait,
    render_sample,
    render_traveller_page,
    write_sample,
)

__all__ = [
    "CONDITIONS",
    "GEOMETRIES",
    "MRZ_PITCH_MM",
    "OCRB_CAP_HEIGHT_MM",
    "TD1_GEOMETRY",
    "TD3_GEOMETRY",
    "Capture",
    "Condition",
    "DocumentGeometry",
    "DocumentKind",
    "PageData",
    "Pipeline",
    "Sample",
    "Side",
    "choose_photo",
    "condition_pipeline",
    "default_side",
    "degrade",
    "fit_portrait",
    "mrz_line_quads_px",
    "page_portrait",
    "render_page",
    "render_page_image",
    "render_sample",
    "render_traveller_page",
    "silhouette",
    "start",
    "write_sample",
]
