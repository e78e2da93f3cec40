"""Run as a child process and SIGKILLed at random moments: `import CASE FOLDER` imports with small batches
(an index commit every few documents); `reindex CASE` rebuilds the index over and over."""

from __future__ import annotations

import sys
from pathlib import Path

from app.pipeline.importer import ImportOptions
from app.services import build_services


def main() -> None:
    mode, case = sys.argv[1], Path(sys.argv[2])
    with build_services(case) as services:
        print("READY", flush=True)
        if mode == "import":
            options = ImportOptions(
                workers=1, batch_size=3, extractor="tests.fixtures.bad_extractors:JsonFixture"
            )
            services.import_paths([Path(sys.argv[3])], options)
        else:
            while True:
                services.search.reindex()
        print("DONE", flush=True)


if __name__ == "__main__":
    main()
