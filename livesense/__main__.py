from livesense.cli import main

raise SystemExit(main())
