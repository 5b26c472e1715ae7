"""Command-line options shared by every command module (one definition, one help text)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (default: $PREPBOT_CONFIG or config/prepbot.toml).",
        show_default=False,
    ),
]
