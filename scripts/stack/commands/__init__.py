"""One module per ``devstack`` subcommand, each with its ``cmd_<name>(args) -> exit code``."""
