// The sign-in page: an API key exchanged once for a session cookie
// (POST /v1/moat/session); the key itself is not kept.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "./html.js";
import { post } from "./api.js";
import { t } from "./i18n.js";

export function SignIn({ notice, onSignedIn }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const input = useRef(null);
  useEffect(() => input.current && input.current.focus(), []);

  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError("");
    try {
      const session = await post("/v1/moat/session", { api_key: key.trim() }, { quiet401: true });
      setKey("");
      onSignedIn(session);
    } catch (e) {
      setError(e.status === 429 ? t("tooManyAttempts") : e.message);
    } finally {
      setBusy(false);
    }
  };

  return html`
    <main class="page signin">
      <form class="card" onSubmit=${submit}>
        <h1>${t("signInTitle")}</h1>
        ${notice && html`<p class="notice" role="status">${notice}</p>`}
        <label for="api-key">${t("apiKey")}</label>
        <input id="api-key" name="api_key" ref=${input} type="password" autocomplete="off" spellcheck="false" required
          value=${key} onInput=${(e) => setKey(e.currentTarget.value)} />
        <p class="help">${t("signInHelp")}</p>
        ${error && html`<p class="error" role="alert">${error}</p>`}
        <button type="submit" class="primary" disabled=${busy}>${busy ? t("signingIn") : t("signIn")}</button>
      </form>
    </main>
  `;
}
