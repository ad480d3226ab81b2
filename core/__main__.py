"""``python -m core`` is the ``vitrylo`` command."""

from core.cli import main

main()
