from regbook.cli import main

raise SystemExit(main())
