"""The 1Flow Web (Actions) destination: definition, regions, wire format and HTTP client."""
