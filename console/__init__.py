"""The agent console: a small FastAPI service where support agents take over
conversations that the assistant handed off (see README, "Agent console")."""

from core.log_privacy import install as _mask_personal_data_in_logs

_mask_personal_data_in_logs()
