"""`jejak`, the command line: ``main`` holds the core commands; the others register their subcommands."""
