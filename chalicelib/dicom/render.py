"""Rendered images (WADO-RS rendered and thumbnail, WADO-URI): one frame through the modality
and VOI LUTs (or an explicit window) to 8-bit JPEG or PNG with Pillow."""
from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from pydicom.dataset import Dataset

MEDIA_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF"}
THUMBNAIL_SIZE = 128


class NotRenderable(Exception):
    """The object has no image this server can render."""


def _to_8bit(dataset: Dataset, frame: np.ndarray, window: tuple[float, float] | None) -> np.ndarray:
    import numpy as np
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    if frame.ndim == 3 and frame.shape[-1] == 3:
        return _scale(frame.astype(np.float64), None)
    values = apply_modality_lut(frame, dataset)
    if window is None and ("WindowCenter" in dataset or "VOILUTSequence" in dataset):
        values = apply_voi_lut(values, dataset, prefer_lut=True)
    image = _scale(values.astype(np.float64), window)
    if dataset.get("PhotometricInterpretation") == "MONOCHROME1":
        image = 255 - image
    return image


def _scale(values: np.ndarray, window: tuple[float, float] | None) -> np.ndarray:
    import numpy as np

    if window is not None:
        center, width = window
        low, high = center - width / 2, center + width / 2
    else:
        low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return (np.clip((values - low) / (high - low), 0, 1) * 255).astype(np.uint8)


def render(dataset: Dataset, frame_number: int = 1, media_type: str = "image/jpeg",
           window: tuple[float, float] | None = None, size: int | None = None) -> bytes:
    """One frame as an image file; `size` bounds the longer side (thumbnails)."""
    from PIL import Image

    if "PixelData" not in dataset:
        raise NotRenderable("the object has no pixel data")
    try:
        pixels = dataset.pixel_array
    except Exception as error:  # noqa: BLE001 - any decoder failure means we cannot render
        raise NotRenderable(f"cannot decode the pixel data: {error}") from error
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        if not 1 <= frame_number <= frames:
            raise NotRenderable(f"no frame {frame_number}")
        pixels = pixels[frame_number - 1]
    image = Image.fromarray(_to_8bit(dataset, pixels, window))
    if size:
        image.thumbnail((size, size))
    out = io.BytesIO()
    image.save(out, format=MEDIA_TYPES[media_type])
    return out.getvalue()
