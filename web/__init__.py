"""The web face: one HTTP server in the bot's own event loop (`web.server`), serving the routes
of `web.app` (health now; walls, console and participant pages as they come) and the Telegram
webhook that the composition root hands it. Routes call the same services as the handlers."""
