"""The thread policy: work runs off the main thread and comes back on it as (result, error)."""

from __future__ import annotations

import threading
import time

from ui.tasks import Tasks


def test_result_and_error_come_back_on_the_main_thread(qtbot) -> None:
    tasks = Tasks()
    seen: list[tuple[object, object, bool, bool]] = []
    main = threading.get_ident()

    def work() -> str:
        return "worked on another thread" if threading.get_ident() != main else "on main"

    def failing() -> None:
        raise ValueError("bad input")

    tasks.run(
        "io", work, lambda r, e: seen.append((r, e, threading.get_ident() == main, tasks.is_busy("io")))
    )
    tasks.run("io", failing, lambda r, e: seen.append((r, e, threading.get_ident() == main, False)))
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=5_000)
    assert seen[0][:3] == ("worked on another thread", None, True)
    assert seen[1][0] is None and isinstance(seen[1][1], ValueError) and seen[1][2]
    qtbot.waitUntil(lambda: not tasks.is_busy(), timeout=5_000)
    tasks.shutdown()


def test_a_newer_task_supersedes_an_older_one(qtbot) -> None:
    tasks = Tasks()
    started = threading.Event()
    release = threading.Event()
    seen: list[str] = []

    def slow() -> str:
        started.set()
        release.wait(5)
        return "old"

    tasks.run("search", slow, lambda r, e: seen.append(r), supersede="q")
    started.wait(5)
    tasks.run("search", lambda: "queued", lambda r, e: seen.append(r), supersede="q")
    tasks.run("search", lambda: "newest", lambda r, e: seen.append(r), supersede="q")
    release.set()
    qtbot.waitUntil(lambda: not tasks.is_busy(), timeout=5_000)
    assert seen == ["newest"]
    tasks.shutdown()


def test_an_error_without_a_handler_reaches_the_reporter(qtbot) -> None:
    reported: list[BaseException] = []
    tasks = Tasks(on_error=reported.append)
    tasks.run("io", lambda: 1 / 0)
    qtbot.waitUntil(lambda: bool(reported), timeout=5_000)
    assert isinstance(reported[0], ZeroDivisionError)
    tasks.shutdown()


def test_progress_from_a_worker_thread_arrives_in_order(qtbot) -> None:
    tasks = Tasks()
    got: list[int] = []

    def work() -> None:
        for i in range(20):
            tasks.run_on_main(lambda i=i: got.append(i))
            time.sleep(0.001)

    tasks.run("job", work)
    qtbot.waitUntil(lambda: len(got) == 20, timeout=5_000)
    assert got == list(range(20))
    tasks.shutdown()
