// Passkeys (WebAuthn): registering one, and using one as the second factor at sign-in
// or step-up. Loaded as a file: the Content-Security-Policy forbids inline script.
//
//   <form class="passkey-register|passkey-authenticate" data-options-url=… data-verify-url=…>
//
// The server sends the options as JSON (binary fields in base64url); the browser's answer
// goes back as JSON; the server answers {"redirect": url} or {"error": {"message": …}}.
"use strict";

(() => {
  const toBuffer = (value) => {
    const base64 = value.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (value.length % 4)) % 4);
    const binary = atob(base64);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  };

  const toBase64url = (buffer) => {
    let binary = "";
    new Uint8Array(buffer).forEach((byte) => {
      binary += String.fromCharCode(byte);
    });
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };

  class ServerError extends Error {}

  const post = async (form, url, body) => {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": form.querySelector('input[name="csrf_token"]').value,
      },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try {
      data = await response.json();
    } catch (_ignored) {
      data = {};
    }
    if (!response.ok) {
      throw new ServerError((data.error && data.error.message) || form.dataset.msgFailed);
    }
    return data;
  };

  const creationOptions = (options) => {
    options.challenge = toBuffer(options.challenge);
    options.user.id = toBuffer(options.user.id);
    (options.excludeCredentials || []).forEach((c) => {
      c.id = toBuffer(c.id);
    });
    return options;
  };

  const requestOptions = (options) => {
    options.challenge = toBuffer(options.challenge);
    (options.allowCredentials || []).forEach((c) => {
      c.id = toBuffer(c.id);
    });
    return options;
  };

  const credentialJSON = (credential) => {
    const r = credential.response;
    const json = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: { clientDataJSON: toBase64url(r.clientDataJSON) },
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
    };
    if (credential.authenticatorAttachment) {
      json.authenticatorAttachment = credential.authenticatorAttachment;
    }
    if (r.attestationObject) {
      json.response.attestationObject = toBase64url(r.attestationObject);
      json.response.transports = r.getTransports ? r.getTransports() : [];
    }
    if (r.authenticatorData) {
      json.response.authenticatorData = toBase64url(r.authenticatorData);
      json.response.signature = toBase64url(r.signature);
      if (r.userHandle) {
        json.response.userHandle = toBase64url(r.userHandle);
      }
    }
    return json;
  };

  const run = async (form, ceremony) => {
    const status = form.querySelector(".passkey-status");
    const button = form.querySelector('button[type="submit"]');
    const say = (text) => {
      if (status) {
        status.textContent = text || "";
      }
    };
    if (!window.PublicKeyCredential || !navigator.credentials) {
      say(form.dataset.msgUnsupported);
      return;
    }
    button.disabled = true;
    say("");
    try {
      const result = await ceremony(form);
      window.location.assign(result.redirect);
    } catch (error) {
      if (error instanceof ServerError) {
        say(error.message);
      } else if (error && (error.name === "NotAllowedError" || error.name === "AbortError")) {
        say(form.dataset.msgCancelled);
      } else {
        say(form.dataset.msgFailed);
      }
      button.disabled = false;
    }
  };

  const register = async (form) => {
    const nameField = form.querySelector('input[name="name"]');
    const options = await post(form, form.dataset.optionsUrl);
    const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
    return post(form, form.dataset.verifyUrl, {
      credential: credentialJSON(credential),
      name: nameField ? nameField.value : "",
    });
  };

  const authenticate = async (form) => {
    const options = await post(form, form.dataset.optionsUrl);
    const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
    return post(form, form.dataset.verifyUrl, {
      credential: credentialJSON(credential),
      next: form.dataset.next || "",
    });
  };

  document.querySelectorAll("form.passkey-register, form.passkey-authenticate").forEach((form) => {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (form.classList.contains("passkey-register")) {
        const nameField = form.querySelector('input[name="name"]');
        if (nameField && !nameField.reportValidity()) {
          return;
        }
        run(form, register);
      } else {
        run(form, authenticate);
      }
    });
  });
})();
