"""The JSON API under /auth/: parse the input, call one flow, shape the answer; and the kit otp's endpoints use (headers, serializers, errors, schema, renderers, throttles)."""
