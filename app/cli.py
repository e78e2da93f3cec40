"""The command line: argument parsing and printing only. Every command calls the same services as the app."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A problem to report in one line (no traceback)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dossier",
        description="Dossier: review leaked documents offline. Without a command, opens the desktop app.",
    )
    parser.add_argument("--case", metavar="DIR", help="the case folder (default: $DOSSIER_CASE)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("import", help="import files, folders, archives or mailboxes into the case")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--json", action="store_true", help="print one JSON summary instead of the report")
    p.add_argument("--workers", type=int, default=None, help="extraction processes (default: CPU count)")
    p.add_argument("--timeout", type=float, default=None, help="seconds allowed per file (default 120)")
    p.add_argument("--memory-mb", type=int, default=None, help="memory cap per extraction process (MB)")
    p.add_argument("--password", action="append", default=[], help="a password to try on encrypted files")
    p.add_argument("--password-file", type=Path, help="a file of passwords to try, one per line")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("list", help="list every document of the case")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="show one document's metadata and text")
    p.add_argument("id", type=int)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true")
    group.add_argument("--text", action="store_true", help="print the extracted text alone")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("problems", help="list documents that failed or were skipped, with reasons")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_problems)

    p = sub.add_parser("search", help="search the case (see the README for the query language)")
    p.add_argument("query")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--sort", default="relevance", choices=["relevance", "date", "-date", "name", "-name"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("reindex", help="rebuild the search index from the case store")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_reindex)

    p = sub.add_parser("verify", help="compare the search index with the case store")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify)

    return parser


# -- commands ---------------------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from app.extract.base import Limits
    from app.pipeline.importer import ImportOptions
    from app.services import build_services

    limits = Limits()
    if args.timeout:
        limits = replace(limits, timeout_s=args.timeout)
    if args.memory_mb:
        limits = replace(limits, memory_mb=args.memory_mb)
    passwords = list(args.password)
    if args.password_file:
        try:
            passwords += [
                ln.strip() for ln in args.password_file.read_text("utf-8").splitlines() if ln.strip()
            ]
        except OSError as exc:
            raise CliError(f"cannot read the password file: {exc.strerror or exc}") from exc
    options = ImportOptions(limits=limits, passwords=tuple(passwords))
    if args.workers:
        options = replace(options, workers=max(1, args.workers))
    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise CliError(f"path not found: {', '.join(missing)}")

    cancel = threading.Event()
    _install_interrupt(cancel)
    with build_services(_case_dir(args), create=True) as services:
        if args.json or not sys.stderr.isatty():
            summary = services.import_paths(paths, options, cancel=cancel)
        else:
            summary = _import_with_progress(services, paths, options, cancel)
    if args.json:
        _print_json(summary.to_json())
    else:
        _print_import_report(summary)
    return EXIT_OK


def _install_interrupt(cancel: threading.Event) -> None:
    """First Ctrl-C: stop cleanly after committing what is done. Second: stop at once."""

    def handler(signum: int, frame: Any) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\nStopping… (what is done is kept; run the same import again to resume)", file=sys.stderr)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, handler)


def _import_with_progress(services: Any, paths: list[Path], options: Any, cancel: threading.Event) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    columns = (
        TextColumn("[bold]{task.fields[phase]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.1f} files/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("[dim]{task.fields[current]}", justify="left"),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("import", total=None, phase="discovering", rate=0.0, current="")

        def on_progress(p: Any) -> None:
            current = p.current[-50:] if p.current else ""
            bar.update(
                task,
                total=max(p.files_total, 1),
                completed=p.files_done,
                phase=p.phase,
                rate=p.rate,
                current=current,
            )

        return services.import_paths(paths, options, cancel=cancel, on_progress=on_progress)


def _print_import_report(summary: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    state = "[yellow]interrupted[/] (run it again to resume)" if summary.interrupted else "[green]complete[/]"
    console.print(
        f"Import {state}: {summary.documents} documents processed, {summary.new} new, "
        f"{summary.duplicates} duplicates, {summary.unchanged} unchanged files skipped, "
        f"{summary.case_documents} in the case; {summary.elapsed:.1f} s"
    )
    if summary.by_status or summary.by_type:
        table = Table(show_header=True, header_style="bold", box=None)
        table.add_column("status")
        table.add_column("count", justify="right")
        table.add_column("   type")
        table.add_column("count", justify="right")
        statuses = list(summary.by_status.items())
        types = list(summary.by_type.items())
        for i in range(max(len(statuses), len(types))):
            st = statuses[i] if i < len(statuses) else ("", "")
            ty = types[i] if i < len(types) else ("", "")
            table.add_row(st[0], str(st[1]), "   " + ty[0], str(ty[1]))
        console.print(table)
    if summary.failures:
        console.print(f"[bold]{len(summary.failures)} problem(s):[/]")
        for f in summary.failures:
            ident = f"#{f['id']} " if f.get("id") else ""
            console.print(
                f"  {ident}[red]{f['status']}[/] {f['path']}: {f['reason']}", markup=True, highlight=False
            )


def cmd_list(args: argparse.Namespace) -> int:
    from app.services import build_services

    with build_services(_case_dir(args), read_only=True) as services:
        docs = services.documents.iter_summaries()
        if args.json:
            out = sys.stdout
            out.write('{"documents": [')
            for i, d in enumerate(docs):
                out.write(("," if i else "") + "\n" + json.dumps(d.to_json(), ensure_ascii=False))
            out.write("\n]}\n")
            return EXIT_OK
        for d in docs:
            status = d.status if d.status == "ok" else f"{d.status}: {d.reason}"
            indent = "  " * min(d.depth, 6)
            print(f"{d.id:>6}  {indent}{d.type:<8} {d.title[:60]:<60}  {status}")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from app.services import build_services

    with build_services(_case_dir(args), read_only=True) as services:
        if args.text:
            sys.stdout.write(services.documents.text(args.id) + "\n")
            return EXIT_OK
        detail = services.documents.detail(args.id)
    if args.json:
        _print_json(detail.to_json())
        return EXIT_OK
    s = detail.summary
    lines = [
        f"#{s.id}  {s.title}",
        f"type {s.type}   status {s.status}{(' — ' + s.reason) if s.reason else ''}",
        f"sha256 {s.sha256}   {s.size:,} bytes   date {s.date or '-'} ({detail.date_source or '-'})",
        f"review {s.review_status}   parent {s.parent_id or '-'}   children {len(detail.children)}",
    ]
    lines += [f"source {src['path']}" for src in detail.sources]
    lines += [f"{k}: {v}" for k, v in sorted(detail.metadata.items())]
    print("\n".join(lines))
    for part in detail.parts:
        print(f"\n--- {part['kind']} {part['label']}{' (needs OCR)' if part['needs_ocr'] else ''} ---")
        print(part["text"])
    return EXIT_OK


def cmd_problems(args: argparse.Namespace) -> int:
    from app.services import build_services

    with build_services(_case_dir(args), read_only=True) as services:
        problems = services.documents.problems()
    if args.json:
        _print_json({"problems": [p.to_json() for p in problems]})
        return EXIT_OK
    if not problems:
        print("No problems: every document was read.")
    for p in problems:
        path = p.paths[0] if p.paths else p.title
        print(f"#{p.id:<6} {p.status:<13} {path}\n        {p.reason}")
    return EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    from app.services import open_for_reading

    with open_for_reading(_case_dir(args)) as services:
        services.search.ensure_index()
        results = services.search.search(args.query, limit=args.limit, offset=args.offset, sort=args.sort)
    if args.json:
        _print_json(results.to_json())
        return EXIT_OK
    _print_search(results)
    return EXIT_OK


def _print_search(results: Any) -> None:
    import html as html_mod
    import re

    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False)
    shown = f"{results.offset + 1}-{results.offset + len(results.hits)}" if results.hits else "0"
    console.print(f"[bold]{results.total}[/] documents match; showing {shown} ({results.took_ms:.0f} ms)")
    for hit in results.hits:
        where = ", ".join(loc["label"] for loc in hit.locations[:6])
        line = Text(f"\n#{hit.id} ", style="bold")
        line.append(hit.title, style="bold cyan")
        line.append(f"  [{hit.type}] {hit.date or ''}", style="dim")
        console.print(line)
        if hit.paths:
            console.print(Text("  " + hit.paths[0], style="dim"))
        if where:
            console.print(Text("  in " + where, style="green"))
        snippet = Text("  ")
        for piece in re.split(r"(<mark>.*?</mark>)", hit.snippet):
            if piece.startswith("<mark>"):
                snippet.append(html_mod.unescape(piece[6:-7]), style="bold yellow")
            else:
                snippet.append(html_mod.unescape(piece))
        console.print(snippet)
    if results.facets:
        for name in ("type", "year", "status"):
            values = results.facets.get(name) or {}
            if values:
                console.print(
                    f"[dim]{name}:[/] " + ", ".join(f"{k} {v}" for k, v in list(values.items())[:8])
                )


def cmd_reindex(args: argparse.Namespace) -> int:
    import time

    from app.services import build_services

    t0 = time.monotonic()
    with build_services(_case_dir(args)) as services:
        count = services.search.reindex()
    elapsed = time.monotonic() - t0
    if args.json:
        _print_json({"indexed": count, "seconds": round(elapsed, 2)})
    else:
        print(f"Rebuilt the search index: {count} documents in {elapsed:.1f} s")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from app.services import open_for_reading

    with open_for_reading(_case_dir(args)) as services:
        report = services.search.verify()
    if args.json:
        _print_json(report.to_json())
    else:
        print(f"store: {report.store_documents} documents; index: {report.index_documents}")
        print(f"missing from the index: {report.missing_from_index or 'none'}")
        print(f"in the index but not in the store: {report.not_in_store or 'none'}")
        print(f"indexed at an older revision: {report.stale or 'none'}")
        print("OK" if report.ok else "Problems found: run `reindex` to repair the index.")
    return EXIT_OK if report.ok else EXIT_FAIL


# -- plumbing ---------------------------------------------------------------------------------------


def _case_dir(args: argparse.Namespace) -> Path:
    value = args.case or os.environ.get("DOSSIER_CASE")
    if not value:
        raise CliError("which case? pass --case DIR (or set DOSSIER_CASE)")
    return Path(value).expanduser()


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _known_errors() -> tuple[type[BaseException], ...]:
    from app.case import CaseError
    from app.documents import DocumentNotFound
    from app.pipeline.importer import ImportFailed
    from app.search import IndexUnavailable, QueryError

    return (CliError, CaseError, DocumentNotFound, ImportFailed, QueryError, IndexUnavailable)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        return _run_app(args)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except _known_errors() as exc:
        print(f"dossier: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print("dossier: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:
        print(f"dossier: {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", file=sys.stderr)
        return EXIT_FAIL
    except Exception as exc:  # last resort: one line for the reporter, the details in the log
        log.debug("unexpected error", exc_info=True)
        print(
            f"dossier: unexpected error: {type(exc).__name__}: {exc} (run with -v for details)",
            file=sys.stderr,
        )
        return EXIT_FAIL


def _run_app(args: argparse.Namespace) -> int:
    try:
        from ui.app import run_app
    except ImportError as exc:
        print(f"dossier: the desktop app cannot start ({exc}); the command line works:", file=sys.stderr)
        build_parser().print_help()
        return EXIT_FAIL
    case = args.case or os.environ.get("DOSSIER_CASE")
    return run_app(Path(case).expanduser() if case else None)


if __name__ == "__main__":
    sys.exit(main())
