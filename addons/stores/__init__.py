"""Stores that run inside the rasa server."""
