"""The start-up check's memory: a stamp file per set of templates and rules that passed it.

Kept apart from the admin commands (Rich tables and the checker), which a `tick` or `run` whose
templates passed before does not need to import (issue 7: start-up).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prepbot.config import Settings


def preflight_stamp(settings: Settings) -> Path | None:
    """The cache file that says "these templates and rules passed the start-up check".

    Named by a hash of prepbot's version and every template and rules file's path and bytes, so any
    change means a new check. None when the files cannot be read (then the check always runs).
    """
    from prepbot import __version__
    from prepbot.playbooks import shipped_playbooks_file
    from prepbot.rendering import shipped_templates_dir

    digest = hashlib.sha256(__version__.encode())
    folders = [shipped_templates_dir(), settings.messages.templates_dir]
    files = [p for folder in folders if folder for p in sorted(Path(folder).rglob("*")) if p.is_file()]
    files.append(Path(settings.playbooks.file or shipped_playbooks_file()))
    try:
        for path in files:
            digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    except OSError:
        return None
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "prepbot"
    return cache / f"preflight-{digest.hexdigest()[:32]}"
