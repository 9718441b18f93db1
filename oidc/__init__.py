"""The OpenID Connect provider: other applications sign their users in with this service.

Built on django-oauth-toolkit. It imports `accounts` and `otp`; neither imports it.
"""
