// The sign-in page: an API key exchanged once for a session cookie
// (POST /v1/moat/session); the key itself is not kept. When the server
// asks for it (administrators and auditors under `[ui]
// admin_second_factor`), a one-time code from an authenticator app too.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "./html.js";
import { get, post } from "./api.js";
import { t } from "./i18n.js";

export function SignIn({ notice, onSignedIn }) {
  const [key, setKey] = useState("");
  const [code, setCode] = useState("");
  const [needsCode, setNeedsCode] = useState(false);
  const codeInput = useRef(null);
  useEffect(() => needsCode && codeInput.current && codeInput.current.focus(), [needsCode]);
  const [singleSignOn, setSingleSignOn] = useState(false);
  useEffect(() => {
    get("/v1/moat/session/methods", { quiet401: true })
      .then((methods) => setSingleSignOn(Boolean(methods.single_sign_on)))
      .catch(() => setSingleSignOn(false));
    // Back from the provider without a session: say so once.
    const params = new URLSearchParams(window.location.search);
    if (params.has("sign_in_failed")) {
      setError(t("singleSignOnFailed"));
      window.history.replaceState(null, "", window.location.pathname + window.location.hash);
    }
  }, []);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const input = useRef(null);
  useEffect(() => input.current && input.current.focus(), []);

  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError("");
    try {
      const body = { api_key: key.trim() };
      if (needsCode) body.code = code.trim();
      const session = await post("/v1/moat/session", body, { quiet401: true });
      setKey("");
      setCode("");
      onSignedIn(session);
    } catch (e) {
      const reason = e.code;
      if (reason === "second_factor_required") {
        setNeedsCode(true);
        setError(needsCode ? t("codeRequired") : "");
      } else if (reason === "second_factor_invalid") {
        setCode("");
        setError(t("codeInvalid"));
      } else if (reason === "second_factor_not_enrolled") {
        setError(t("codeNotEnrolled"));
      } else {
        setError(e.status === 429 ? t("tooManyAttempts") : e.message);
      }
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
        ${needsCode && html`
          <label for="one-time-code">${t("oneTimeCode")}</label>
          <input id="one-time-code" name="code" ref=${codeInput} inputmode="numeric" autocomplete="one-time-code"
            pattern="[0-9]{6}" maxlength="6" required value=${code} onInput=${(e) => setCode(e.currentTarget.value)} />
          <p class="help">${t("oneTimeCodeHelp")}</p>`}
        ${error && html`<p class="error" role="alert">${error}</p>`}
        <button type="submit" class="primary" disabled=${busy}>${busy ? t("signingIn") : t("signIn")}</button>
        ${singleSignOn && html`
          <p class="or">${t("or")}</p>
          <a class="button" href="/v1/moat/session/oidc/start">${t("signInWithSso")}</a>`}
      </form>
    </main>
  `;
}
