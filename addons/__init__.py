"""Code that runs inside the rasa server: NLU components and input channels.

Importing the package (the rasa server does, to load the pipeline's components and
the tracker store) also installs the faster action-response validation, the masking of
personal data in every log line, and the tracker store wrapper that refuses a turn
instead of falling back to memory when the store fails (addons/stores/tracker_store.py),
and typed choices: a number or button title typed instead of clicked picks the button
(addons/typed_choices.py), and the conversation's topic handed to the NLU with each
message (addons/topic_context.py).
"""

from addons import action_result_validation, topic_context, typed_choices
from addons.stores import tracker_store
from core import log_privacy

action_result_validation.install()
log_privacy.install()
tracker_store.install()
typed_choices.install()
topic_context.install()  # after typed choices: runs first, so a typed choice keeps it
