"""Custom actions of the merchant-support assistant (run by `rasa run actions`)."""
