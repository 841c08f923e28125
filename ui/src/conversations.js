// The caller's conversations (GET /v1/moat/conversations) as a nav named
// "Conversations": search, open, rename, export and delete.
import { useState } from "preact/hooks";
import { html } from "./html.js";
import { del, get, post } from "./api.js";
import { t } from "./i18n.js";

function titleOf(summary) {
  return (summary.title || "").trim() || t("untitled");
}

async function exportConversation(summary) {
  const data = await get(`/v1/moat/conversations/${encodeURIComponent(summary.id)}/export`);
  const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = `${summary.id}.json`;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function focusOnce(element) {
  if (element && !element.dataset.focused) {
    element.dataset.focused = "1";
    element.focus();
  }
}

function Entry({ summary, current, onChanged, onDeleted, onError }) {
  const [renaming, setRenaming] = useState(false);
  const [title, setTitle] = useState("");
  const name = titleOf(summary);

  const rename = async (event) => {
    event.preventDefault();
    try {
      const metadata = { ...(summary.metadata || {}), title: title.trim() };
      await post(`/v1/conversations/${encodeURIComponent(summary.id)}`, { metadata });
      setRenaming(false);
      onChanged();
    } catch (e) {
      onError(e.message);
    }
  };
  const remove = async () => {
    if (!window.confirm(t("confirmDelete", { title: name }))) return;
    try {
      await del(`/v1/conversations/${encodeURIComponent(summary.id)}`);
      onDeleted(summary.id);
    } catch (e) {
      onError(e.message);
    }
  };
  const download = () => exportConversation(summary).catch((e) => onError(e.message));
  const startRenaming = () => {
    setTitle(summary.title || "");
    setRenaming(true);
  };

  if (renaming) {
    return html`<li class="conversation">
      <form class="rename" onSubmit=${rename}>
        <input aria-label=${t("renameTo")} value=${title} maxlength="256" required ref=${focusOnce}
          onInput=${(e) => setTitle(e.currentTarget.value)} />
        <button type="submit">${t("save")}</button>
        <button type="button" onClick=${() => setRenaming(false)}>${t("cancel")}</button>
      </form>
    </li>`;
  }
  return html`<li class="conversation" data-id=${summary.id}>
    <a href=${`#/c/${summary.id}`} aria-current=${current ? "page" : undefined} title=${name}>${name}</a>
    <div class="conversation-actions">
      <button type="button" class="small" aria-label=${`${t("rename")}: ${name}`} title=${t("rename")}
        onClick=${startRenaming}>✎</button>
      <button type="button" class="small" aria-label=${`${t("export")}: ${name}`} title=${t("export")}
        onClick=${download}>⤓</button>
      <button type="button" class="small danger" aria-label=${`${t("delete")}: ${name}`} title=${t("delete")}
        onClick=${remove}>✕</button>
    </div>
  </li>`;
}

export function ConversationList({ list, currentId, search, onSearch, onChanged, onDeleted, onNewChat, onError }) {
  let body;
  if (list === null) body = html`<p class="muted">${t("loading")}</p>`;
  else if (list.length === 0) body = html`<p class="muted">${t("noConversations")}</p>`;
  else {
    body = html`<ul>
      ${list.map(
        (s) => html`<${Entry} key=${s.id} summary=${s} current=${s.id === currentId} onChanged=${onChanged}
          onDeleted=${onDeleted} onError=${onError} />`,
      )}
    </ul>`;
  }
  return html`
    <nav class="conversations" aria-label=${t("conversations")}>
      <button type="button" class="primary wide" onClick=${onNewChat}>${t("newChat")}</button>
      <input type="search" class="search" aria-label=${t("searchConversations")} placeholder=${t("searchConversations")}
        value=${search} onInput=${(e) => onSearch(e.currentTarget.value)} />
      ${body}
    </nav>
  `;
}
