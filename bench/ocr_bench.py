"""OCR speed and memory: Dossier's import of scanned PDFs beside bare Tesseract on the same page images.

Run from the repository root:

    .venv/bin/python bench/ocr_bench.py                       # the corpus's scanned PDFs, 2 workers
    .venv/bin/python bench/ocr_bench.py --copies 8 --repeat 3 --json
    .venv/bin/python bench/ocr_bench.py DIR --all-files --lang eng+deu

What is measured, each in a fresh Python process (so peak-memory figures do not mix), on N cores:

- `bare`: the Tesseract engine (the same libtesseract, models and languages, through tesserocr) reading
  the page images as PNG files, in N processes, each with its engine loaded once, no Dossier code. The
  images are the pages Dossier OCRs, rendered beforehand (untimed) exactly as the import renders them.
- `dossier`: a real import of the scanned PDFs into a fresh case with N workers and OCR on: discover, hash,
  copy, start the workers, render, straighten/orient when needed, OCR, store rows and the OCR cache, index
  (`Importer.run` with the search index; the link suggestions and entities computed after an import are
  other features' and left out). Its rate is OCR'd pages over that wall time, start-up included.
- `text` / `text --no-ocr`: importing text PDFs (those of --text-dir with no page that needs OCR) with
  OCR on and off: OCR's presence must not slow down documents that do not need it.

`--copies K` makes K distinct copies of each scanned PDF (a few bytes appended, so the OCR cache does not
serve them) to spread start-up costs. Each measurement keeps the fastest of `--repeat` interleaved runs.
Figures are printed, never asserted; the ratios compare measurements of the same run on the same machine.
Besides pages per second, pages per CPU-second (the whole process tree's CPU time, sampled) are compared:
on a machine where other work competes for the cores, wall-time rates wander and the CPU ratio does not.
Peak memory: the measuring process's own `ru_maxrss` and, for child processes (workers, engine processes),
the largest RSS sampled with psutil every 50 ms.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

RESULT_PREFIX = "BENCH-RESULT "
MB = 1024 * 1024
GOAL_VS_BARE = 0.9  # Dossier's OCR pages/s ÷ bare Tesseract's, same pages, same cores
GOAL_TEXT_SLOWDOWN = 1.05  # text-PDF import time with OCR on ÷ with OCR off (noise allowance)
DEFAULT_DIR = REPO_ROOT / ".." / "shared" / "corpus" / "real" / "pdf-scanned"
DEFAULT_TEXT_DIR = REPO_ROOT / ".." / "shared" / "corpus" / "real" / "pdf"


# -- inputs --------------------------------------------------------------------------------------------


def ocr_files(root: Path, all_files: bool) -> list[Path]:
    """Scanned PDFs to OCR. Unless `all_files`, those the corpus manifest gives an OCR-only phrase (the
    others are in languages without an installed model, which no engine reads well)."""
    pdfs = sorted(p for p in root.rglob("*") if p.is_file() and p.read_bytes()[:1024].find(b"%PDF-") >= 0)
    manifest = root.resolve().parent.parent / "MANIFEST.tsv"
    if all_files or not manifest.is_file():
        return pdfs
    marked = {
        line.split("\t", 1)[0].rsplit("/", 1)[-1]
        for line in manifest.read_text("utf-8").splitlines()
        if "known text (only in the scanned image" in line
    }
    return [p for p in pdfs if p.name in marked] or pdfs


def pages_to_ocr(path: Path) -> list[int]:
    import pymupdf

    from app.extract.pdf import _needs_ocr

    with pymupdf.open(path) as doc:
        return [i for i, page in enumerate(doc) if _needs_ocr(page, page.get_text("text", sort=False))]


def text_only_files(root: Path) -> list[Path]:
    """PDFs of `root` that open, are not encrypted, have no page that would be OCR'd and no embedded
    files (an embedded image or scan is a document of its own, which is OCR'd)."""
    import pymupdf

    pymupdf.TOOLS.mupdf_display_errors(False)
    out = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            with pymupdf.open(path) as doc:
                if doc.needs_pass or not doc.is_pdf or doc.page_count == 0 or doc.embfile_count():
                    continue
                if not any(pages_for(doc)):
                    out.append(path)
        except Exception:
            continue
    return out


def pages_for(doc: Any) -> list[bool]:
    from app.extract.pdf import _needs_ocr

    flags = []
    for page in doc:
        try:
            flags.append(_needs_ocr(page, page.get_text("text", sort=False)) is not None)
        except Exception:
            flags.append(False)
    return flags


def render_pages(files: list[Path], out_dir: Path) -> list[Path]:
    """Every page Dossier would OCR, rendered as the import renders it, saved as PNG (lossless)."""
    import pymupdf

    from app.extract.pdf import _render

    images = []
    for path in files:
        with pymupdf.open(path) as doc:
            for index in pages_to_ocr(path):
                image, dpi = _render(doc, index)
                png = out_dir / f"{path.stem}-p{index + 1}.png"
                image.save(png, dpi=(dpi, dpi))
                images.append(png)
    return images


def make_copies(files: list[Path], dest: Path, copies: int) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for i in range(copies):
        for path in files:
            target = dest / f"copy{i:03d}-{path.name}"
            shutil.copyfile(path, target)
            with target.open("ab") as fh:
                fh.write(f"\n%bench-copy-{i}\n".encode())
    return dest


# -- measurements (each run in a fresh process) -----------------------------------------------------------

_API: Any = None


def _bare_init(datapath: str, lang: str) -> None:
    global _API
    import tesserocr

    os.nice(5)  # as Dossier's workers run (app/pipeline/workers.py), so both get the same share of the CPU
    _API = tesserocr.PyTessBaseAPI(path=datapath, lang=lang)


def _bare_page(png: str) -> int:
    _API.SetImageFile(png)
    return len(_API.GetUTF8Text())


def measure_bare(images: list[str], workers: int, lang: str) -> dict[str, Any]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from app.extract import ocr

    datapath = str(ocr.tessdata_dir()) + os.sep
    t0 = time.perf_counter()
    with ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_bare_init,
        initargs=(datapath, lang),
    ) as pool:
        chars = sum(pool.map(_bare_page, images, chunksize=1))
    elapsed = time.perf_counter() - t0
    return {"pages": len(images), "seconds": elapsed, "chars": chars, "main_peak_mb": _self_peak_mb()}


