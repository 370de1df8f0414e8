"""The operator console: server-rendered pages under `/console` over the admin JSON API (see `routes`)."""
