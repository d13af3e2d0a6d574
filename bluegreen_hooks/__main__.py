from bluegreen_hooks.cli import main

raise SystemExit(main())
