"""Whether a token or a session still counts: signing keys, tokens, bearer authentication, the owner query, sessions, trusted devices, discovery, and revoking everything."""
