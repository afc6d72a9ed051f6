"""Clients of the services an incident procedure talks to besides the targets.

Prometheus (metrics queries), DNS resolvers, the Telegram Bot API, Slack and
JSON webhooks. Each is plain HTTP or DNS from the controller; none imports a
target, and every one of them treats what it gets back as data. `web` is the
one HTTP client they share: it keeps secrets (tokens in URLs, bearer headers)
out of every message it raises.
"""
