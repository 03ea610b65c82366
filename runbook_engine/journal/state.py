"""The per-user state directory: where locks, the installation key and (by default)
the runs live, so that neither depends on the working directory.

``$XDG_STATE_HOME/runbook-engine/``, else ``~/.local/state/runbook-engine/``. Runs
default to its ``runs/`` folder; ``--runs-dir``/``RUNBOOK_RUNS_DIR`` move the runs,
never the locks or the key: a run started with one runs dir and a run started with
another still exclude each other.
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "runbook-engine"


def state_dir() -> Path:
    """The state directory for the current user and environment (not created)."""
    base = os.environ.get("XDG_STATE_HOME")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "state"
    return root / APP


def default_runs_dir() -> Path:
    return state_dir() / "runs"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable by its owner only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
