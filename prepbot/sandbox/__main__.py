"""`python -m prepbot.sandbox serve ...`."""

from __future__ import annotations

from prepbot.sandbox.cli import sandbox_app

if __name__ == "__main__":
    sandbox_app(prog_name="python -m prepbot.sandbox")
