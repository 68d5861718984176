"""``python -m ff_utils.ff_analytics_cli``: the ``ff-metrics`` command."""

from ff_utils.ff_analytics_cli.ff_cli_main import main

raise SystemExit(main())
