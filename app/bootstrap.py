"""First-run set-up: a virtual environment in `.venv/` at the repository root with everything installed.

Standard library only, because it runs before any dependency exists. `python3 main.py` and `make test` both
come through here; the install is redone only when pyproject.toml changes (a stamp file records its hash).

    python3 -m app.bootstrap [--extras test]   # set up (or check) the environment and exit
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv"
STAMP = VENV / ".dossier-installed"


def venv_python() -> Path:
    return VENV / "bin" / "python"


def _wanted_stamp(extras: str) -> str:
    digest = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()
    return f"{digest}:{extras}"


def _installed_extras() -> set[str]:
    try:
        stamp = STAMP.read_text().strip()
    except OSError:
        return set()
    digest, _, extras = stamp.partition(":")
    if digest != _wanted_stamp("").partition(":")[0]:
        return set()
    return {"base", *filter(None, extras.split(","))}


def ensure(extras: tuple[str, ...] = ()) -> Path:
    """Create/update .venv so that the project (and `extras`) are installed; return its python."""
    have = _installed_extras()
    if venv_python().exists() and "base" in have and set(extras) <= have:
        return venv_python()
    print("Setting up Dossier in .venv/ (first run only; this takes a minute)…", file=sys.stderr, flush=True)
    if not venv_python().exists():
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    all_extras = sorted((have - {"base"}) | set(extras))
    spec = "." + (f"[{','.join(all_extras)}]" if all_extras else "")
    pip = [str(venv_python()), "-m", "pip", "--disable-pip-version-check", "-q"]
    try:
        subprocess.run([*pip, "install", "-e", spec], cwd=REPO, check=True)
    except subprocess.CalledProcessError as exc:
        raise SystemExit(
            f"dossier: set-up failed (pip exited with {exc.returncode}); see the messages above"
        ) from None
    STAMP.write_text(_wanted_stamp(",".join(all_extras)))
    return venv_python()


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def reexec_in_venv(argv: list[str], extras: tuple[str, ...] = ()) -> None:
    """Make sure the environment is ready, then continue in its interpreter (no return unless already there)."""
    python = ensure(extras)
    if not in_venv():
        os.execv(str(python), [str(python), *argv])


if __name__ == "__main__":
    wanted = ()
    if "--extras" in sys.argv:
        wanted = tuple(sys.argv[sys.argv.index("--extras") + 1].split(","))
    print(ensure(wanted))
