"""The command line: argument parsing and printing only. Every command calls the same services as the app."""

from __future__ import annotations

import argparse
import contextlib
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
    parser.add_argument("--as", dest="reviewer", metavar="NAME", help="record review actions under this name")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("import", help="import files, folders, archives or mailboxes into the case")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--json", action="store_true", help="print one JSON summary instead of the report")
    p.add_argument("--workers", type=int, default=None, help="extraction processes (default: CPU count)")
    p.add_argument("--timeout", type=float, default=None, help="seconds allowed per file (default 120)")
    p.add_argument("--memory-mb", type=int, default=None, help="memory cap per extraction process (MB)")
    p.add_argument("--password", action="append", default=[], help="a password to try on encrypted files")
    p.add_argument("--password-file", type=Path, help="a file of passwords to try, one per line")
    p.add_argument("--ocr-lang", metavar="LANGS", help="OCR languages, e.g. eng+deu (default: the case's)")
    p.add_argument("--no-ocr", action="store_true", help="do not OCR scans and images (run `ocr` later)")
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

    _review_parsers(sub)
    from app.insights.cli import add_parsers as insights_parsers  # entities, timeline, graph, batch-search

    insights_parsers(sub)
    from app.ocr_cli import add_parsers as ocr_parsers  # ocr: run/re-run OCR, languages

    ocr_parsers(sub)
    return parser


def _targets(p: argparse.ArgumentParser) -> None:
    p.add_argument("ids", nargs="*", type=int, metavar="ID")
    p.add_argument("--query", "-q", help="act on every document matching this search")


