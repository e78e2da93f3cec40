"""The time line, graphs (GEXF/GraphML parsed back), batch search and the command line."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from app.cli import main
from app.insights.batch import BatchError, BatchTerm, batch_search, parse_terms, read_terms, write_report
from app.insights.graph import GraphError, correspondents, document_entities, write_graph
from app.insights.timeline import TimelineError, date_range, timeline
from tests.insights.conftest import by_title, ids

GEXF = "{http://gexf.net/1.3}"
GRAPHML = "{http://graphml.graphdrawing.org/xmlns}"


def test_timeline_buckets_and_sources(services) -> None:
    months = timeline(services.case, "month")
    assert months.dated == 4 and months.undated == 1  # "Blank" has no date anywhere
    assert months.sources == {"email": 2, "metadata:created": 1, "text": 1}
    may = next(b for b in months.buckets if b.key == "2001-05")
    assert (may.count, may.sources, may.start, may.end) == (2, {"email": 2}, "2001-05-01", "2001-05-31")
    assert months.buckets[0].key == "2001-05" and months.buckets[-1].key == "2013-02"
    assert sum(b.count for b in months.buckets) == 4  # empty months between are filled with 0
    years = timeline(services.case, "year")
    assert [(b.key, b.count) for b in years.buckets if b.count] == [("2001", 2), ("2002", 1), ("2013", 1)]
    days = timeline(services.case, "day", ids(services, "email:klay@enron.com"))
    assert [(b.key, b.count) for b in days.buckets] == [("2001-05-14", 1), ("2001-05-15", 1)]
    # Selecting a range filters the search.
    memo = by_title(services, "Memo")
    assert ids(services, months.query_for("2002-01", "2002-12")) == [memo]  # dated by its text
    assert ids(services, "dated:2001-05") == sorted(
        [by_title(services, "Wire instructions"), by_title(services, "RE: Wire instructions")]
    )
    assert ids(services, "dated:2001-05-15 OR dated:2013") == sorted(
        [by_title(services, "RE: Wire instructions"), by_title(services, "Supply contract")]
    )
    assert date_range("2001-02/2001-03") == ("2001-02-01", "2001-03-31")
    assert date_range("2004-02") == ("2004-02-01", "2004-02-29")
    with pytest.raises(TimelineError):
        services.search.matching_ids("dated:last-week")
    with pytest.raises(TimelineError):
        timeline(services.case, "week")


def test_correspondents_graph_gexf_and_graphml(services, tmp_path: Path) -> None:
    graph = correspondents(services.case)
    edges = {(e.source, e.target): e.weight for e in graph.edges}
    assert edges[("jeff.skilling@enron.com", "klay@enron.com")] == 1
    assert edges[("klay@enron.com", "jeff.skilling@enron.com")] == 1
    assert graph.nodes["klay@enron.com"].label == "Kenneth Lay"
    assert len(graph.nodes) == 4 and len(graph.edges) == 4
    # A merge makes one node of two addresses; a hidden address disappears.
    services.insights.merge("email:mark.frevert@enron.com", "email:sara.shackleton@enron.com")
    services.insights.rename("email:sara.shackleton@enron.com", "Sara & Mark <legal>")
    graph = correspondents(services.case)
    assert "mark.frevert@enron.com" not in graph.nodes
    assert graph.nodes["sara.shackleton@enron.com"].label == "Sara & Mark <legal>"
    assert {(e.source, e.target): e.weight for e in graph.edges}[
        ("jeff.skilling@enron.com", "sara.shackleton@enron.com")
    ] == 1

    gexf = write_graph(graph, tmp_path / "mail.gexf")
    root = ET.parse(gexf).getroot()
    assert root.tag == f"{GEXF}gexf"
    nodes = root.findall(f".//{GEXF}node")
    assert {n.get("label") for n in nodes} >= {"Kenneth Lay", "Sara & Mark <legal>"}
    assert len(root.findall(f".//{GEXF}edge")) == len(graph.edges)
    assert root.find(f"{GEXF}graph").get("defaultedgetype") == "directed"
    graphml = write_graph(graph, tmp_path / "mail.graphml")
    root = ET.parse(graphml).getroot()
    assert root.tag == f"{GRAPHML}graphml"
    assert len(root.findall(f".//{GRAPHML}node")) == len(graph.nodes)
    weights = [float(d.text) for d in root.findall(f".//{GRAPHML}edge/{GRAPHML}data[@key='weight']")]
    assert sorted(weights) == sorted(e.weight for e in graph.edges)
    with pytest.raises(GraphError, match=".gexf or .graphml"):
        write_graph(graph, tmp_path / "mail.png")


def test_documents_entities_graph(services, tmp_path: Path) -> None:
    wire, contract = by_title(services, "Wire instructions"), by_title(services, "Supply contract")
    services.insights.merge("company:Panda Intl Ltd", "company:Panda International Co., Ltd.")
    graph = document_entities(services.case, [wire, contract], kinds=["company", "iban"])
    panda = next(n for n in graph.nodes.values() if n.label == "Panda International Co., Ltd.")
    assert panda.attrs["documents"] == 2  # one node for both spellings
    assert {n.kind for n in graph.nodes.values()} == {"document", "company", "iban"}
    assert all(not n.label.startswith("2001") for n in graph.nodes.values())  # no dates unless asked
    # Labels with XML's special characters and control characters still make well-formed files.
    graph.nodes[f"d{wire}"].label = 'A & B <"quoted"> \x0b end'
    for name in ("g.gexf", "g.graphml"):
        ET.parse(write_graph(graph, tmp_path / name))
    with pytest.raises(GraphError, match="no documents"):
        document_entities(services.case, [])


def test_batch_search_csv_round_trip(services, tmp_path: Path) -> None:
    terms = tmp_path / "terms.csv"
    terms.write_text(
        "term,phrase,fuzzy,field,proximity\n"
        "panda,,,,\n"
        "Panda International,yes,,,\n"
        "Pandda,,1,,\n"
        "payment,,,subject,\n"
        "wire confirmed,yes,,,5\n"
        "WO-2017-0413,,,,\n"
        "nothing-matches-this,,,,\n"
        "panda bear,yes,1,,\n",
        "utf-8",
    )
    parsed = read_terms(terms)
    assert parsed[1] == BatchTerm("Panda International", phrase=True)
    assert parsed[1].to_query() == '"Panda International"' and parsed[2].to_query() == "Pandda~1"
    assert parsed[3].to_query() == "subject:payment"
    results = batch_search(services, parsed)
    report = write_report(tmp_path / "report.csv", results)
    with open(report, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["term"] for r in rows] == [t.term for t in parsed]
    by_term = {r["term"]: r for r in rows}
    wire, reply, contract = (
        by_title(services, t) for t in ("Wire instructions", "RE: Wire instructions", "Supply contract")
    )
    assert by_term["panda"]["ids"] == " ".join(map(str, sorted([wire, reply, contract])))
    assert by_term["panda"]["documents"] == "3" and int(by_term["panda"]["hits"]) >= 3
    assert by_term["Panda International"]["documents"] == "2"
    assert by_term["Pandda"]["documents"] == "3"  # fuzzy finds panda
    assert by_term["payment"]["ids"] == " ".join(map(str, sorted([wire, reply])))
    assert by_term["WO-2017-0413"]["ids"] == str(contract) and by_term["WO-2017-0413"]["hits"] == "1"
    assert (
        by_term["nothing-matches-this"]["documents"] == "0" and by_term["nothing-matches-this"]["error"] == ""
    )
    assert "fuzzy applies to single words" in by_term["panda bear"]["error"]
    assert by_term["panda bear"]["documents"] == "0"
    assert by_term["panda"]["documents_with_family"] == "3"
    with pytest.raises(BatchError, match="header"):
        parse_terms("panda\nbear\n")
    with pytest.raises(BatchError, match="fuzzy"):
        parse_terms("term,fuzzy\npanda,7\n")
    assert [t.query for t in parse_terms("query\nemail:klay@enron.com AND confirmed\n")] == [
        "email:klay@enron.com AND confirmed"
    ]


def test_command_line(services, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = str(services.case.root)
    services.close()  # the commands open the case themselves

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["--case", case, "--as", "Ben", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = run("entities", "--kind", "email", "--json")
    data = json.loads(out)
    assert code == 0 and data["entities"][0]["name"] == "jeff.skilling@enron.com" and "ner" in data
    code, out, _ = run("entities", "--filter", "panda")
    assert code == 0 and "Panda International Co., Ltd." in out
    code, out, _ = run("entity", "merge", "company:Panda Intl Ltd", "company:Panda International Co., Ltd.")
    assert code == 0 and "also Panda Intl Ltd" in out
    code, out, _ = run("entity", "hide", "bic:COBADEFFXXX")
    assert code == 0 and "Hid 1 entity" in out
    code, out, _ = run("search", 'entity:"Panda Intl"', "--json")
    assert json.loads(out)["total"] == 2  # the contract, and the wire naming the merged spelling
    code, out, _ = run("entity", "show", "company:Panda Intl Ltd")
    assert code == 0 and "[Panda Intl Ltd]" in out
    code, out, _ = run("mentions", "1", "--json")
    assert code == 0 and json.loads(out)["mentions"]
    code, out, _ = run("timeline", "--by", "year", "--json")
    assert code == 0 and json.loads(out)["dated"] == 4
    code, out, _ = run("timeline", "--query", "email:klay@enron.com")
    assert code == 0 and "2001-05" in out
    code, out, _ = run("graph", "correspondents", "--out", str(tmp_path / "c.gexf"))
    assert code == 0 and ET.parse(tmp_path / "c.gexf")
    code, out, _ = run("graph", "entities", "--query", "panda", "--out", str(tmp_path / "e.graphml"))
    assert code == 0 and ET.parse(tmp_path / "e.graphml")
    (tmp_path / "terms.csv").write_text("term\npanda\ncanteen\n", "utf-8")
    code, out, _ = run("batch-search", str(tmp_path / "terms.csv"), "--out", str(tmp_path / "r.csv"))
    assert code == 0 and (tmp_path / "r.csv").read_text("utf-8").startswith("term,query,documents,hits")
    code, out, _ = run("audit", "--json")
    actions = [(e["action"], e["actor"]) for e in json.loads(out)["audit"]]
    assert ("entity_merge", "Ben") in actions and ("entity_hide", "Ben") in actions
    # One-line errors, no tracebacks.
    for argv, message in (
        (("entity", "rename", "999999", "x"), "no entity with id 999999"),
        (("entity", "merge", "planet:x", "1"), "KIND:VALUE"),
        (("graph", "correspondents", "--out", str(tmp_path / "c.png")), ".gexf or .graphml"),
        (("batch-search", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "r.csv")), "no terms file"),
        (("timeline", "--query", "nothingmatchesthis"), "no document matches"),
    ):
        code, out, err = run(*argv)
        assert code == 1 and message in err and "Traceback" not in err, (argv, err)
