"""What entity extraction adds to an import (goal: at most 1.25× the import without it).

Run from the repository root:

    .venv/bin/python bench/entities_bench.py                      # ../shared/corpus/real
    .venv/bin/python bench/entities_bench.py DIR --workers 2 --repeat 2 --json

In one run, on the same machine, interleaved `--repeat` times (fastest kept):

- `import`: `import_paths([DIR])` into a fresh case with the entity pass switched off;
- `entities`: the entity pass alone (`InsightsService.refresh()`) over that case afterwards — the same work
  the import's last step does;
- `import+entities`: `import_paths([DIR])` into another fresh case as it runs in the app (pass included).

Printed ratios: (import + entities) / import, from the first two (the steadier figure: one import's
timing noise is not counted twice), and import+entities / import end to end. Also the entities found, the
characters scanned and the throughput of the finders, and whether named-entity recognition (spaCy) ran.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

GOAL = 1.25


def _import(case_dir: Path, root: Path, workers: int, with_entities: bool) -> tuple[float, float, dict]:
    from sqlalchemy import func, select

    from app.extract.base import Limits
    from app.insights.service import InsightsService
    from app.pipeline.importer import ImportOptions
    from app.services import build_services
    from db.models import DocumentEntity, Entity, Mention, Part

    original = InsightsService.refresh_after_import
    if not with_entities:
        InsightsService.refresh_after_import = lambda self: 0  # type: ignore[method-assign]
    try:
        services = build_services(case_dir, create=True)
        options = ImportOptions(workers=workers, limits=Limits(timeout_s=120, memory_mb=2048))
        t0 = time.perf_counter()
        summary = services.import_paths([root], options)
        elapsed = time.perf_counter() - t0
    finally:
        InsightsService.refresh_after_import = original  # type: ignore[method-assign]
    entities_s = 0.0
    if not with_entities:
        t0 = time.perf_counter()
        services.insights.refresh()
        entities_s = time.perf_counter() - t0
    with services.case.reader() as s:
        stats = {
            "documents": summary.case_documents,
            "text_chars": s.scalar(select(func.sum(func.length(Part.text)))) or 0,
            "entities": s.scalar(select(func.count(Entity.id))) or 0,
            "document_entities": s.scalar(select(func.count()).select_from(DocumentEntity)) or 0,
            "mentions": s.scalar(select(func.count(Mention.id))) or 0,
            "by_kind": dict(
                s.execute(select(Entity.kind, func.count(Entity.id)).group_by(Entity.kind)).all()
            ),
        }
    services.close()
    return elapsed, entities_s, stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", type=Path, default=REPO_ROOT.parent / "shared" / "corpus" / "real")
    parser.add_argument("--workers", type=int, default=None, help="extraction processes (default: CPU count)")
    parser.add_argument("--repeat", type=int, default=1, help="interleaved runs; the fastest of each is kept")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.dir.is_dir():
        print(f"entities_bench: no folder {args.dir}", file=sys.stderr)
        return 1
    import os

    from app.insights import ner

    workers = args.workers or max(1, os.cpu_count() or 2)
    # Warm the page cache (and Python's imports) so the first measured run is not penalised.
    for path in args.dir.rglob("*"):
        if path.is_file():
            path.read_bytes()
    best_plain = best_pass = best_full = float("inf")
    stats: dict = {}
    work = Path(tempfile.mkdtemp(prefix="entities-bench-"))
    try:
        for i in range(max(1, args.repeat)):
            plain, entities_s, stats = _import(work / f"plain{i}", args.dir, workers, with_entities=False)
            full, _, _ = _import(work / f"full{i}", args.dir, workers, with_entities=True)
            if plain + entities_s < best_plain + best_pass:
                best_plain, best_pass = plain, entities_s
            best_full = min(best_full, full)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratio_pass = (best_plain + best_pass) / best_plain if best_plain else float("nan")
    ratio_full = best_full / best_plain if best_plain else float("nan")
    result = {
        "dir": str(args.dir),
        "workers": workers,
        "ner_model": ner.model_name(),
        "import_s": round(best_plain, 2),
        "entities_s": round(best_pass, 2),
        "import_with_entities_s": round(best_full, 2),
        "ratio": round(ratio_pass, 3),
        "ratio_end_to_end": round(ratio_full, 3),
        "goal": GOAL,
        "chars_per_s": round(stats.get("text_chars", 0) / best_pass) if best_pass else None,
        **stats,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"corpus {args.dir}: {stats['documents']} documents, {stats['text_chars']:,} characters of text")
    print(f"workers {workers}; named-entity recognition: {ner.model_name() or 'off (no spaCy model)'}")
    print(f"import without entities      {best_plain:8.2f} s")
    print(f"entity pass alone            {best_pass:8.2f} s  ({result['chars_per_s'] or 0:,} chars/s)")
    print(f"import with entities         {best_full:8.2f} s")
    print(
        f"ratio (import + pass)/import {ratio_pass:8.3f}   goal <= {GOAL}  {'OK' if ratio_pass <= GOAL else 'OVER'}"
    )
    print(f"ratio end to end             {ratio_full:8.3f}")
    print(
        f"found {stats['entities']:,} entities in {stats['document_entities']:,} document links, "
        f"{stats['mentions']:,} mentions kept: "
        + ", ".join(f"{k} {v}" for k, v in sorted(stats["by_kind"].items()))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
