"""CLI subcommands, one module each (discovered by ``fdif_core.cli.main``)."""
