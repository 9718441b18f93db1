// A relying party on openid-client v6 (certified by the OpenID Foundation), driven by
// tests/oidc/live/test_openid_client.py: it prints each URL the user's browser must open as a JSON
// line, reads back the URL the browser landed on, and prints what it verified.
import * as client from "openid-client";
import * as readline from "node:readline";

const env = process.env;
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (message) => process.stdout.write(JSON.stringify(message) + "\n");
const hear = async () => (await lines.next()).value;

const config = await client.discovery(
  new URL(env.ISSUER),
  env.CLIENT_ID,
  undefined,
  client.ClientSecretBasic(env.CLIENT_SECRET),
  { execute: [client.allowInsecureRequests] }, // the test server is plain http://localhost
);
// Verify id_token signatures against the JWKS too, not only the claims.
client.enableNonRepudiationChecks(config);

const codeVerifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
const authorizationUrl = client.buildAuthorizationUrl(config, {
  redirect_uri: env.REDIRECT_URI,
  scope: "openid email offline_access",
  code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
  code_challenge_method: "S256",
  state,
  nonce,
});
say({ authorize: authorizationUrl.href });

const tokens = await client.authorizationCodeGrant(config, new URL(await hear()), {
  pkceCodeVerifier: codeVerifier,
  expectedState: state,
  expectedNonce: nonce,
  idTokenExpected: true,
});
const claims = tokens.claims();
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
await client.tokenRevocation(config, refreshed.refresh_token, { token_type_hint: "refresh_token" });
let afterRevocation;
try {
  await client.refreshTokenGrant(config, refreshed.refresh_token);
  afterRevocation = "accepted";
} catch (error) {
  afterRevocation = error.error ?? String(error);
}
say({
  claims,
  userinfo,
  refreshedSub: refreshed.claims()?.sub,
  afterRevocation,
  endSession: client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: env.POST_LOGOUT_REDIRECT_URI,
    state: "bye",
  }).href,
});
await hear();
process.exit(0);
