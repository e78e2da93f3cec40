"""A process that performs review actions and prints `ACK …` after each one returns (killed by the test);
a status change is announced with `DO …` before it starts.

    python -m tests.review.review_stream CASE_DIR [IMPORT_DIR]

With IMPORT_DIR, an import runs in a background thread at the same time, as in the desktop app.
"""

from __future__ import annotations

import random
import sys
import threading
from pathlib import Path

from app.services import build_services


def main(case_dir: str, import_dir: str | None = None) -> None:
    services = build_services(case_dir)
    services.review.reviewer = "stream"
    if import_dir:
        threading.Thread(target=services.import_paths, args=([Path(import_dir)],), daemon=True).start()
    ids = [d.id for d in services.documents.iter_summaries() if d.status == "ok"]
    rng = random.Random()
    n = 0
    while True:
        n += 1
        doc = rng.choice(ids)
        kind = n % 4
        if kind == 0:
            services.review.add_tag(f"t{n}", [doc])
            print(f"ACK tag t{n} {doc}", flush=True)
        elif kind == 1:
            note = services.review.add_note(doc, f"note {n}")
            print(f"ACK note {note.id} {doc} note {n}", flush=True)
        elif kind == 2:
            status = rng.choice(["relevant", "not_relevant", "follow_up"])
            print(f"DO status {status} {doc}", flush=True)  # a kill before its ACK may or may not keep it
            services.review.set_status(status, [doc])
            print(f"ACK status {status} {doc}", flush=True)
        else:
            other = rng.choice([i for i in ids if i != doc])
            link = services.review.add_link(doc, other, "related", f"link {n}")
            print(f"ACK link {link.id} {doc} {other}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
