"""The agent console: a small FastAPI service where support agents take over
conversations that the assistant handed off (see README, "Agent console")."""
