// Knowledge bases (/v1/vector_stores): each store the caller may see with
// its files' counts and size; create one, delete one, and open one to see
// its files (ingest status, errors), remove a file or add one.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { del, get, post } from "../api.js";
import { formatTime, t } from "../i18n.js";
import { addToStore } from "../attach.js";

function bytes(n) {
  if (!n) return "0 B";
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

function Files({ store, onChanged }) {
  const [files, setFiles] = useState(null);
  const [error, setError] = useState("");
  const [file, setFile] = useState(null);
  const [busy, setBusy] = useState(false);
  const load = () =>
    get(`/v1/vector_stores/${encodeURIComponent(store.id)}/files?limit=100`)
      .then((page) => setFiles(page.data))
      .catch((e) => setError(e.message));
  useEffect(load, [store.id]);

  const upload = async (event) => {
    event.preventDefault();
    if (!file) return;
    setBusy(true);
    setError("");
    try {
      await addToStore(store.id, file);
      setFile(null);
      event.target.reset();
      await load();
      onChanged();
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  };
  const remove = async (f) => {
    if (!window.confirm(t("confirmRemoveFile", { name: f.id }))) return;
    try {
      await del(`/v1/vector_stores/${encodeURIComponent(store.id)}/files/${encodeURIComponent(f.id)}`);
      await load();
      onChanged();
    } catch (e) {
      setError(e.message);
    }
  };

  return html`
    <section class="card" aria-label=${t("filesOf", { name: store.name || store.id })}>
      <h2>${t("filesOf", { name: store.name || store.id })}</h2>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${files === null
        ? html`<p>${t("loading")}</p>`
        : files.length === 0
          ? html`<p class="muted">${t("noFiles")}</p>`
          : html`<div class="table-wrap"><table class="files">
              <thead><tr><th scope="col">${t("id")}</th><th scope="col">${t("status")}</th><th scope="col">${t("size")}</th>
                <th scope="col">${t("created")}</th><th scope="col"></th></tr></thead>
              <tbody>${files.map((f) => html`<tr data-file-id=${f.id}>
                <td class="mono">${f.id}</td>
                <td>${f.status}${f.last_error ? html` <span class="error">(${f.last_error.message || f.last_error.code})</span>` : ""}</td>
                <td>${bytes(f.usage_bytes)}</td><td>${formatTime(f.created_at)}</td>
                <td><button type="button" class="small danger" aria-label=${`${t("removeFile")}: ${f.id}`} onClick=${() => remove(f)}>${t("removeFile")}</button></td>
              </tr>`)}</tbody>
            </table></div>`}
      <form class="row" onSubmit=${upload}>
        <label>${t("attachFile")}<input type="file" onChange=${(e) => setFile(e.currentTarget.files[0] || null)} /></label>
        <button type="submit" disabled=${!file || busy}>${t("upload")}</button>
      </form>
    </section>
  `;
}

export function Knowledge() {
  const [stores, setStores] = useState(null);
  const [error, setError] = useState("");
  const [name, setName] = useState("");
  const [open, setOpen] = useState(null);
  const load = () =>
    get("/v1/vector_stores?limit=100")
      .then((page) => setStores(page.data))
      .catch((e) => setError(e.message));
  useEffect(load, []);

  const create = async (event) => {
    event.preventDefault();
    setError("");
    try {
      const created = await post("/v1/vector_stores", { name: name.trim() });
      setName("");
      await load();
      setOpen(created.id);
    } catch (e) {
      setError(e.message);
    }
  };
  const remove = async (store) => {
    if (!window.confirm(t("confirmDeleteStore", { name: store.name || store.id }))) return;
    try {
      await del(`/v1/vector_stores/${encodeURIComponent(store.id)}`);
      if (open === store.id) setOpen(null);
      await load();
    } catch (e) {
      setError(e.message);
    }
  };
  const opened = stores && stores.find((s) => s.id === open);

  return html`
    <h1>${t("knowledge")}</h1>
    <form class="card row" onSubmit=${create}>
      <label>${t("storeName")}<input value=${name} required maxlength="256" onInput=${(e) => setName(e.currentTarget.value)} /></label>
      <button type="submit" class="primary">${t("createStore")}</button>
    </form>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${stores === null
      ? html`<p>${t("loading")}</p>`
      : stores.length === 0
        ? html`<p class="muted">${t("noStores")}</p>`
        : html`<div class="table-wrap"><table class="stores">
            <thead><tr><th scope="col">${t("storeName")}</th><th scope="col">${t("id")}</th><th scope="col">${t("status")}</th>
              <th scope="col">${t("filesCount")}</th><th scope="col">${t("size")}</th><th scope="col">${t("created")}</th><th scope="col"></th></tr></thead>
            <tbody>${stores.map((s) => html`<tr data-store-id=${s.id}>
              <td>${s.name || ""}</td><td class="mono">${s.id}</td><td>${s.status}</td>
              <td>${t("fileCounts", s.file_counts || {})}</td><td>${bytes(s.usage_bytes)}</td><td>${formatTime(s.created_at)}</td>
              <td>
                <button type="button" class="small" aria-expanded=${open === s.id ? "true" : "false"}
                  aria-label=${`${t("openStore")}: ${s.name || s.id}`} onClick=${() => {
                    setOpen(open === s.id ? null : s.id);
                    load();
                  }}>${t("openStore")}</button>
                <button type="button" class="small danger" aria-label=${`${t("deleteStore")}: ${s.name || s.id}`} onClick=${() => remove(s)}>${t("deleteStore")}</button>
              </td>
            </tr>`)}</tbody>
          </table></div>`}
    ${opened && html`<${Files} key=${opened.id} store=${opened} onChanged=${load} />`}
  `;
}
