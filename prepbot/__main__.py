"""`python -m prepbot` runs the command line."""

from prepbot.cli import main

main()
