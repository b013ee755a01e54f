"""``python -m vaecodec``: the command line."""

from .cli import main

main(prog_name="vaecodec")
