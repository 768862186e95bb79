"""Serving: the HTTP app, request validation, routing, the prediction log and feedback intake."""
