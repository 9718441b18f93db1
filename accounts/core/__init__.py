"""Facts and side effects below every rule: errors, events, client info, mail, notifications, account state, login throttles, hashers, validators, input limits. No DRF, no views, no otp services."""
