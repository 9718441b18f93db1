"""Passkeys (WebAuthn): registration, passwordless login, second factor and step-up."""
