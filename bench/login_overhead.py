"""`make bench-login`: the CPU a login spends over its hash, in one process, with a trivial hasher.

Argon2id takes some 20 ms of a login; what the service adds over it (throttles, the account's
read, the writes, the tokens, the WSGI path) is a few milliseconds that a load test measures
only through the noise of the hash. Here the hasher is MD5, so the rest is all there is: logins
go through `config.wsgi.application` (the hot path included) against the bench database and
cache, and the process's own CPU time per login is printed (PostgreSQL's is not counted).
Compare two commits by running it on each, interleaved, a few times.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time

import django
import orjson

PASSWORD = "bench-login-overhead"  # noqa: S105 - a benchmark's, on loopback
EMAIL_DOMAIN = "login-overhead.bench.example"


def _login(application: object, email: str) -> str:
    body = orjson.dumps({"email": email, "password": PASSWORD})
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/auth/login",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_USER_AGENT": "wrk/4.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json",
    }
    answered: list[str] = []
    b"".join(application(environ, lambda status, headers, *_: answered.append(status)))  # type: ignore[operator]
    return answered[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logins", type=int, default=1000)
    parser.add_argument("--users", type=int, default=50)
    arguments = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")
    os.environ.setdefault("PWNED_PASSWORDS", "false")  # no range API here: `make bench` has its fake
    django.setup()
    from django.conf import settings
    from django.contrib.auth.hashers import make_password

    from accounts.models import User
    from config.wsgi import application

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    User.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").delete()
    password = make_password(PASSWORD)
    emails = [f"user-{n}@{EMAIL_DOMAIN}" for n in range(arguments.users)]
    User.objects.bulk_create(User(email=email, password=password) for email in emails)
    try:
        for email in emails:  # each user's first login: its place becomes known
            status = _login(application, email)
            if not status.startswith("200"):
                raise SystemExit(f"a login answered {status}: fix that before measuring")
        started_cpu, started = time.process_time(), time.perf_counter()
        for n in range(arguments.logins):
            _login(application, emails[n % len(emails)])
        cpu = (time.process_time() - started_cpu) / arguments.logins * 1000
        wall = (time.perf_counter() - started) / arguments.logins * 1000
        print(
            f"login over an MD5 hash: {cpu:.2f} ms CPU, {wall:.2f} ms wall per login ({arguments.logins} logins)"
        )
    finally:
        User.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").delete()


if __name__ == "__main__":
    main()
