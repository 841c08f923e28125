// Attaching a file to a knowledge base: upload (POST /v1/files, purpose
// "assistants"), then add it to the chosen vector store. Whether the caller
// may write there is the server's to decide; a refusal is shown as is.
import { useState } from "preact/hooks";
import { html } from "./html.js";
import { post } from "./api.js";
import { t } from "./i18n.js";

/** Uploads `file` and adds it to the vector store `storeId`. */
export async function addToStore(storeId, file) {
  const form = new FormData();
  form.append("purpose", "assistants");
  form.append("file", file, file.name);
  const uploaded = await post("/v1/files", form);
  await post(`/v1/vector_stores/${encodeURIComponent(storeId)}/files`, { file_id: uploaded.id });
  return uploaded;
}

export function Attach({ stores }) {
  const [store, setStore] = useState("");
  const [file, setFile] = useState(null);
  const [status, setStatus] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  if (!stores || stores.length === 0) return null;
  const chosen = store || stores[0].id;

  const upload = async () => {
    if (!file) return;
    setBusy(true);
    setStatus("");
    setError("");
    try {
      await addToStore(chosen, file);
      const name = (stores.find((s) => s.id === chosen) || {}).name || chosen;
      setStatus(t("uploaded", { name: file.name, store: name }));
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  };

  return html`
    <details class="attach">
      <summary>${t("attach")}</summary>
      <div class="row">
        <label>${t("attachTo")}
          <select value=${chosen} onChange=${(e) => setStore(e.currentTarget.value)}>
            ${stores.map((s) => html`<option value=${s.id}>${s.name || s.id}</option>`)}
          </select>
        </label>
        <label>${t("attachFile")}
          <input type="file" onChange=${(e) => setFile(e.currentTarget.files[0] || null)} />
        </label>
        <button type="button" disabled=${!file || busy} onClick=${upload}>${t("upload")}</button>
      </div>
      ${status && html`<p class="note" role="status">${status}</p>`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </details>
  `;
}
