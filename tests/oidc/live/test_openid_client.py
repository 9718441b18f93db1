"""openid-client v6 (npm), the OpenID Foundation's certified relying party for Node, through the whole flow.

The Node program (tests/oidc/node/relying_party.mjs, installed by `make oidc-rp`) does everything a
relying party does; this test is the user's browser between its steps.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.oidc.live.conftest import RegisteredApp, RelyingPartyBrowser, TotpAccount
from tests.robustness.live_server import LiveServer

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]

NODE_DIR = Path(__file__).resolve().parents[1] / "node"


@pytest.fixture
def node_relying_party(
    oidc_server: LiveServer, registered_app: RegisteredApp
) -> Iterator[subprocess.Popen[str]]:
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "openid-client").exists():
        pytest.fail("Node or openid-client is missing: run `make oidc-rp` (make test does)")
    process = subprocess.Popen(  # noqa: S603 - a fixed command line of our own
        [node, "relying_party.mjs"],
        cwd=NODE_DIR,
        env={
            "PATH": "/usr/bin:/bin",
            "ISSUER": oidc_server.base_url,
            "CLIENT_ID": registered_app.client_id,
            "CLIENT_SECRET": registered_app.client_secret,
            "REDIRECT_URI": registered_app.redirect_uri,
            "POST_LOGOUT_REDIRECT_URI": registered_app.post_logout_redirect_uri,
        },
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


def message_from(process: subprocess.Popen[str]) -> dict:
    line = process.stdout.readline()
    if not line:
        pytest.fail(f"the relying party stopped: {process.stderr.read()}")
    return json.loads(line)


def answer(process: subprocess.Popen[str], text: str) -> None:
    process.stdin.write(text + "\n")
    process.stdin.flush()


def test_openid_client_signs_in_refreshes_revokes_and_logs_out(
    node_relying_party: subprocess.Popen[str],
    registered_app: RegisteredApp,
    totp_account: TotpAccount,
    rp_browser: RelyingPartyBrowser,
) -> None:
    authorize = message_from(node_relying_party)["authorize"]

    answer(node_relying_party, rp_browser.sign_in(authorize, totp_account))

    verified = message_from(node_relying_party)
    assert verified["claims"]["email"] == totp_account.email
    assert verified["claims"]["amr"] == ["pwd", "otp"]
    assert verified["claims"]["aud"] == registered_app.client_id
    assert verified["userinfo"]["sub"] == verified["claims"]["sub"] == verified["refreshedSub"]
    assert verified["afterRevocation"] == "invalid_grant"
    signed_out = rp_browser.visit(verified["endSession"])
    assert signed_out.startswith(registered_app.post_logout_redirect_uri)
    assert parse_qs(urlsplit(signed_out).query)["state"] == ["bye"]
    answer(node_relying_party, "done")
    assert node_relying_party.wait(timeout=10) == 0
    rp_browser.page.goto("/account/")
    assert "/account/login/" in rp_browser.page.url
