from ragguard.cli import main

raise SystemExit(main())
