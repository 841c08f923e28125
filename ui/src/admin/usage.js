// Usage (/admin/usage?by=key|role|model|day): tokens or requests per group,
// as a chart and a table.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { get, query } from "../api.js";
import { t } from "../i18n.js";
import { BarChart } from "../chart.js";

const GROUPS = [
  ["key", "byKey"],
  ["role", "byRole"],
  ["model", "byModel"],
  ["day", "byDay"],
];

export function Usage() {
  const [by, setBy] = useState("key");
  const [since, setSince] = useState("");
  const [measure, setMeasure] = useState("tokens");
  const [data, setData] = useState(null);
  const [names, setNames] = useState({});
  const [error, setError] = useState("");

  const load = () => {
    setError("");
    get(`/admin/usage${query({ by, since: /^\d{4}-\d{2}-\d{2}$/.test(since) ? since : "" })}`)
      .then((page) => setData(page.data))
      .catch((e) => setError(e.message));
  };
  useEffect(load, [by, since]);
  useEffect(() => {
    // Key names for the key view (the usage rows name keys by id).
    get("/admin/keys")
      .then((page) => setNames(Object.fromEntries(page.data.map((k) => [k.id, k.name]))))
      .catch(() => setNames({}));
  }, []);

  const rows = (data || []).map((r) => ({
    ...r,
    label: by === "key" && names[r[by]] ? `${names[r[by]]} (${r[by]})` : String(r[by] ?? "—"),
  }));
  const series =
    measure === "tokens"
      ? [
          { key: "prompt_tokens", name: t("promptTokens"), className: "prompt" },
          { key: "completion_tokens", name: t("completionTokens"), className: "completion" },
        ]
      : [{ key: "requests", name: t("requests"), className: "requests" }];

  return html`
    <h1>${t("usage")}</h1>
    <div class="card row filters">
      <label>${t("groupBy")}
        <select value=${by} onChange=${(e) => setBy(e.currentTarget.value)}>
          ${GROUPS.map(([value, label]) => html`<option value=${value}>${t(label)}</option>`)}
        </select></label>
      <label>${t("measure")}
        <select value=${measure} onChange=${(e) => setMeasure(e.currentTarget.value)}>
          <option value="tokens">${t("tokens")}</option>
          <option value="requests">${t("requests")}</option>
        </select></label>
      <label>${t("since")}<input value=${since} placeholder="2026-01-01" onInput=${(e) => setSince(e.currentTarget.value)} /></label>
      <button type="button" onClick=${load}>${t("refresh")}</button>
    </div>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${data === null
      ? html`<p>${t("loading")}</p>`
      : data.length === 0
        ? html`<p class="muted">${t("noUsage")}</p>`
        : html`
            <figure class="card">
              <${BarChart} rows=${rows} series=${series} label=${`${t("usageChart")}: ${t(measure)}`} />
              <figcaption class="legend">
                ${series.map((s) => html`<span class=${`swatch ${s.className}`}></span>${s.name} `)}
              </figcaption>
            </figure>
            <div class="table-wrap"><table>
              <thead><tr><th scope="col">${t(GROUPS.find((g) => g[0] === by)[1])}</th><th scope="col">${t("requests")}</th>
                <th scope="col">${t("promptTokens")}</th><th scope="col">${t("completionTokens")}</th><th scope="col">${t("tokens")}</th></tr></thead>
              <tbody>
                ${rows.map(
                  (r) => html`<tr><td>${r.label}</td><td>${r.requests}</td><td>${r.prompt_tokens}</td>
                    <td>${r.completion_tokens}</td><td>${r.total_tokens}</td></tr>`,
                )}
              </tbody>
            </table></div>
          `}
  `;
}
