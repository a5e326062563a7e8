import os
import sys

if sys.argv[1:2] == ["hook"]:
    # The hook shims run `python -m ragguard hook ...`: skip loading the click
    # CLI, which costs a hook ~15 ms on every commit.
    if os.environ.get("RAGGUARD_DEBUG"):
        from ragguard.diagnostics import debug_from_env

        debug_from_env()
    from ragguard.hooks import main as hook_main

    raise SystemExit(hook_main(sys.argv[2:]))

from ragguard.cli import main  # noqa: E402

raise SystemExit(main())
