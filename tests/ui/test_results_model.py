"""The results list over 100,000 hits loads a page at a time, as the view scrolls."""

from __future__ import annotations

from PySide6.QtWidgets import QListView

from app.search import Hit
from ui.results import PAGE_SIZE, ResultPage, ResultRow, ResultsModel, SearchRequest
from ui.results_delegate import ResultDelegate
from ui.tasks import Tasks

TOTAL = 100_000


class FakeSource:
    """Answers pages of a 100,000-hit search and counts what was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, bool]] = []

    def page(self, request: SearchRequest, offset: int, limit: int, with_facets: bool) -> ResultPage:
        self.calls.append((offset, limit, with_facets))
        hits = [
            Hit(
                i,
                f"Document {i}",
                "pdf",
                "2001-01-01",
                [f"/leak/{i}.pdf"],
                1.0,
                f"a <mark>hit</mark> in {i}",
                [],
                "ok",
                "unreviewed",
            )
            for i in range(offset + 1, min(offset + limit, TOTAL) + 1)
        ]
        facets = {"type": {"pdf": TOTAL}} if with_facets else {}
        return ResultPage(request, offset, TOTAL, [ResultRow(h, (), "unreviewed") for h in hits], facets, 1.0)

    def review_state(self, doc_ids: list[int]) -> dict:
        return {}


def test_only_the_pages_scrolled_to_are_loaded(qtbot) -> None:
    source = FakeSource()
    tasks = Tasks()
    model = ResultsModel(source, tasks)  # type: ignore[arg-type]
    view = QListView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setItemDelegate(ResultDelegate(view))
    view.setUniformItemSizes(True)
    view.resize(500, 700)
    view.show()
    with qtbot.waitSignal(model.page_loaded, timeout=10_000) as first:
        model.search(SearchRequest("hit"))
    assert first.args[0].facets == {"type": {"pdf": TOTAL}}
    assert model.total == TOTAL and model.rowCount() == PAGE_SIZE
    assert source.calls == [(0, PAGE_SIZE, True)]

    for _ in range(3):  # scroll to the end: the view asks for the next page, and only that
        before = model.rowCount()
        view.scrollToBottom()
        qtbot.waitUntil(lambda before=before: model.rowCount() > before, timeout=10_000)
    pages = model.rowCount() // PAGE_SIZE
    assert model.rowCount() == pages * PAGE_SIZE and 4 <= pages <= 6  # a few pages of the 2,000
    assert [c[0] for c in source.calls] == [i * PAGE_SIZE for i in range(len(source.calls))]
    assert all(not with_facets for _, _, with_facets in source.calls[1:])
    assert model.row_at(model.rowCount() - 1).hit.id == model.rowCount()
    tasks.shutdown()


def test_a_new_search_drops_pages_of_the_old_one(qtbot) -> None:
    source = FakeSource()
    tasks = Tasks()
    model = ResultsModel(source, tasks)  # type: ignore[arg-type]
    loaded: list[ResultPage] = []
    model.page_loaded.connect(loaded.append)
    model.search(SearchRequest("first"))
    model.search(SearchRequest("second"))
    qtbot.waitUntil(lambda: not model.busy, timeout=10_000)
    qtbot.wait(50)
    assert [p.request.text for p in loaded] == ["second"]
    tasks.shutdown()
