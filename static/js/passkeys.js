/* Passkeys on the pages: the browser's WebAuthn ceremonies, in this one static file (CSP script-src 'self').
 *
 * Options come from the server as WebAuthn Level 3 JSON and go through
 * PublicKeyCredential.parseCreationOptionsFromJSON / parseRequestOptionsFromJSON; the credential
 * goes back as credential.toJSON(). The rest of the pages work without this script.
 *
 * - [data-passkey-sign-in]: a button whose assertion ends in a redirect (sign in, second step).
 * - form[data-passkey-register]: add a passkey (name, and the step-up code when one is asked).
 * - input[data-passkey-step-up]: a form's hidden `otp`, filled with the token of a passkey step-up.
 */
"use strict";

(() => {
  // Included once by a page and once by its step-up part, perhaps: bind once.
  if (window.passkeysLoaded) return;
  window.passkeysLoaded = true;
  const supported =
    typeof window.PublicKeyCredential === "function" &&
    typeof window.PublicKeyCredential.parseCreationOptionsFromJSON === "function" &&
    typeof window.PublicKeyCredential.parseRequestOptionsFromJSON === "function";
  // The page's language: texts come from the <template id="passkey-messages"> of base.html,
  // with these English ones if it is missing.
  function message(key, fallback) {
    const messages = document.getElementById("passkey-messages");
    const element = messages && messages.content.querySelector(`[data-message="${key}"]`);
    return element ? element.textContent.trim() : fallback;
  }
  const UNSUPPORTED = message(
    "unsupported",
    "This browser cannot use passkeys. Use a current browser (Chrome, Edge, Firefox or Safari), or another way to confirm.",
  );
  const FAILED = message("failed", "Something went wrong. Try again.");

  function csrfToken() {
    const input = document.querySelector('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  async function postJson(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try {
      data = await response.json();
    } catch (error) {
      data = {};
    }
    if (!response.ok) {
      const wait = data.retryAfter
        ? " " + message("wait", "Try again in {seconds} seconds.").replace("{seconds}", data.retryAfter)
        : "";
      throw new Error((data.detail || FAILED) + wait);
    }
    return data;
  }

  function ceremonyError(error) {
    const name = error && error.name;
    if (name === "NotAllowedError") {
      return message("cancelled", "The passkey request was cancelled or timed out. Try again.");
    }
    if (name === "InvalidStateError") return message("duplicate", "This passkey is already on your account.");
    if (name === "SecurityError") {
      return message(
        "insecure",
        "Passkeys do not work on this address. Open the site by its name (http://localhost:8000 locally) or over HTTPS.",
      );
    }
    return (error && error.message) || FAILED;
  }

  async function assertion(optionsUrl, url) {
    const options = await postJson(optionsUrl);
    const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey);
    const credential = await navigator.credentials.get({ publicKey });
    return postJson(url, { challengeId: options.challengeId, credential: credential.toJSON() });
  }

  async function registration(optionsUrl, url, otp, name) {
    const options = await postJson(optionsUrl, { otp });
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey);
    const credential = await navigator.credentials.create({ publicKey });
    return postJson(url, { challengeId: options.challengeId, credential: credential.toJSON(), name });
  }

  function show(root, text) {
    let message = root.querySelector("[data-passkey-message]");
    if (!message) {
      message = document.createElement("div");
      message.className = "form-errors";
      message.setAttribute("role", "alert");
      message.setAttribute("data-passkey-message", "");
      root.prepend(message);
    }
    message.textContent = text;
    message.hidden = false;
  }

  function bindSignIn(root) {
    const button = root.querySelector("button");
    if (!supported) {
      show(root, UNSUPPORTED);
      button.disabled = true;
      return;
    }
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const next = root.dataset.next ? `?next=${encodeURIComponent(root.dataset.next)}` : "";
        const result = await assertion(root.dataset.optionsUrl, root.dataset.url + next);
        window.location.assign(result.redirect);
      } catch (error) {
        show(root, ceremonyError(error));
        button.disabled = false;
      }
    });
  }

  function bindForm(form) {
    const stepUp = form.querySelector("input[data-passkey-step-up]");
    const register = form.hasAttribute("data-passkey-register");
    if (!stepUp && !register) return;
    if (!supported) {
      show(form, UNSUPPORTED);
      return;
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector('button[type="submit"]');
      if (button) button.disabled = true;
      try {
        if (stepUp && !stepUp.value) {
          stepUp.value = (await assertion(stepUp.dataset.optionsUrl, stepUp.dataset.url)).stepUpToken;
        }
        if (!register) {
          form.submit(); // does not fire "submit" again
          return;
        }
        const otp = form.querySelector('[name="otp"]');
        const name = form.querySelector('[name="name"]');
        const result = await registration(
          form.dataset.optionsUrl,
          form.dataset.url,
          otp ? otp.value.trim() : "",
          name ? name.value : "",
        );
        window.location.assign(result.redirect);
      } catch (error) {
        if (stepUp) stepUp.value = ""; // a token is single use: the next try gets a fresh one
        show(form, ceremonyError(error));
        if (button) button.disabled = false;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-passkey-sign-in]").forEach(bindSignIn);
    document.querySelectorAll("form").forEach(bindForm);
  });
})();
