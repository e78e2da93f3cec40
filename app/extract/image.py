"""Images (PNG, JPEG, TIFF, BMP, GIF, WebP): metadata, and OCR text per page (a TIFF frame is a page).

Without OCR (turned off, or no engine) an image is still a document: its pages are listed as needing OCR,
so `ocr` can read them later. Animated GIF and WebP frames are not pages: only the first one is read.
The image is read as displayed: the EXIF orientation of a photographed page is applied before OCR.
"""

from __future__ import annotations

import logging
import time
import warnings as pywarnings
from pathlib import Path
from typing import Any

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from app.extract import ocr
from app.extract.base import ExtractContext, Extraction, MetaValue, Part
from app.extract.errors import CorruptError, TooLargeError

log = logging.getLogger(__name__)

# Decoding an image costs width × height bytes (and more for colour) before it can be scaled down.
# Past this many pixels it is not decoded at all (a decompression bomb, or a 1-gigapixel scan).
MAX_DECODE_PIXELS = 250_000_000
_PAGED_FORMATS = {"TIFF", "MPO"}  # formats whose frames are pages; other formats' frames are animation
_EXIF_TAGS = {
    0x010E: "description",  # ImageDescription
    0x010F: "camera_make",
    0x0110: "camera_model",
    0x0131: "software",
    0x013B: "author",  # Artist
    0x8298: "copyright",
}
_EXIF_DATES = {0x9003: "created", 0x0132: "modified"}  # DateTimeOriginal (Exif IFD), DateTime


class ImageExtractor:
    name = "image"
    version = f"1:pillow-{Image.__version__}"
    doc_types = ("image",)

    def extract(self, path: Path, ctx: ExtractContext) -> Extraction:
        try:
            with pywarnings.catch_warnings():
                pywarnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image = Image.open(path)
        except Image.DecompressionBombError as exc:
            raise TooLargeError(f"image too large to decode: {exc}") from exc
        except UnidentifiedImageError as exc:
            raise CorruptError("image format not recognised or the file is damaged") from exc
        except OSError as exc:
            raise CorruptError(f"image cannot be opened: {_short(exc)}") from exc
        with image:
            fmt = image.format or "image"
            width, height = image.size
            frames = int(getattr(image, "n_frames", 1) or 1) if fmt in _PAGED_FORMATS else 1
            metadata: dict[str, MetaValue] = {
                "image_format": fmt,
                "width": width,
                "height": height,
                "page_count": frames,
            }
            metadata.update(_exif(image))
            dpi = _dpi(image)
            if dpi:
                metadata["dpi"] = dpi
            warnings: list[str] = []
            too_big = width * height > MAX_DECODE_PIXELS
            if too_big:
                warnings.append(
                    f"image too large to OCR ({width:,} × {height:,} pixels; limit {MAX_DECODE_PIXELS:,})"
                )
            count = min(frames, ctx.limits.max_pages)
            if frames > count:
                warnings.append(f"only the first {count:,} of {frames:,} pages were read")
            wants_ocr = bool(ctx.ocr_languages) and not too_big
            parts = [
                Part(kind="page", label=str(n), text="", needs_ocr=not too_big) for n in range(1, count + 1)
            ]
            if wants_ocr:
                _ocr_frames(image, parts, ctx, warnings, metadata, dpi)
            scanned = [p.label for p in parts if p.needs_ocr]
            if scanned:
                metadata["needs_ocr_pages"] = scanned
            return Extraction(
                doc_type="image",
                title=str(metadata["description"])[:500] if metadata.get("description") else None,
                parts=tuple(parts),
                metadata=metadata,
                warnings=tuple(warnings),
            )


