"""Code that runs inside the rasa server: NLU components and input channels."""
