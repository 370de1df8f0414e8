"""The 1Flow Web (Actions) destination: definition, settings, regions, wire format, HTTP client and browser plugin."""
