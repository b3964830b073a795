"""Custom actions of the merchant-support assistant (run by `rasa run actions`)."""

from core import log_privacy

log_privacy.install()
