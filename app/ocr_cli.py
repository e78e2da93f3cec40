"""The `ocr` command: run or re-run OCR on documents of a case, list and set the OCR languages.

dossier --case DIR ocr                      # documents with pages still waiting for OCR
dossier --case DIR ocr 12 14 --lang eng+deu # these documents, in these languages
dossier --case DIR ocr --query 'type:pdf'   # every PDF or image matching a search
dossier --case DIR ocr --all                # also every document OCR'd before (e.g. new languages)
dossier --case DIR ocr --languages          # installed languages and the case's setting
dossier --case DIR ocr --set-lang eng+deu   # the case's languages (imports use them by default)
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from app.cli import EXIT_OK, CliError, _case_dir, _install_interrupt, _print_json


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("ocr", help="run or re-run OCR on scanned pages and images; list OCR languages")
    p.add_argument("ids", nargs="*", type=int, metavar="ID", help="documents to OCR (default: those waiting)")
    p.add_argument("--query", "-q", help="OCR every PDF or image matching this search")
    p.add_argument("--all", action="store_true", help="also documents OCR'd before (to re-read them)")
    p.add_argument(
        "--lang", metavar="LANGS", help="languages for this run, e.g. eng+deu (default: the case's)"
    )
    p.add_argument("--languages", action="store_true", help="list the installed OCR languages and exit")
    p.add_argument("--set-lang", metavar="LANGS", help="set the case's OCR languages (used by imports)")
    p.add_argument("--workers", type=int, default=None, help="OCR processes (default: CPU count)")
    p.add_argument("--timeout", type=float, default=None, help="seconds allowed per document (default 120)")
    p.add_argument("--memory-mb", type=int, default=None, help="memory cap per process (MB)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ocr)


def cmd_ocr(args: argparse.Namespace) -> int:
    from app.ocr import OcrError

    try:
        return _cmd_ocr(args)
    except OcrError as exc:
        raise CliError(str(exc)) from exc


def _cmd_ocr(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from app import ocr
    from app.extract.base import Limits
    from app.pipeline.importer import ImportOptions
    from app.services import build_services, open_for_reading

    if args.languages:
        with open_for_reading(_case_dir(args)) as services:
            info = ocr.language_info(services.case)
        if args.json:
            _print_json(info.to_json())
        else:
            print(f"OCR engine: {info.engine}")
            print(
                f"installed languages: {', '.join(info.installed) or 'none'}  ({info.tessdata or 'no models'})"
            )
            print(f"this case reads: {info.case_default}")
        return EXIT_OK
    if args.ids and args.query:
        raise CliError("give document ids or --query, not both")
    run_wanted = bool(args.ids or args.query or args.all or not args.set_lang)
    with build_services(_case_dir(args)) as services:
        if args.set_lang:
            langs = ocr.set_case_languages(services.case, args.set_lang)
            if not args.json:
                print(f"This case now reads scans in: {langs}")
            if not run_wanted:
                if args.json:
                    _print_json({"case_languages": langs})
                return EXIT_OK
        if args.lang:
            reason = _language_problem(args.lang)
            if reason:
                raise CliError(reason)
        ids: list[int] = list(args.ids)
        if args.query:
            services.search.ensure_index()
            ids = services.search.matching_ids(args.query)
            if not ids:
                raise CliError(f"no document matches {args.query!r}")
        chosen = ocr.select_documents(services.case, ids, everything=args.all)
        if not chosen:
            message = (
                "none of these documents is a PDF or an image"
                if ids
                else "no document is waiting for OCR (use IDs, --query or --all to re-run it)"
            )
            if args.json:
                _print_json({"documents": 0, "message": message})
            else:
                print(message[0].upper() + message[1:] + ".")
            return EXIT_OK
        limits = Limits()
        if args.timeout:
            limits = replace(limits, timeout_s=args.timeout)
        if args.memory_mb:
            limits = replace(limits, memory_mb=args.memory_mb)
        options = ImportOptions(limits=limits, ocr=True, ocr_languages=args.lang or "")
        if args.workers:
            options = replace(options, workers=max(1, args.workers))
        cancel = threading.Event()
        _install_interrupt(cancel)
        if args.json or not sys.stderr.isatty():
            summary = ocr.run_ocr(services, chosen, options, cancel=cancel)
        else:
            summary = _with_progress(services, chosen, options, cancel)
    if args.json:
        _print_json(summary.to_json())
        return EXIT_OK
    state = "interrupted (run it again to continue)" if summary.interrupted else "done"
    print(
        f"OCR {state}: {summary.documents} document(s), {summary.ocr_pages} page(s) read, "
        f"{summary.ocr_cached} taken from earlier OCR; {summary.elapsed:.1f} s"
    )
    for f in summary.failures:
        ident = f"#{f['id']} " if f.get("id") else ""
        print(f"  {ident}{f['status']} {f['path']}: {f['reason']}")
    return EXIT_OK


def _language_problem(spec: str) -> str | None:
    from app.extract import ocr as engine

    return engine.unavailable_reason(spec)


def _with_progress(services: Any, ids: list[int], options: Any, cancel: threading.Event) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from app.ocr import run_ocr

    columns = (
        TextColumn("[bold]OCR"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("[dim]{task.fields[current]}"),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("ocr", total=len(ids), current="")

        def on_progress(p: Any) -> None:
            bar.update(task, total=max(p.files_total, 1), completed=p.files_done, current=p.current[-50:])

        return run_ocr(services, ids, options, cancel=cancel, on_progress=on_progress)
