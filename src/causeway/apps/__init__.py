"""Applications built on the platform (../shared/DESIGN.md §6): ``causeway.apps.directory``, the
government data directory."""
