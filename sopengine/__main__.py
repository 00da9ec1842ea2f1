"""``python -m sopengine``: the same as the ``sopengine`` command."""

from .cli import main

main()
