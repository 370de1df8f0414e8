"""The application layer under the server, the admin API, the console and the CLI: the state request handlers
share (`state`), one JSON shape per record (`records`: times as `times.iso` writes them, secrets as `secrets`
masks them), and how every HTTP part answers errors and static files (`answers`)."""
