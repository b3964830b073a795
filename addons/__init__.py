"""Code that runs inside the rasa server: NLU components and input channels.

Importing the package (the rasa server does, to load the pipeline's components)
also installs the faster action-response validation and the masking of personal data
in every log line.
"""

from actions import log_privacy
from addons import action_result_validation

action_result_validation.install()
log_privacy.install()
