"""The HTTP server's own parts: tracking API, settings CDN and plugin assets (device mode), device reports, demo
page, health. `app.create_app` assembles them with the admin API and the console."""
