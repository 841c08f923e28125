// Audit search (/admin/audit): records filtered by time, principal, model
// and status, shown newest first, each row expandable to the whole record;
// above them the chain's verification (/admin/audit/verify).
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { get, query } from "../api.js";
import { formatTime, t } from "../i18n.js";

const DAY_S = 24 * 3600;

/** A datetime-local value as Unix seconds, or "" when empty. */
function seconds(value) {
  if (!value) return "";
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? "" : Math.floor(ms / 1000);
}

function localInput(unixSeconds) {
  const d = new Date(unixSeconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function Row({ record }) {
  const [open, setOpen] = useState(false);
  const failed = record.status >= 400;
  return html`
    <tr class=${failed ? "failed" : ""} data-request-id=${record.request_id}>
      <td>${new Date(record.time_ms).toLocaleString()}</td>
      <td class="mono" title=${record.principal || ""}>${(record.principal || "—").slice(0, 12)}</td>
      <td class="mono">${record.method} ${record.route}</td>
      <td>${record.model || ""}</td>
      <td>${record.status}</td>
      <td>${record.outcome}${record.error_code ? ` (${record.error_code})` : ""}</td>
      <td>${record.latency_ms}</td>
      <td><button type="button" class="small" aria-expanded=${open ? "true" : "false"}
        aria-label=${`${record.request_id}`} onClick=${() => setOpen(!open)}>${open ? "−" : "+"}</button></td>
    </tr>
    ${open && html`<tr class="detail"><td colspan="8"><pre class="mono">${JSON.stringify(record, null, 2)}</pre></td></tr>`}
  `;
}

/** The chain's state: intact or its first break, and the last signed checkpoint. */
function Chain() {
  const [report, setReport] = useState(null);
  const [error, setError] = useState("");
  const [running, setRunning] = useState(false);
  const run = () => {
    setRunning(true);
    setError("");
    get("/admin/audit/verify")
      .then(setReport)
      .catch((e) => setError(e.message))
      .finally(() => setRunning(false));
  };
  useEffect(run, []);
  const checkpoint = report && report.last_checkpoint;
  return html`
    <section class="card chain" aria-label=${t("chain")}>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${report === null
        ? !error && html`<p>${t("verifying")}</p>`
        : html`<p role="status" data-intact=${report.intact ? "true" : "false"}
              class=${report.intact ? "ok" : "error"}>
            ${report.intact
              ? t("chainIntact", { count: report.records })
              : t("chainBroken", { seq: report.first_break.seq, kind: report.first_break.kind })}
          </p>
          <p class="muted">${checkpoint
            ? t("lastCheckpoint", { seq: checkpoint.seq, time: formatTime(checkpoint.created_at) })
            : t("noCheckpoint")}</p>`}
      <button type="button" class="small" disabled=${running} onClick=${run}>${t("verify")}</button>
    </section>
  `;
}

export function Audit() {
  const [filters, setFilters] = useState({
    since: localInput(Math.floor(Date.now() / 1000) - DAY_S),
    until: "",
    principal: "",
    model: "",
    status: "",
    limit: "1000",
  });
  const [records, setRecords] = useState(null);
  const [error, setError] = useState("");
  const set = (name) => (e) => setFilters({ ...filters, [name]: e.currentTarget.value });

  const search = (event) => {
    if (event) event.preventDefault();
    setError("");
    const params = {
      since: seconds(filters.since),
      until: seconds(filters.until),
      principal: filters.principal.trim(),
      model: filters.model.trim(),
      status: filters.status.trim(),
      limit: filters.limit,
      order: "desc",
    };
    get(`/admin/audit${query(params)}`)
      .then((page) => setRecords(page.data))
      .catch((e) => setError(e.message));
  };
  useEffect(search, []);

  return html`
    <h1>${t("audit")}</h1>
    <form class="card filters form-grid" role="search" onSubmit=${search}>
      <label>${t("since")}<input type="datetime-local" value=${filters.since} onInput=${set("since")} /></label>
      <label>${t("until")}<input type="datetime-local" value=${filters.until} onInput=${set("until")} /></label>
      <label>${t("principal")}<input value=${filters.principal} onInput=${set("principal")} /></label>
      <label>${t("model")}<input value=${filters.model} onInput=${set("model")} /></label>
      <label>${t("statusCode")}<input inputmode="numeric" value=${filters.status} onInput=${set("status")} /></label>
      <label>${t("limit")}<input type="number" min="1" max="1000" value=${filters.limit} onInput=${set("limit")} /></label>
      <div><button type="submit" class="primary">${t("search")}</button></div>
    </form>
    <${Chain} />
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${records === null
      ? html`<p>${t("loading")}</p>`
      : records.length === 0
        ? html`<p class="muted">${t("noRecords")}</p>`
        : html`<p class="muted" role="status">${t("records", { count: records.length })}</p>
            <div class="table-wrap"><table class="audit">
              <thead><tr><th scope="col">${t("time")}</th><th scope="col">${t("principal")}</th><th scope="col">${t("route")}</th>
                <th scope="col">${t("model")}</th><th scope="col">${t("status")}</th><th scope="col">${t("outcome")}</th>
                <th scope="col">${t("latency")}</th><th scope="col"></th></tr></thead>
              <tbody>${records.map((r) => html`<${Row} key=${r.seq ?? r.request_id} record=${r} />`)}</tbody>
            </table></div>`}
  `;
}
