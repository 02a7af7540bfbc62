"""Developer tools: catalog upkeep and checks, run from the CLI and tests, never by the running service."""
