"""Dialogue policies that run inside the rasa server."""
