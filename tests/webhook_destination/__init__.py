"""A second destination that exists only for the tests: it proves a destination is one folder plus one registry
line (`REGISTRY.register(WEBHOOK)`), with nothing changed in the configuration, pipeline, server or CLI."""
