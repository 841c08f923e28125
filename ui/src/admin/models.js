// The models this caller may use (/v1/models), with what the server says
// of each.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { get } from "../api.js";
import { formatTime, t } from "../i18n.js";

export function Models() {
  const [models, setModels] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    get("/v1/models")
      .then((page) => setModels(page.data))
      .catch((e) => setError(e.message));
  }, []);
  return html`
    <h1>${t("models")}</h1>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${models === null
      ? html`<p>${t("loading")}</p>`
      : html`<div class="table-wrap"><table>
          <thead><tr><th scope="col">${t("id")}</th><th scope="col">${t("owner")}</th><th scope="col">${t("created")}</th><th scope="col"></th></tr></thead>
          <tbody>${models.map(
            (m) => html`<tr><td class="mono">${m.id}</td><td>${m.owned_by || ""}</td><td>${m.created ? formatTime(m.created) : ""}</td>
              <td><details><summary>JSON</summary><pre class="mono">${JSON.stringify(m, null, 2)}</pre></details></td></tr>`,
          )}</tbody>
        </table></div>`}
  `;
}
