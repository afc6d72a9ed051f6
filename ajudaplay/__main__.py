"""`python -m ajudaplay` is the same as the `ajudaplay` console script."""

from ajudaplay.cli import main

raise SystemExit(main())
