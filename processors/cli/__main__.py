"""`python -m processors.cli`: the `okrstream` command."""

from . import main

raise SystemExit(main())