def measure_dossier(root: str, workers: int, lang: str, ocr_on: bool) -> dict[str, Any]:
    from app.extract.base import Limits
    from app.pipeline.importer import Importer, ImportOptions
    from app.services import build_services

    case = Path(tempfile.mkdtemp(prefix="ocr-bench-case-"))
    try:
        with build_services(case / "case", create=True) as services:
            options = ImportOptions(
                workers=workers,
                limits=Limits(timeout_s=600),
                ocr=ocr_on,
                ocr_languages=lang if ocr_on else "",
            )
            services.search.ensure_index()
            t0 = time.perf_counter()
            # The import up to searchable documents; not the derived steps after it (link suggestions,
            # entities), which belong to other features and do not depend on OCR.
            summary = Importer(services.case, options, index=services.search).run([root])
            elapsed = time.perf_counter() - t0
    finally:
        shutil.rmtree(case, ignore_errors=True)
    return {
        "pages": summary.ocr_pages,
        "documents": summary.documents,
        "failures": len(summary.failures),
        "seconds": elapsed,
        "main_peak_mb": _self_peak_mb(),
        "main_cpu_s": round(_self_cpu_s(), 2),
    }


def _self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _self_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _sample(pid: int, stop: threading.Event, out: dict[str, float]) -> None:
    import psutil

    try:
        root = psutil.Process(pid)
    except psutil.Error:
        return
    cpu: dict[int, float] = {}
    while not stop.is_set():
        try:
            procs = root.children(recursive=True)
        except psutil.Error:
            break
        for proc in [root, *procs]:
            try:
                times = proc.cpu_times()
                cpu[proc.pid] = times.user + times.system
                if proc.pid != pid:
                    out["child_peak_mb"] = max(out["child_peak_mb"], proc.memory_info().rss / MB)
            except psutil.Error:
                continue
        out["cpu_s"] = sum(cpu.values())
        stop.wait(0.05)


