"""``python -m lstm_props``: the ``lstm-props`` command, for an environment without its script."""

from lstm_props._gate.cli import main

raise SystemExit(main())
