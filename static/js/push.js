// Push notifications for this device (account page; docs/PWA.md). The server stores the
// subscription; the service worker (/sw.js) shows what arrives. Wording comes from data-*
// attributes, translated on the server.
"use strict";

(() => {
  const panel = document.querySelector("[data-push-panel]");
  if (!panel) return;
  const text = panel.dataset;
  const status = panel.querySelector("[data-push-status]");
  const onButton = panel.querySelector("[data-push-on]");
  const offButton = panel.querySelector("[data-push-off]");
  const say = (message) => { status.textContent = message; };

  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !window.isSecureContext) {
    say(text.msgUnsupported);
    return;
  }

  function keyBytes(base64url) {
    const base64 = (base64url + "=".repeat((4 - (base64url.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  }

  function deviceName() {
    const agent = navigator.userAgent;
    const browser = /Edg\//.test(agent) ? "Edge" : /Firefox\//.test(agent) ? "Firefox"
      : /Chrom(e|ium)\//.test(agent) ? "Chrome" : /Safari\//.test(agent) ? "Safari" : "Browser";
    const system = /Android/.test(agent) ? "Android" : /iPhone|iPad/.test(agent) ? "iOS"
      : /Windows/.test(agent) ? "Windows" : /Mac OS X/.test(agent) ? "macOS" : /Linux/.test(agent) ? "Linux" : "";
    return system ? `${browser} · ${system}` : browser;
  }

  async function post(url, fields) {
    const body = new FormData();
    body.append("csrf_token", text.csrfToken);
    Object.entries(fields).forEach(([name, value]) => body.append(name, value));
    const response = await fetch(url, { method: "POST", body, credentials: "same-origin",
                                        headers: { Accept: "application/json" } });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error((answer.error && answer.error.message) || response.statusText);
    return answer;
  }

  async function sha256Hex(value) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value));
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function show() {
    const registration = await navigator.serviceWorker.ready;
    const subscription = await registration.pushManager.getSubscription();
    onButton.hidden = Boolean(subscription);
    offButton.hidden = !subscription;
    if (subscription) {
      const hash = await sha256Hex(subscription.endpoint);
      const row = document.querySelector(`[data-endpoint-hash="${hash}"] [data-this-device]`);
      if (row) row.hidden = false;
    }
    say(subscription ? text.msgOn : Notification.permission === "denied" ? text.msgDenied : text.msgOff);
  }

  onButton.addEventListener("click", async () => {
    onButton.disabled = true;
    try {
      if (await Notification.requestPermission() !== "granted") {
        say(text.msgDenied);
        return;
      }
      const registration = await navigator.serviceWorker.ready;
      const old = await registration.pushManager.getSubscription();
      if (old) await old.unsubscribe(); // made with another server key, or half done before
      const subscription = await registration.pushManager.subscribe({
        userVisibleOnly: true, applicationServerKey: keyBytes(text.publicKey) });
      const json = subscription.toJSON();
      await post(text.subscribeUrl, { endpoint: json.endpoint, p256dh: json.keys.p256dh, auth: json.keys.auth,
                                      device: deviceName(), locale: document.documentElement.lang });
      window.location.reload();
    } catch (error) {
      say(`${text.msgFailed} ${error.message}`);
    } finally {
      onButton.disabled = false;
    }
  });

  offButton.addEventListener("click", async () => {
    offButton.disabled = true;
    try {
      const registration = await navigator.serviceWorker.ready;
      const subscription = await registration.pushManager.getSubscription();
      if (subscription) {
        const endpoint = subscription.endpoint;
        await subscription.unsubscribe();
        await post(text.unsubscribeUrl, { endpoint });
      }
      window.location.reload();
    } catch (error) {
      say(error.message);
      offButton.disabled = false;
    }
  });

  show().catch(() => say(text.msgUnsupported));
})();
