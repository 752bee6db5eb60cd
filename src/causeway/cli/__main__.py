"""`python -m causeway.cli`: the same as the `causeway` script."""

from causeway.cli.main import main

if __name__ == "__main__":
    main()