def _ocr_frames(
    image: Image.Image,
    parts: list[Part],
    ctx: ExtractContext,
    warnings: list[str],
    metadata: dict[str, MetaValue],
    dpi: int | None,
) -> None:
    engine: ocr.OcrEngine | None = None
    budget = ctx.limits.max_text_chars
    done = 0
    turned: list[str] = []
    for index, part in enumerate(parts):
        page_no = index + 1
        known = ctx.ocr_known.get(page_no)
        words = None
        if known is not None:
            text = known[0]
        else:
            if ctx.ocr_deadline and time.monotonic() >= ctx.ocr_deadline:
                _stopped(warnings, page_no, len(parts))
                break
            if engine is None:
                try:
                    engine = ocr.get_engine(ctx.ocr_languages)
                except ocr.OcrUnavailable as exc:
                    warnings.append(f"the image was not OCR'd: {exc}")
                    return
            try:
                frame = _frame(image, index)
            except MemoryError:
                raise
            except Exception as exc:  # a damaged frame: the others may still be fine
                warnings.append(f"page {page_no} could not be decoded: {_short(exc)}")
                parts[index] = Part(part.kind, part.label, "", needs_ocr=False)
                continue
            result = engine.recognize(frame, dpi=dpi or 300, deadline=ctx.ocr_deadline)
            del frame
            if not result.complete:
                _stopped(warnings, page_no, len(parts))
                break
            words = result.words
            text = ocr.words_to_text(words)
            if result.rotation or result.skew:
                turned.append(str(page_no))
        if len(text) > budget:
            text = text[: max(0, budget)]
            warnings.append(f"text truncated at {ctx.limits.max_text_chars:,} characters (page {page_no})")
        budget -= len(text)
        parts[index] = Part(part.kind, part.label, text, needs_ocr=False, origin="ocr", words=words)
        done += 1
    if done:
        ocr_labels = [p.label for p in parts if p.origin == "ocr"]
        if ocr_labels:
            metadata["ocr_pages"] = ocr_labels
        metadata["ocr_languages"] = ocr.normalize_languages(ctx.ocr_languages)
        metadata["ocr_engine"] = ocr.tesseract_version()
    if turned:
        metadata["ocr_turned_pages"] = turned


def _frame(image: Image.Image, index: int) -> Image.Image:
    """Frame `index`, decoded, turned as its EXIF orientation says, at most MAX_SIDE a side."""
    image.seek(index)
    width, height = image.size
    longest = max(width, height)
    if image.format == "JPEG" and longest > ocr.MAX_SIDE:
        # Let the JPEG decoder scale down by 1/2, 1/4 or 1/8 while decoding (far less memory).
        image.draft("L", (width * ocr.MAX_SIDE // longest, height * ocr.MAX_SIDE // longest))
    try:
        image.load()
    except OSError:
        # A truncated file: decode what is there, OCR that, and say so.
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        try:
            image.load()
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = False
    frame = image.copy() if image.format in _PAGED_FORMATS else image
    if max(frame.size) > ocr.MAX_SIDE:
        frame = frame.copy()
        frame.thumbnail((ocr.MAX_SIDE, ocr.MAX_SIDE), Image.Resampling.LANCZOS)
    return ImageOps.exif_transpose(frame) or frame


def _exif(image: Image.Image) -> dict[str, MetaValue]:
    out: dict[str, MetaValue] = {}
    try:
        exif = image.getexif()
    except Exception:
        return out
    if not exif:
        return out
    try:
        sub = exif.get_ifd(0x8769)  # Exif IFD: DateTimeOriginal lives there
    except Exception:
        sub = {}
    for tag, key in _EXIF_TAGS.items():
        value = _exif_text(exif.get(tag))
        if value:
            out[key] = value
    for tag, key in _EXIF_DATES.items():
        iso = _exif_date(sub.get(tag) if tag == 0x9003 else exif.get(tag))
        if iso:
            out[key] = iso
    return out


def _exif_text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return ""
    return value.strip("\x00 \t\r\n")[:1000]


def _exif_date(value: Any) -> str | None:
    """`2021:03:04 10:11:12` → `2021-03-04T10:11:12`."""
    text = _exif_text(value)
    if len(text) < 19 or not text[:4].isdigit():
        return None
    iso = f"{text[0:4]}-{text[5:7]}-{text[8:10]}T{text[11:19]}"
    try:
        from datetime import datetime

        datetime.fromisoformat(iso)
    except ValueError:
        return None
    return iso


def _dpi(image: Image.Image) -> int | None:
    raw = image.info.get("dpi")
    try:
        value = int(round(float(raw[0]))) if raw else 0
    except (TypeError, ValueError, IndexError):
        return None
    return value if 50 <= value <= 2400 else None


def _stopped(warnings: list[str], page_no: int, total: int) -> None:
    warnings.append(
        f"OCR stopped at page {page_no} of {total}: the per-file time limit; "
        "run `ocr` on this document to finish (pages done are kept)"
    )


def _short(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__)[:200]
