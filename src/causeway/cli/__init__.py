"""The `causeway` command line (typer + rich); the entry point is causeway.cli.main:main."""
