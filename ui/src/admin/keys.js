// API keys (/admin/keys): list, create (the secret is shown once), revoke,
// rotate.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { get, post } from "../api.js";
import { formatTime, t } from "../i18n.js";

const list = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

function CreateKey({ onCreated, onError }) {
  const [form, setForm] = useState({ name: "", roles: "user", models: "", expires: "" });
  const set = (name) => (e) => setForm({ ...form, [name]: e.currentTarget.value });
  const submit = async (event) => {
    event.preventDefault();
    const body = { name: form.name.trim(), roles: list(form.roles) };
    if (list(form.models).length) body.models = list(form.models);
    if (form.expires.trim()) body.expires_in = form.expires.trim();
    try {
      onCreated(await post("/admin/keys", body));
      setForm({ ...form, name: "" });
    } catch (e) {
      onError(e.message);
    }
  };
  return html`
    <form class="card form-grid" onSubmit=${submit}>
      <h2>${t("createKey")}</h2>
      <label>${t("keyName")}<input name="name" required maxlength="128" value=${form.name} onInput=${set("name")} /></label>
      <label>${t("keyRoles")}<input name="roles" value=${form.roles} onInput=${set("roles")} /></label>
      <label>${t("keyModels")}<input name="models" value=${form.models} onInput=${set("models")} /></label>
      <label>${t("keyExpires")}<input name="expires_in" value=${form.expires} onInput=${set("expires")} /></label>
      <div><button type="submit" class="primary">${t("createKey")}</button></div>
    </form>
  `;
}

function Secret({ issued, onDismiss }) {
  return html`
    <div class="card secret" role="status">
      <p>${t("newSecret")}</p>
      <input readonly class="mono" aria-label=${t("secretFor", { name: issued.name })} value=${issued.key}
        onFocus=${(e) => e.currentTarget.select()} />
      <button type="button" onClick=${onDismiss}>${t("dismiss")}</button>
    </div>
  `;
}

export function Keys() {
  const [keys, setKeys] = useState(null);
  const [issued, setIssued] = useState(null);
  const [error, setError] = useState("");
  const load = () =>
    get("/admin/keys")
      .then((page) => setKeys(page.data.slice().sort((a, b) => b.created_at - a.created_at)))
      .catch((e) => setError(e.message));
  useEffect(() => {
    load();
  }, []);

  const act = async (key, action) => {
    const question = action === "revoke" ? "confirmRevoke" : "confirmRotate";
    if (!window.confirm(t(question, { name: key.name }))) return;
    setError("");
    try {
      const answer = await post(`/admin/keys/${encodeURIComponent(key.id)}/${action}`);
      if (answer.key) setIssued(answer);
      load();
    } catch (e) {
      setError(e.message);
    }
  };

  return html`
    <h1>${t("keys")}</h1>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${issued && html`<${Secret} issued=${issued} onDismiss=${() => setIssued(null)} />`}
    <${CreateKey} onCreated=${(k) => { setError(""); setIssued(k); load(); }} onError=${setError} />
    ${keys === null
      ? html`<p>${t("loading")}</p>`
      : html`<div class="table-wrap"><table class="keys">
          <thead><tr>
            <th scope="col">${t("name")}</th><th scope="col">${t("id")}</th><th scope="col">${t("hint")}</th>
            <th scope="col">${t("roles")}</th><th scope="col">${t("status")}</th><th scope="col">${t("created")}</th>
            <th scope="col">${t("expires")}</th><th scope="col">${t("lastUsed")}</th><th scope="col">${t("actions")}</th>
          </tr></thead>
          <tbody>
            ${keys.map(
              (k) => html`<tr data-key-id=${k.id} data-status=${k.status}>
                <td>${k.name}</td><td class="mono">${k.id}</td><td class="mono">${k.hint}</td>
                <td>${k.roles.join(", ")}</td><td class="status-cell">${k.status}</td>
                <td>${formatTime(k.created_at)}</td><td>${formatTime(k.expires_at)}</td><td>${formatTime(k.last_used_at)}</td>
                <td class="actions">
                  ${k.status === "active" &&
                  html`<button type="button" class="small" aria-label=${`${t("rotate")}: ${k.name}`} onClick=${() => act(k, "rotate")}>${t("rotate")}</button>
                    <button type="button" class="small danger" aria-label=${`${t("revoke")}: ${k.name}`} onClick=${() => act(k, "revoke")}>${t("revoke")}</button>`}
                </td>
              </tr>`,
            )}
          </tbody>
        </table></div>`}
  `;
}
