"""One function per operation a user sees, owning its transaction and audit record; the only layer that combines accounts and otp."""
