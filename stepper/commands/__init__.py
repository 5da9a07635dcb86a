"""What the CLI's subcommands do, kept apart from argument parsing."""