def _review_parsers(sub: Any) -> None:
    tag = sub.add_parser("tag", help="add, remove, rename or merge tags").add_subparsers(
        dest="tag_cmd", metavar="ACTION"
    )
    tag.required = True
    p = tag.add_parser("add", help="tag documents (the tag is created if needed)")
    p.add_argument("name")
    _targets(p)
    p.add_argument("--color", help="#rrggbb for a new tag")
    p.set_defaults(func=cmd_tag_add)
    p = tag.add_parser("rm", help="remove a tag from documents")
    p.add_argument("name")
    _targets(p)
    p.set_defaults(func=cmd_tag_rm)
    p = tag.add_parser("rename", help="rename a tag (nested tags follow)")
    p.add_argument("old")
    p.add_argument("new")
    p.set_defaults(func=cmd_tag_rename)
    p = tag.add_parser("merge", help="move every assignment of SOURCE to TARGET and delete SOURCE")
    p.add_argument("source")
    p.add_argument("target")
    p.set_defaults(func=cmd_tag_merge)
    p = tag.add_parser("color", help="set a tag's colour")
    p.add_argument("name")
    p.add_argument("color")
    p.set_defaults(func=cmd_tag_color)

    p = sub.add_parser("tags", help="list tags with their document counts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_tags)

    status = sub.add_parser("status", help="set review status").add_subparsers(
        dest="status_cmd", metavar="ACTION"
    )
    status.required = True
    p = status.add_parser("set", help="unreviewed | relevant | not_relevant | follow_up")
    p.add_argument("status")
    _targets(p)
    p.set_defaults(func=cmd_status_set)

    note = sub.add_parser("note", help="add, edit or delete notes").add_subparsers(
        dest="note_cmd", metavar="ACTION"
    )
    note.required = True
    p = note.add_parser("add", help="add a note to a document")
    p.add_argument("id", type=int)
    p.add_argument("text")
    anchor = p.add_mutually_exclusive_group()
    anchor.add_argument("--page", type=int)
    anchor.add_argument("--cell", help="a sheet cell, e.g. 'Sheet1!C14'")
    anchor.add_argument("--quote", help="the passage the note is about")
    p.set_defaults(func=cmd_note_add)
    p = note.add_parser("edit", help="change the text of one of your notes")
    p.add_argument("note_id", type=int)
    p.add_argument("text")
    p.set_defaults(func=cmd_note_edit)
    p = note.add_parser("rm", help="delete one of your notes")
    p.add_argument("note_id", type=int)
    p.set_defaults(func=cmd_note_rm)
    p = sub.add_parser("notes", help="a document's notes")
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_notes)

    link = sub.add_parser("link", help="link documents").add_subparsers(dest="link_cmd", metavar="ACTION")
    link.required = True
    p = link.add_parser("add", help="link document A to document B")
    p.add_argument("a", type=int)
    p.add_argument("b", type=int)
    p.add_argument("--relation", "-r", default="related")
    p.add_argument("--note", default="")
    p.set_defaults(func=cmd_link_add)
    p = link.add_parser("rm", help="remove a link")
    p.add_argument("link_id")
    p.set_defaults(func=cmd_link_rm)
    p = sub.add_parser("links", help="a document's links and link suggestions")
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_links)
    p = sub.add_parser("relations", help="the link relation vocabulary")
    p.add_argument("--add", metavar="NAME", help="add a relation")
    p.set_defaults(func=cmd_relations)

    sg = sub.add_parser("suggest", help="accept or dismiss a link suggestion").add_subparsers(
        dest="suggest_cmd", metavar="ACTION"
    )
    sg.required = True
    p = sg.add_parser("accept")
    p.add_argument("suggestion_id", type=int)
    p.add_argument("--relation", "-r")
    p.set_defaults(func=cmd_suggest_accept)
    p = sg.add_parser("dismiss")
    p.add_argument("suggestion_id", type=int)
    p.set_defaults(func=cmd_suggest_dismiss)

    p = sub.add_parser("audit", help="the audit trail of review actions (of one document, or the case)")
    p.add_argument("id", type=int, nargs="?")
    p.add_argument("--limit", type=int, default=500)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("delete", help="delete a document (and what was found inside it) from the case")
    p.add_argument("id", type=int)
    p.add_argument("--yes", action="store_true", help="confirm the deletion")
    p.set_defaults(func=cmd_delete)

    p = sub.add_parser(
        "export", help="export documents as a bundle for a teammate, or a scrubbed publication copy"
    )
    p.add_argument("out", type=Path, metavar="OUT.dossier.zip")
    sel = p.add_mutually_exclusive_group(required=True)
    sel.add_argument("--tag", help="every document with this tag")
    sel.add_argument("--query", "-q", help="every document matching this search")
    sel.add_argument("--ids", type=int, nargs="+", metavar="ID")
    p.add_argument("--with-children", action="store_true", help="include attachments and archive members")
    p.add_argument(
        "--scrub", action="store_true", help="publication copy: remove metadata, burn in redactions"
    )
    p.add_argument(
        "--redact-term",
        action="append",
        default=[],
        metavar="TERM",
        help="with --scrub: black out every match",
    )
    p.add_argument(
        "--format",
        choices=["bundle", "dat"],
        default="bundle",
        help="dat: Concordance load file + text folder",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("merge", help="merge a teammate's bundle into this case")
    p.add_argument("bundle", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_merge)

    p = sub.add_parser("conflicts", help="review values that differed in merged bundles")
    p.add_argument("--resolve", type=int, metavar="ID", help="mark a conflict as looked at")
    p.add_argument("--keep-local", type=int, metavar="ID", help="decide a conflict: keep this case's value")
    p.add_argument("--take-theirs", type=int, metavar="ID", help="decide a conflict: take the bundle's value")
    p.add_argument("--all", action="store_true", help="include resolved conflicts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_conflicts)

    p = sub.add_parser("redact", help="redactions burned into scrubbed exports")
    p.add_argument("id", type=int)
    p.add_argument("--page", type=int)
    p.add_argument("--rect", help="x0,y0,x1,y1 in PDF points (from the page's top-left)")
    p.add_argument("--term", help="black out every match of this text in the document")
    p.add_argument("--list", action="store_true")
    p.set_defaults(func=cmd_redact)

    p = sub.add_parser("unlock", help="re-extract an encrypted document with its password")
    p.add_argument("id", type=int)
    p.add_argument("--password", required=True, help="the password (a wrong one changes nothing)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_unlock)

    p = sub.add_parser(
        "doctor", help="check the case (store, originals, index, schema) and repair what can be"
    )
    p.add_argument("--no-repair", action="store_true", help="only report")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_doctor)

    config = sub.add_parser("config", help="installation settings").add_subparsers(
        dest="config_cmd", metavar="ACTION"
    )
    config.required = True
    p = config.add_parser("set", help="set a setting, e.g. `config set reviewer 'Jane Roe'`")
    p.add_argument("key")
    p.add_argument("value")
    p.set_defaults(func=cmd_config_set)
    p = config.add_parser("get", help="show the settings")
    p.set_defaults(func=cmd_config_get)


# -- commands ---------------------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from app.index_process import start_ahead

    start_ahead(_case_dir(args))  # loads its libraries while this process loads its own

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
    options = ImportOptions(
        limits=limits, passwords=tuple(passwords), ocr=not args.no_ocr, ocr_languages=args.ocr_lang or ""
    )
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
    if getattr(summary, "ocr_pages", 0) or getattr(summary, "ocr_cached", 0):
        console.print(f"OCR: {summary.ocr_pages} page(s) read, {summary.ocr_cached} taken from earlier OCR")
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
        mark = " (needs OCR)" if part["needs_ocr"] else (" (OCR)" if part.get("origin") == "ocr" else "")
        print(f"\n--- {part['kind']} {part['label']}{mark} ---")
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


@contextlib.contextmanager
def _review(args: argparse.Namespace, *, create: bool = False) -> Any:
    from app.services import build_services

    with build_services(_case_dir(args), create=create) as services:
        if args.reviewer:
            services.review.reviewer = args.reviewer.strip()
        yield services


def _resolve_targets(services: Any, args: argparse.Namespace) -> list[int]:
    if args.query and args.ids:
        raise CliError("give document ids or --query, not both")
    if args.query:
        services.search.ensure_index()
        ids = services.search.matching_ids(args.query)
        if not ids:
            raise CliError(f"no document matches {args.query!r}")
        return ids
    if not args.ids:
        raise CliError("give document ids or --query")
    return list(args.ids)


def _done(args: argparse.Namespace, message: str, data: dict[str, Any]) -> int:
    if getattr(args, "json", False):
        _print_json(data)
    else:
        print(message)
    return EXIT_OK


def cmd_tag_add(args: argparse.Namespace) -> int:
    with _review(args) as services:
        ids = _resolve_targets(services, args)
        count = services.review.add_tag(args.name, ids, color=args.color)
    return _done(
        args,
        f"Tagged {count} document(s) {args.name!r} ({len(ids) - count} already had it)",
        {"tagged": count},
    )


def cmd_tag_rm(args: argparse.Namespace) -> int:
    with _review(args) as services:
        ids = _resolve_targets(services, args)
        count = services.review.remove_tag(args.name, ids)
    return _done(args, f"Removed {args.name!r} from {count} document(s)", {"untagged": count})


def cmd_tag_rename(args: argparse.Namespace) -> int:
    with _review(args) as services:
        tag = services.review.rename_tag(args.old, args.new)
    return _done(args, f"Renamed {args.old!r} to {tag.name!r} ({tag.count} documents)", tag.to_json())


def cmd_tag_merge(args: argparse.Namespace) -> int:
    with _review(args) as services:
        tag = services.review.merge_tags(args.source, args.target)
    return _done(args, f"Merged {args.source!r} into {tag.name!r} ({tag.count} documents)", tag.to_json())


def cmd_tag_color(args: argparse.Namespace) -> int:
    with _review(args) as services:
        tag = services.review.set_tag_color(args.name, args.color)
    return _done(args, f"Tag {tag.name!r} is now {tag.color}", tag.to_json())


def cmd_tags(args: argparse.Namespace) -> int:
    from app.services import open_for_reading

    with open_for_reading(_case_dir(args)) as services:
        tags = services.review.list_tags()
    if args.json:
        _print_json({"tags": [t.to_json() for t in tags]})
    elif not tags:
        print("No tags yet.")
    else:
        for t in tags:
            print(f"{t.count:>6}  {t.name}  {t.color}{('  ' + t.description) if t.description else ''}")
    return EXIT_OK


def cmd_status_set(args: argparse.Namespace) -> int:
    with _review(args) as services:
        ids = _resolve_targets(services, args)
        count = services.review.set_status(args.status, ids)
    return _done(
        args,
        f"Set {count} document(s) to {args.status} ({len(ids) - count} already were)",
        {"changed": count},
    )


def cmd_note_add(args: argparse.Namespace) -> int:
    with _review(args) as services:
        note = services.review.add_note(args.id, args.text, page=args.page, cell=args.cell, quote=args.quote)
    return _done(args, f"Added note {note.id} to document {args.id}", note.to_json())


def cmd_note_edit(args: argparse.Namespace) -> int:
    with _review(args) as services:
        note = services.review.edit_note(args.note_id, args.text)
    return _done(args, f"Updated note {note.id}", note.to_json())


def cmd_note_rm(args: argparse.Namespace) -> int:
    with _review(args) as services:
        services.review.delete_note(args.note_id)
    return _done(args, f"Deleted note {args.note_id}", {"deleted": args.note_id})


def cmd_notes(args: argparse.Namespace) -> int:
    from app.services import open_for_reading

    with open_for_reading(_case_dir(args)) as services:
        services.documents.detail(args.id, with_parts=False)
        notes = services.review.notes(args.id)
    if args.json:
        _print_json({"notes": [n.to_json() for n in notes]})
        return EXIT_OK
    for n in notes:
        anchor = (
            f" (page {n.page})"
            if n.page
            else f" ({n.cell})"
            if n.cell
            else f' ("{n.quote}")'
            if n.quote
            else ""
        )
        print(f"[{n.id}] {n.author}, {n.updated_at}{anchor}:\n    {n.text}")
    if not notes:
        print("No notes.")
    return EXIT_OK


def cmd_link_add(args: argparse.Namespace) -> int:
    with _review(args) as services:
        link = services.review.add_link(args.a, args.b, args.relation, args.note)
    return _done(args, f"Linked {args.a} -[{link.relation}]-> {args.b} (link {link.id})", link.to_json())


def cmd_link_rm(args: argparse.Namespace) -> int:
    with _review(args) as services:
        services.review.remove_link(args.link_id)
    return _done(args, f"Removed link {args.link_id}", {"removed": args.link_id})


def cmd_links(args: argparse.Namespace) -> int:
    from app.services import open_for_reading

    with open_for_reading(_case_dir(args)) as services:
        view = services.review.links(args.id)
    if args.json:
        _print_json(view.to_json())
        return EXIT_OK
    for link in view.links:
        arrow = "->" if link.direction == "out" else "<-"
        auto = " (found by import)" if link.automatic else ""
        print(
            f"[{link.id}] {arrow} {link.relation} #{link.other_id} {link.other_title}{auto}{(': ' + link.note) if link.note else ''}"
        )
    for sg in view.suggestions:
        print(f"suggestion {sg.id} [{sg.state}] {sg.kind} {sg.detail}: #{sg.other_id} {sg.other_title}")
    if not view.links and not view.suggestions:
        print("No links or suggestions.")
    return EXIT_OK


def cmd_relations(args: argparse.Namespace) -> int:
    with _review(args) as services:
        if args.add:
            services.review.add_relation(args.add)
        names = services.review.relations()
    print("\n".join(names))
    return EXIT_OK


def cmd_suggest_accept(args: argparse.Namespace) -> int:
    with _review(args) as services:
        link = services.review.accept_suggestion(args.suggestion_id, args.relation)
    return _done(
        args,
        f"Accepted: linked {link.source_id} -[{link.relation}]-> {link.target_id} (link {link.id})",
        link.to_json(),
    )


def cmd_suggest_dismiss(args: argparse.Namespace) -> int:
    with _review(args) as services:
        services.review.dismiss_suggestion(args.suggestion_id)
    return _done(args, f"Dismissed suggestion {args.suggestion_id}", {"dismissed": args.suggestion_id})


def cmd_audit(args: argparse.Namespace) -> int:
    from app.services import open_for_reading

    with open_for_reading(_case_dir(args)) as services:
        entries = services.review.audit(args.id, limit=args.limit)
    if args.json:
        _print_json({"audit": [e.to_json() for e in entries]})
        return EXIT_OK
    for e in entries:
        doc = f" #{e.document_id}" if e.document_id else ""
        detail = ", ".join(f"{k}={v}" for k, v in e.detail.items() if v not in (None, ""))
        print(f"{e.at}  {e.actor:<16} {e.action:<18}{doc}  {detail}")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    if not args.yes:
        raise CliError(
            f"deleting document {args.id} removes it and everything found inside it; add --yes to confirm"
        )
    with _review(args) as services:
        ids = services.delete_document(args.id)
    return _done(args, f"Deleted {len(ids)} document(s): {', '.join(map(str, ids))}", {"deleted": ids})


def _selected_ids(services: Any, args: argparse.Namespace) -> list[int]:
    if args.ids:
        return list(args.ids)
    services.search.ensure_index()
    query = f'tag:"{args.tag}"' if args.tag else args.query
    ids = services.search.matching_ids(query)
    if not ids:
        raise CliError(f"nothing to export: no document matches {query!r}")
    return ids


def cmd_export(args: argparse.Namespace) -> int:
    from app.services import open_for_reading

    if args.redact_term and not args.scrub:
        raise CliError("--redact-term works with --scrub (redactions are for publication copies)")
    with open_for_reading(_case_dir(args)) as services:
        if args.reviewer:
            services.review.reviewer = args.reviewer
        ids = _selected_ids(services, args)
        if args.format == "dat":
            from app.bundle.loadfile import export_loadfile

            report = export_loadfile(services.case, args.out, ids, with_children=args.with_children)
        else:
            report = services.export_bundle(
                args.out,
                ids,
                with_children=args.with_children,
                scrubbed=args.scrub,
                redact_terms=args.redact_term,
            )
    if args.json:
        _print_json(report.to_json())
        return EXIT_OK
    print(f"Exported {report.documents} document(s) to {report.path} ({report.bytes:,} bytes)")
    if getattr(report, "scrubbed", False):
        for info in report.scrub_report["files"].values():
            removed = "; ".join(info["removed"]) or "nothing found"
            print(f"  {info['title']}: removed {removed}")
            for w in info["warnings"]:
                print(f"    ! {w}")
        for w in report.scrub_report["warnings"]:
            print(f"  ! {w}")
    return EXIT_OK


def cmd_merge(args: argparse.Namespace) -> int:
    if not args.bundle.is_file():
        raise CliError(f"bundle not found: {args.bundle}")
    with _review(args, create=True) as services:
        report = services.merge_bundle(args.bundle)
    if args.json:
        _print_json(report.to_json())
        return EXIT_OK
    if not report.changed:
        print(f"Nothing to merge: this case already has everything in {report.bundle}.")
        return EXIT_OK
    print(
        f"Merged {report.bundle} from {report.creator}: {report.documents_added} new document(s), "
        f"{report.tags_added} tag(s), {report.notes_added} note(s) (+{report.notes_updated} updated), "
        f"{report.links_added} link(s), {report.statuses_set} review status(es)"
    )
    if report.links_skipped:
        print(
            f"  {report.links_skipped} link(s) point to documents not in this case; they stay in the bundle"
        )
    for c in report.conflicts:
        print(
            f"  conflict on #{c['document_id']} {c['field']}: kept {c['kept']!r}, theirs/ours was {c['other']!r}"
        )
    return EXIT_OK


def cmd_conflicts(args: argparse.Namespace) -> int:
    from app.bundle.merge import list_conflicts, resolve_conflict, settle_conflict

    with _review(args) as services:
        if args.resolve:
            resolve_conflict(services.case, args.resolve, reviewer=services.review.reviewer)
        for choice, conflict_id in (("local", args.keep_local), ("theirs", args.take_theirs)):
            if conflict_id:
                settle_conflict(services.case, conflict_id, choice, reviewer=services.review.reviewer)
        conflicts = list_conflicts(services.case, include_resolved=args.all)
    if args.json:
        _print_json({"conflicts": conflicts})
        return EXIT_OK
    if not conflicts:
        print("No open conflicts.")
    for c in conflicts:
        print(
            f"[{c['id']}] #{c['document_id']} {c['field']}: kept {c['kept']!r} over {c['other']!r} ({c['bundle']}, {c['bundle_creator']})"
        )
    return EXIT_OK


def cmd_redact(args: argparse.Namespace) -> int:
    from app.bundle.redactions import add_redaction, list_redactions

    with _review(args) as services:
        if not args.list:
            rect = None
            if args.rect:
                try:
                    rect = tuple(float(v) for v in args.rect.split(","))
                except ValueError as exc:
                    raise CliError("--rect is x0,y0,x1,y1 (four numbers)") from exc
                if len(rect) != 4:
                    raise CliError("--rect is x0,y0,x1,y1 (four numbers)")
            add_redaction(
                services.case,
                args.id,
                page=args.page,
                rect=rect,
                term=args.term,
                reviewer=services.review.reviewer,
            )
        items = list_redactions(services.case, args.id)
    for r in items:
        where = f"page {r['page']} {r['rect']}" if r["rect"] else f"term {r['term']!r}"
        print(f"[{r['id']}] {where} by {r['created_by']}")
    return EXIT_OK


def cmd_unlock(args: argparse.Namespace) -> int:
    from app.unlock import UnlockError

    with _review(args) as services:
        try:
            report = services.unlock(args.id, args.password)
        except UnlockError as exc:
            raise CliError(str(exc)) from exc
    if args.json:
        _print_json(report.to_json())
        return EXIT_OK
    print(
        f"Unlocked #{report.document_id}: {report.status}, {report.parts} part(s) of text"
        + (f", {report.children} document(s) found inside" if report.children else "")
    )
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from app.doctor import run_doctor
    from app.services import open_for_reading

    with open_for_reading(_case_dir(args)) as services:
        if services.case.read_only and not args.no_repair:
            print(
                "The case is open read-only (in use elsewhere, or on read-only media): reporting only.",
                file=sys.stderr,
            )
        report = run_doctor(services, repair=not args.no_repair)
    if args.json:
        _print_json(report.to_json())
    else:
        for f in report.findings:
            mark = "ok " if f.ok else ("fixed" if f.repaired else "FAIL")
            print(f"[{mark:^5}] {f.check}: {f.detail}{(' — ' + f.repaired) if f.repaired else ''}")
        print("The case is healthy." if report.ok else "Problems remain (see above).")
    return EXIT_OK if report.ok else EXIT_FAIL


def cmd_config_set(args: argparse.Namespace) -> int:
    from app import settings

    try:
        settings.set_value(args.key, args.value)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    print(f"{args.key} = {args.value}")
    return EXIT_OK


def cmd_config_get(args: argparse.Namespace) -> int:
    from app import settings

    data = settings.load()
    data.setdefault("reviewer", settings.reviewer_name())
    for key, value in data.items():
        print(f"{key} = {value}")
    return EXIT_OK


# -- plumbing ---------------------------------------------------------------------------------------


def _case_dir(args: argparse.Namespace) -> Path:
    value = args.case or os.environ.get("DOSSIER_CASE")
    if not value:
        raise CliError("which case? pass --case DIR (or set DOSSIER_CASE)")
    return Path(value).expanduser()


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _known_errors() -> tuple[type[BaseException], ...]:
    from app.bundle.export import BundleError
    from app.case import CaseError
    from app.documents import DocumentNotFound
    from app.insights.batch import BatchError
    from app.insights.graph import GraphError
    from app.insights.service import InsightsError
    from app.pipeline.importer import ImportFailed
    from app.review.service import ReviewError
    from app.search import IndexUnavailable, QueryError

    return (
        CliError,
        CaseError,
        DocumentNotFound,
        ImportFailed,
        QueryError,
        IndexUnavailable,
        ReviewError,
        BundleError,
        InsightsError,
        GraphError,
        BatchError,
    )


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
