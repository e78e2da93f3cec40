"""Command-line commands of the insights: entities, mentions, timeline, graphs, batch search.

`add_parsers(sub)` is called by `app.cli.build_parser`; the commands call the same services as the app.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from app.insights import KINDS


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("entities", help="the case's entities (people, companies, addresses, numbers …)")
    p.add_argument("--kind", "-k", action="append", choices=KINDS, help="only this kind (repeatable)")
    p.add_argument(
        "--filter", "-f", dest="text", metavar="TEXT", help="only entities whose name contains TEXT"
    )
    p.add_argument("--query", "-q", help="count only within the documents matching this search")
    p.add_argument(
        "--sort",
        default="-documents",
        choices=["documents", "-documents", "mentions", "-mentions", "name", "-name", "kind", "-kind"],
    )
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--hidden", action="store_true", help="include hidden entities")
    p.add_argument("--refresh", action="store_true", help="recompute the entities of every document")
    p.add_argument(
        "--phone-region",
        metavar="CC",
        help="read phone numbers written without a country code as this country's (US, GB, DE …; the "
        "case's setting, US unless set); the case's numbers are read again",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_entities)

    entity = sub.add_parser("entity", help="rename, merge, hide or show an entity").add_subparsers(
        dest="entity_cmd", metavar="ACTION"
    )
    entity.required = True
    ref_help = "an entity id (from `entities`) or KIND:VALUE, e.g. company:'Panda International Ltd'"
    p = entity.add_parser("show", help="an entity and where it is mentioned")
    p.add_argument("ref", help=ref_help)
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_entity_show)
    p = entity.add_parser("rename", help="give an entity the name shown everywhere")
    p.add_argument("ref", help=ref_help)
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_entity_rename)
    p = entity.add_parser("merge", help="SOURCE is another spelling of TARGET (counted and found as TARGET)")
    p.add_argument("source", help=ref_help)
    p.add_argument("target", help=ref_help)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_entity_merge)
    p = entity.add_parser("unmerge", help="undo a merge: the spelling is an entity of its own again")
    p.add_argument("ref", help=ref_help)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_entity_unmerge)
    p = entity.add_parser("hide", help="hide false positives from search, facets, tables and graphs")
    p.add_argument("refs", nargs="+", metavar="REF", help=ref_help)
    p.set_defaults(func=cmd_entity_hide)
    p = entity.add_parser("unhide", help="show hidden entities again")
    p.add_argument("refs", nargs="+", metavar="REF", help=ref_help)
    p.set_defaults(func=cmd_entity_unhide)

    p = sub.add_parser("mentions", help="the entities one document mentions, with the passage around each")
    p.add_argument("id", type=int)
    p.add_argument("--hidden", action="store_true", help="include hidden entities")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_mentions)

    p = sub.add_parser("timeline", help="documents per day, month or year (email date, metadata or text)")
    p.add_argument("--by", choices=["day", "month", "year"], default="month")
    p.add_argument("--query", "-q", help="only the documents matching this search")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_timeline)

    graph = sub.add_parser("graph", help="export a graph for Gephi (GEXF or GraphML)").add_subparsers(
        dest="graph_cmd", metavar="GRAPH"
    )
    graph.required = True
    p = graph.add_parser("correspondents", help="email senders → recipients, weighted by messages")
    p.add_argument("--query", "-q", help="only the emails matching this search")
    p.add_argument("--out", "-o", type=Path, required=True, metavar="FILE.gexf|FILE.graphml")
    p.set_defaults(func=cmd_graph_correspondents)
    p = graph.add_parser("entities", help="documents ↔ the entities they mention")
    p.add_argument("ids", nargs="*", type=int, metavar="ID")
    p.add_argument("--query", "-q", help="the documents matching this search")
    p.add_argument("--kind", "-k", action="append", choices=KINDS, help="only this kind (repeatable)")
    p.add_argument("--out", "-o", type=Path, required=True, metavar="FILE.gexf|FILE.graphml")
    p.set_defaults(func=cmd_graph_entities)

    p = sub.add_parser("batch-search", help="run a CSV of search terms; write counts and ids per term")
    p.add_argument("terms", type=Path, metavar="TERMS.csv")
    p.add_argument("--out", "-o", type=Path, required=True, metavar="REPORT.csv")
    p.add_argument("--json", action="store_true", help="also print the report as JSON")
    p.set_defaults(func=cmd_batch_search)


# -- plumbing -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _services(args: argparse.Namespace, *, refresh: bool = True) -> Any:
    """The case (writable when possible), with entities brought up to date when it is writable."""
    from app.cli import _case_dir
    from app.services import open_for_reading

    with open_for_reading(_case_dir(args)) as services:
        if getattr(args, "reviewer", None):
            services.review.reviewer = args.reviewer.strip()
            services.insights.reviewer = args.reviewer.strip()
        if refresh and not services.case.read_only:
            services.insights.refresh()
        yield services


def _ids_for(services: Any, query: str | None) -> list[int] | None:
    from app.cli import CliError

    if not query:
        return None
    services.search.ensure_index()
    ids = services.search.matching_ids(query)
    if not ids:
        raise CliError(f"no document matches {query!r}")
    return ids


def _print_json(data: Any) -> None:
    from app.cli import _print_json

    _print_json(data)


# -- entities -------------------------------------------------------------------------------------


def cmd_entities(args: argparse.Namespace) -> int:
    with _services(args, refresh=False) as services:
        insights = services.insights
        if args.phone_region:
            region = insights.set_phone_region(args.phone_region)
            print(f"Phone numbers without a country code are read as {region} numbers", file=sys.stderr)
        if not services.case.read_only:
            insights.refresh(insights.all_ids() if args.refresh else None)
        table = insights.entity_table(
            kind=args.kind,
            text_filter=args.text,
            include_hidden=args.hidden,
            sort=args.sort,
            limit=args.limit,
            offset=args.offset,
            doc_ids=_ids_for(services, args.query),
        )
        ner_status = insights.ner_status()
    if args.json:
        _print_json({**table.to_json(), "ner": ner_status, "phone_region": insights.phone_region()})
        return 0
    shown = f"{args.offset + 1}-{args.offset + len(table.rows)}" if table.rows else "0"
    print(
        f"{table.total} entities; showing {shown}  ({', '.join(f'{k} {v}' for k, v in table.kinds.items())})"
    )
    for r in table.rows:
        flags = " [hidden]" if r.hidden else ""
        also = f"  (also: {', '.join(a['display'] for a in r.aliases)})" if r.aliases else ""
        print(
            f"{r.id:>7}  {r.kind:<9} {r.name[:60]:<60} {r.documents:>6} docs {r.mentions:>7} mentions{flags}{also}"
        )
    if not ner_status["available"]:
        print(f"\nNote: {ner_status['how_to']}", file=sys.stderr)
    return 0


def _print_entity(r: Any) -> None:
    also = f"; also {', '.join(a['display'] for a in r.aliases)}" if r.aliases else ""
    hidden = " (hidden)" if r.hidden else ""
    print(f"#{r.id} {r.kind} {r.name!r}{hidden}: {r.documents} document(s), {r.mentions} mention(s){also}")


def cmd_entity_show(args: argparse.Namespace) -> int:
    with _services(args) as services:
        row = services.insights.entity(args.ref)
        mentions = services.insights.entity_mentions(args.ref, limit=args.limit)
    if args.json:
        _print_json({"entity": row.to_json(), "mentions": [m.to_json() for m in mentions]})
        return 0
    _print_entity(row)
    for m in mentions:
        print(f"  #{m.document_id} {m.location}: {m.before}[{m.text}]{m.after}")
    return 0


def _entity_action(args: argparse.Namespace, action: str) -> int:
    with _services(args) as services:
        insights = services.insights
        if action == "rename":
            row = insights.rename(args.ref, args.name)
        elif action == "merge":
            row = insights.merge(args.source, args.target)
        else:
            row = insights.unmerge(args.ref)
    if getattr(args, "json", False):
        _print_json(row.to_json())
    else:
        _print_entity(row)
    return 0


def cmd_entity_rename(args: argparse.Namespace) -> int:
    return _entity_action(args, "rename")


def cmd_entity_merge(args: argparse.Namespace) -> int:
    return _entity_action(args, "merge")


def cmd_entity_unmerge(args: argparse.Namespace) -> int:
    return _entity_action(args, "unmerge")


def cmd_entity_hide(args: argparse.Namespace) -> int:
    with _services(args) as services:
        changed = services.insights.hide(args.refs)
    print(f"Hid {changed} entit{'y' if changed == 1 else 'ies'}")
    return 0


def cmd_entity_unhide(args: argparse.Namespace) -> int:
    with _services(args) as services:
        changed = services.insights.unhide(args.refs)
    print(f"Showing {changed} entit{'y' if changed == 1 else 'ies'} again")
    return 0


def cmd_mentions(args: argparse.Namespace) -> int:
    with _services(args) as services:
        mentions = services.insights.mentions(args.id, include_hidden=args.hidden)
    if args.json:
        _print_json({"document_id": args.id, "mentions": [m.to_json() for m in mentions]})
        return 0
    if not mentions:
        print(f"No entities found in #{args.id}.")
    for m in mentions:
        print(f"{m.kind:<9} {m.name[:40]:<40} {m.location}: {m.before}[{m.text}]{m.after}")
    return 0


# -- timeline, graphs, batch search -------------------------------------------------------------------


def cmd_timeline(args: argparse.Namespace) -> int:
    from app.insights.timeline import timeline

    with _services(args) as services:
        result = timeline(services.case, args.by, _ids_for(services, args.query))
    if args.json:
        _print_json(result.to_json())
        return 0
    print(
        f"{result.dated} dated document(s), {result.undated} undated; dated by "
        + (", ".join(f"{k} {v}" for k, v in result.sources.items()) or "nothing")
    )
    peak = max((b.count for b in result.buckets), default=0)
    for b in result.buckets:
        bar = "#" * (round(40 * b.count / peak) if peak else 0)
        print(f"{b.key:<10} {b.count:>6} {bar}")
    return 0


def cmd_graph_correspondents(args: argparse.Namespace) -> int:
    from app.insights.graph import correspondents, write_graph

    with _services(args) as services:
        graph = correspondents(services.case, _ids_for(services, args.query))
    path = write_graph(graph, args.out)
    print(f"Wrote {len(graph.nodes)} correspondents and {len(graph.edges)} edges to {path}")
    return 0


def cmd_graph_entities(args: argparse.Namespace) -> int:
    from app.cli import CliError
    from app.insights.graph import document_entities, write_graph

    if args.ids and args.query:
        raise CliError("give document ids or --query, not both")
    if not args.ids and not args.query:
        raise CliError("give document ids or --query")
    with _services(args) as services:
        ids = list(args.ids) if args.ids else _ids_for(services, args.query)
        graph = document_entities(services.case, ids or [], args.kind)
    path = write_graph(graph, args.out)
    docs = sum(1 for n in graph.nodes.values() if n.kind == "document")
    print(
        f"Wrote {docs} documents, {len(graph.nodes) - docs} entities and {len(graph.edges)} edges to {path}"
    )
    return 0


def cmd_batch_search(args: argparse.Namespace) -> int:
    from app.insights.batch import batch_search, read_terms, write_report

    terms = read_terms(args.terms)
    with _services(args) as services:
        results = batch_search(services, terms)
    write_report(args.out, results)
    if args.json:
        _print_json({"terms": [r.to_json() for r in results]})
        return 0
    failed = sum(1 for r in results if r.error)
    print(f"Ran {len(results)} term(s) ({failed} invalid); report written to {args.out}")
    for r in results:
        if r.error:
            print(f"  {r.term!r}: {r.error}")
    return 0
