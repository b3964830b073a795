"""NLU components that run inside the rasa server."""
