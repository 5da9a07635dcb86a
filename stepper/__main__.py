from stepper.cli import main

raise SystemExit(main())
