"""``python -m vaecodec.cli``: the command line."""

from . import main

main(prog_name="vaecodec")
