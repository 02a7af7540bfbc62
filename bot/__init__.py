"""Where a person is in a flow and what to say next: engine, i18n, persistence and services."""
