"""A referral's two photos (chip portrait, live frame), in Redis while the referral is open.

The backend runs as several stateless workers, so the photos live in Redis, never on disk or in
the records store: each under ``referral_photo_key`` with a TTL (a referral nobody closes does not
keep them for ever), deleted when the officer decides. Uploads are untrusted bytes: decoded with
Pillow under a pixel limit and re-encoded as a fresh JPEG (no metadata, nothing but pixels), so
what an officer's browser renders is an image the backend made. Nothing here is ever logged.
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError
from redis.asyncio import Redis

from backend.referrals.models import PHOTO_KINDS, PhotoKind
from bordergate.contracts import referral_photo_key

MAX_PIXELS = 4_000_000
MAX_SIDE = 800
MIN_SIDE = 16
JPEG_QUALITY = 85


class PhotoRejectedError(ValueError):
    """Not a usable JPEG (corrupt, another format, too large or too small)."""


def sanitize_jpeg(data: bytes) -> bytes:
    """Decode ``data`` as a JPEG and re-encode it; raises :class:`PhotoRejectedError`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format != "JPEG":
                    raise PhotoRejectedError(f"not a JPEG ({image.format or 'unknown format'})")
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise PhotoRejectedError(f"image too large: {width} x {height} pixels")
                if min(width, height) < MIN_SIDE:
                    raise PhotoRejectedError(f"image too small: {width} x {height} pixels")
                image.load()
                rgb = ImageOps.exif_transpose(image).convert("RGB")
    except PhotoRejectedError:
        raise
    except UnidentifiedImageError:
        raise PhotoRejectedError("not an image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRejectedError("image too large") from None
    except Exception as exc:  # a malformed file can make Pillow raise almost anything
        raise PhotoRejectedError(f"broken or truncated image ({type(exc).__name__})") from None
    if max(rgb.size) > MAX_SIDE:
        rgb.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


class PhotoStore:
    def __init__(self, redis: Redis, ttl_s: int) -> None:
        self.redis = redis
        self.ttl_s = ttl_s

    async def put(self, referral_id: str, photos: dict[PhotoKind, bytes]) -> None:
        """Store already sanitised JPEGs (one round trip). Base64 text: the shared clients
        decode responses as UTF-8."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for kind, jpeg in photos.items():
                text = base64.b64encode(jpeg).decode("ascii")
                pipe.set(referral_photo_key(referral_id, kind), text, ex=self.ttl_s)
            await pipe.execute()

    async def get(self, referral_id: str, kind: PhotoKind) -> bytes | None:
        text: str | bytes | None = await self.redis.get(referral_photo_key(referral_id, kind))
        if text is None:
            return None
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return None

    async def kinds(self, referral_id: str) -> list[PhotoKind]:
        """Which photos are held for the referral now."""
        keys = [referral_photo_key(referral_id, kind) for kind in PHOTO_KINDS]
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.exists(key)
            found = await pipe.execute()
        return [kind for kind, n in zip(PHOTO_KINDS, found, strict=True) if n]

    async def delete(self, referral_id: str) -> int:
        return int(
            await self.redis.delete(*(referral_photo_key(referral_id, k) for k in PHOTO_KINDS))
        )
