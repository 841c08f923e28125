// The personal-data guard's test box (/admin/guard/scan): what it finds in
// a text, masked, under the server's policy.
import { useState } from "preact/hooks";
import { html } from "../html.js";
import { post } from "../api.js";
import { t } from "../i18n.js";

export function Guard() {
  const [text, setText] = useState("");
  const [result, setResult] = useState(null);
  const [error, setError] = useState("");
  const scan = async (event) => {
    event.preventDefault();
    setError("");
    try {
      setResult(await post("/admin/guard/scan", { text }));
    } catch (e) {
      setError(e.message);
    }
  };
  return html`
    <h1>${t("guard")}</h1>
    <form class="card" onSubmit=${scan}>
      <label for="guard-text">${t("guardText")}</label>
      <textarea id="guard-text" rows="5" value=${text} onInput=${(e) => setText(e.currentTarget.value)}></textarea>
      <div><button type="submit" class="primary">${t("scan")}</button></div>
    </form>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${result &&
    html`<section class="card" aria-live="polite">
      <p>${t("policy", { policy: result.policy })}</p>
      ${result.data.length === 0
        ? html`<p class="muted">${t("nothingFound")}</p>`
        : html`<table class="findings"><thead><tr><th scope="col">${t("kind")}</th><th scope="col">${t("range")}</th>
            <th scope="col">${t("masked")}</th></tr></thead>
            <tbody>${result.data.map((f) => html`<tr><td>${f.kind}</td><td>${f.start}–${f.end}</td><td class="mono">${f.masked}</td></tr>`)}</tbody>
          </table>`}
    </section>`}
  `;
}
