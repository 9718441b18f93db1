"""Input limits shared by the API's serializers and the pages' forms, so the two cannot drift.

The password input is capped well above `PASSWORD_MAX_LENGTH` (the validator's limit), so an
over-long password is refused with the validator's reason rather than a bare length error,
while a megabyte of "password" is never hashed.
"""

from __future__ import annotations

EMAIL_MAX_LENGTH = 254  # RFC 5321's path limit, and the model field's
PASSWORD_INPUT_MAX_LENGTH = 4096
# A 6-digit code, a recovery code typed with dashes or spaces, or the 43-character token of a
# passkey step-up.
CODE_MAX_LENGTH = 64
PHONE_INPUT_MAX_LENGTH = 64  # as typed, with spaces and punctuation; stored as E.164
