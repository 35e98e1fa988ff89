"""``python -m opt_data.cli``: the same as the ``opt-data`` command."""

from opt_data.cli import main

main()
