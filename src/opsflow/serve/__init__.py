"""Hosting flow triggers on this machine: `opsflow serve` (webhooks for now)."""

from opsflow.serve.webhooks import Route, WebhookServer, build_routes

__all__ = ["Route", "WebhookServer", "build_routes"]