def run_child(args: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure", *args]
    stop = threading.Event()
    peaks = {"child_peak_mb": 0.0, "cpu_s": 0.0}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = threading.Thread(target=_sample, args=(proc.pid, stop, peaks), daemon=True)
    sampler.start()
    out, err = proc.communicate()
    stop.set()
    sampler.join()
    line = next((ln for ln in reversed(out.splitlines()) if ln.startswith(RESULT_PREFIX)), None)
    if proc.returncode != 0 or line is None:
        tail = "\n".join(err.strip().splitlines()[-15:])
        raise SystemExit(f"measurement {args[0]} failed (exit {proc.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
    result["child_peak_mb"] = round(peaks["child_peak_mb"], 1)
    # CPU seconds of the whole process tree (sampled): the measure least disturbed by other load.
    result["cpu_s"] = round(peaks["cpu_s"], 2)
    return result


def best(results: list[dict[str, Any]]) -> dict[str, Any]:
    return min(results, key=lambda r: r["seconds"])


# -- report ------------------------------------------------------------------------------------------------


def rate(pages: float, seconds: float) -> float:
    return pages / seconds if seconds > 0 else 0.0


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISS"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", type=Path, default=DEFAULT_DIR, help="scanned PDFs")
    parser.add_argument("--text-dir", type=Path, default=DEFAULT_TEXT_DIR, help="text PDFs (OCR's presence)")
    parser.add_argument("--workers", type=int, default=2, help="processes on both sides (default 2)")
    parser.add_argument("--copies", type=int, default=10, help="distinct copies of each scanned PDF")
    parser.add_argument("--text-copies", type=int, default=3, help="distinct copies of each text PDF")
    parser.add_argument("--repeat", type=int, default=2, help="keep the fastest of R runs (default 2)")
    parser.add_argument("--lang", default="eng")
    parser.add_argument("--all-files", action="store_true", help="every PDF of DIR, not only the marked ones")
    parser.add_argument("--only", choices=["ocr", "text"], help="run one of the two comparisons")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--measure", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.measure:
        kind, *rest = args.measure
        if kind == "bare":
            result = measure_bare(json.loads(Path(rest[0]).read_text()), args.workers, args.lang)
        else:
            result = measure_dossier(rest[0], args.workers, args.lang, ocr_on=kind != "text-noocr")
        print(RESULT_PREFIX + json.dumps(result))
        return 0

    from app.extract import ocr

    files = ocr_files(args.dir, args.all_files)
    if not files:
        raise SystemExit(f"no scanned PDF in {args.dir}")
    do_ocr, do_text = args.only in (None, "ocr"), args.only in (None, "text")
    common = ["--workers", str(args.workers), "--lang", args.lang]
    runs: dict[str, list[dict[str, Any]]] = {"bare": [], "dossier": [], "text": [], "text-noocr": []}
    with tempfile.TemporaryDirectory(prefix="ocr-bench-") as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "png").mkdir()
        images = render_pages(files, tmpdir / "png")
        page_list = tmpdir / "pages.json"
        page_list.write_text(json.dumps([str(p) for p in images] * args.copies))
        scans = make_copies(files, tmpdir / "scans", args.copies)
        texts = text_only_files(args.text_dir) if do_text and args.text_dir.is_dir() else []
        text_root = make_copies(texts, tmpdir / "texts", args.text_copies) if texts else None
        for _ in range(max(1, args.repeat)):  # interleaved, so a busy spell hits both sides alike
            if do_ocr:
                runs["bare"].append(run_child(["bare", str(page_list), *common]))
                runs["dossier"].append(run_child(["dossier", str(scans), *common]))
            if text_root is not None:
                for kind in ("text", "text-noocr"):
                    runs[kind].append(run_child([kind, str(text_root), *common]))

    report: dict[str, Any] = {
        "engine": ocr.tesseract_version(),
        "languages": args.lang,
        "workers": args.workers,
        "cores": os.cpu_count(),
    }
    if do_ocr:
        bare, ours = best(runs["bare"]), best(runs["dossier"])
        bare_rate, our_rate = rate(bare["pages"], bare["seconds"]), rate(ours["pages"], ours["seconds"])
        report |= {
            "files": [f.name for f in files],
            "pages_per_copy": len(images),
            "copies": args.copies,
            "bare": {**bare, "pages_per_s": round(bare_rate, 3)},
            "dossier": {**ours, "pages_per_s": round(our_rate, 3)},
            "ratio_vs_bare": round(our_rate / bare_rate, 3) if bare_rate else None,
            # pages per CPU-second, ours ÷ bare's: the pipeline's own overhead, whatever else runs
            "cpu_ratio_vs_bare": round((bare["cpu_s"] / bare["pages"]) / (ours["cpu_s"] / ours["pages"]), 3)
            if ours["pages"] and ours["cpu_s"] and bare["pages"]
            else None,
        }
    if runs["text"]:
        with_ocr, without = best(runs["text"]), best(runs["text-noocr"])
        report["text_pdfs"] = {
            "files": len(texts) * args.text_copies,
            "with_ocr_s": round(with_ocr["seconds"], 3),
            "without_ocr_s": round(without["seconds"], 3),
            "ocr_pages": with_ocr["pages"],
            "slowdown": round(with_ocr["seconds"] / without["seconds"], 3) if without["seconds"] else None,
        }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(
        f"OCR bench: {report['engine']}, languages {args.lang}, {args.workers} workers on {os.cpu_count()} cores"
    )
    if do_ocr:
        print(f"  pages: {len(images)} per copy × {args.copies} copies of {', '.join(report['files'])}")
        print(
            f"  bare Tesseract   {bare_rate:6.2f} pages/s  ({bare['pages']} pages in {bare['seconds']:.1f} s, "
            f"{bare['cpu_s'] / max(1, bare['pages']):.2f} CPU s/page; peak {bare['child_peak_mb']:.0f} MB per engine process)"
        )
        print(
            f"  Dossier import   {our_rate:6.2f} pages/s  ({ours['pages']} pages in {ours['seconds']:.1f} s, "
            f"{ours['cpu_s'] / max(1, ours['pages']):.2f} CPU s/page; peak {ours['child_peak_mb']:.0f} MB per worker, "
            f"{ours['main_peak_mb']:.0f} MB main process)"
        )
        ratio = report["ratio_vs_bare"] or 0.0
        print(
            f"  ratio            {ratio:6.2f} × bare  (goal ≥ {GOAL_VS_BARE}) {verdict(ratio >= GOAL_VS_BARE)}"
        )
        cpu_ratio = report["cpu_ratio_vs_bare"] or 0.0
        print(
            f"  per CPU-second   {cpu_ratio:6.2f} × bare  (the same goal on CPU time, which other load does "
            f"not disturb) {verdict(cpu_ratio >= GOAL_VS_BARE)}"
        )
        if abs(cpu_ratio - ratio) > 0.1:
            print("  (the two ratios differ: something else was using the CPU; rerun on an idle machine)")
    if "text_pdfs" in report:
        t = report["text_pdfs"]
        print(
            f"  text PDFs ({t['files']} files, nothing to OCR): {t['with_ocr_s']:.2f} s with OCR on, "
            f"{t['without_ocr_s']:.2f} s off → {t['slowdown']:.3f}× (goal ≤ {GOAL_TEXT_SLOWDOWN}) "
            f"{verdict((t['slowdown'] or 9) <= GOAL_TEXT_SLOWDOWN)}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
