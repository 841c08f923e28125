// The chat page: the conversation list, the messages of the open
// conversation, and the composer (model, message, send/stop, options,
// attaching a file to a knowledge base). A conversation is created on the
// server with its first message; each user message and each finished
// answer is appended to it as an item.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "./html.js";
import { get, post, query } from "./api.js";
import { safeStorage, t } from "./i18n.js";
import { ConversationList } from "./conversations.js";
import { Message } from "./message.js";
import { emptyAnswer, pendingCalls, streamAnswer } from "./stream.js";
import { Attach } from "./attach.js";

let nextLocalId = 1;
const localId = () => `m${nextLocalId++}`;

/** A conversation item's text: its content parts joined. */
function itemText(item) {
  if (typeof item.content === "string") return item.content;
  return (item.content || []).map((part) => part.text || "").join("");
}

/** The items of a conversation (every page, oldest first) as messages. */
async function loadMessages(id) {
  const messages = [];
  let after;
  for (let page = 0; page < 50; page++) {
    const list = await get(`/v1/conversations/${encodeURIComponent(id)}/items${query({ order: "asc", limit: 100, after })}`);
    for (const item of list.data) {
      if (item.type === "message" && (item.role === "user" || item.role === "assistant")) {
        messages.push({ id: item.id, role: item.role, text: itemText(item), status: "done" });
      } else if (item.type === "function_call") {
        const last = messages[messages.length - 1];
        const call = { id: item.call_id, name: item.name, arguments: item.arguments };
        if (last && last.role === "assistant") last.toolCalls = [...(last.toolCalls || []), call];
        else messages.push({ id: item.id, role: "assistant", text: "", toolCalls: [call], status: "done" });
      }
    }
    if (!list.has_more || list.data.length === 0) break;
    after = list.last_id || list.data[list.data.length - 1].id;
  }
  return messages;
}

function Options({ options, setOptions, stores }) {
  const set = (name) => (e) => setOptions({ ...options, [name]: e.currentTarget.value });
  const toggleStore = (id) => {
    const chosen = new Set(options.stores);
    if (chosen.has(id)) chosen.delete(id);
    else chosen.add(id);
    setOptions({ ...options, stores: [...chosen] });
  };
  return html`
    <details class="options">
      <summary>${t("options")}</summary>
      <div class="option-grid">
        <label>${t("temperature")}
          <input type="number" name="temperature" min="0" max="2" step="0.1" value=${options.temperature}
            onInput=${set("temperature")} /></label>
        <label>${t("maxTokens")}
          <input type="number" name="max_tokens" min="1" step="1" value=${options.maxTokens} onInput=${set("maxTokens")} /></label>
        <label class="span">${t("toolsField")}
          <input name="tools" value=${options.tools} onInput=${set("tools")} spellcheck="false" /></label>
      </div>
      ${stores.length > 0 &&
      html`<fieldset class="stores">
        <legend>${t("knowledgeBases")}</legend>
        ${stores.map(
          (s) => html`<label class="check"><input type="checkbox" checked=${options.stores.includes(s.id)}
            onChange=${() => toggleStore(s.id)} /> ${s.name || s.id}</label>`,
        )}
      </fieldset>`}
    </details>
  `;
}

/** The chat completion request for `history` with the chosen options. */
function completionBody(model, history, options) {
  const body = {
    model,
    messages: history.filter((m) => m.text).map((m) => ({ role: m.role, content: m.text })),
  };
  const temperature = parseFloat(options.temperature);
  if (!Number.isNaN(temperature)) body.temperature = temperature;
  const maxTokens = parseInt(options.maxTokens, 10);
  if (maxTokens > 0) body.max_tokens = maxTokens;
  const moat = {};
  const tools = options.tools.split(",").map((s) => s.trim()).filter(Boolean);
  if (tools.length) moat.tools = tools;
  if (options.stores.length) moat.knowledge_bases = options.stores;
  if (Object.keys(moat).length) body.moat = moat;
  return body;
}

export function Chat({ conversationId }) {
  const [models, setModels] = useState(null);
  const [model, setModel] = useState(safeStorage("moat.model") || "");
  const [messages, setMessages] = useState([]);
  const [draft, setDraft] = useState("");
  const [running, setRunning] = useState(null); // the AbortController of the answer being generated
  const [list, setList] = useState(null);
  const [search, setSearch] = useState("");
  const [error, setError] = useState("");
  const [stores, setStores] = useState([]);
  const [options, setOptions] = useState({ temperature: "", maxTokens: "", tools: "", stores: [] });
  const current = useRef(conversationId);
  const own = useRef(null); // the conversation this page just created (already shown)
  const bottom = useRef(null);
  const textbox = useRef(null);

  const refreshList = (text = search) =>
    get(`/v1/moat/conversations${query({ q: text.trim(), limit: 100 })}`)
      .then((page) => setList(page.data))
      .catch((e) => setError(e.message));

  useEffect(() => {
    get("/v1/models")
      .then((page) => {
        const ids = page.data.map((m) => m.id);
        setModels(page.data);
        setModel((chosen) => (ids.includes(chosen) ? chosen : ids[0] || ""));
      })
      .catch((e) => setError(e.message));
    get("/v1/vector_stores?limit=100")
      .then((page) => setStores(page.data || []))
      .catch(() => setStores([]));
  }, []);

  useEffect(() => {
    const timer = setTimeout(() => refreshList(search), search ? 250 : 0);
    return () => clearTimeout(timer);
  }, [search]);

  useEffect(() => {
    current.current = conversationId;
    if (!conversationId) {
      if (!running) setMessages([]);
      return;
    }
    if (own.current === conversationId) return;
    if (running) running.abort();
    setMessages([]);
    setError("");
    loadMessages(conversationId)
      .then((loaded) => {
        if (current.current === conversationId) setMessages(loaded);
      })
      .catch((e) => setError(e.message));
  }, [conversationId]);

  useEffect(() => {
    // Continue an opened conversation with the model it was held with, if offered.
    if (!conversationId || !models || own.current === conversationId) return;
    get(`/v1/conversations/${encodeURIComponent(conversationId)}`)
      .then((conversation) => {
        const used = conversation.metadata && conversation.metadata.model;
        if (used && current.current === conversationId && models.some((m) => m.id === used)) setModel(used);
      })
      .catch(() => {});
  }, [conversationId, models]);

  useEffect(() => {
    if (textbox.current) textbox.current.focus();
  }, [conversationId]);

  useEffect(() => {
    if (bottom.current && bottom.current.scrollIntoView) bottom.current.scrollIntoView({ block: "end" });
  }, [messages]);

  const update = (id, patch) => setMessages((all) => all.map((m) => (m.id === id ? { ...m, ...patch } : m)));

  const saveItems = async (id, items) => {
    try {
      await post(`/v1/conversations/${encodeURIComponent(id)}/items`, { items });
    } catch (e) {
      setError(e.message);
    }
  };

  /** Streams one answer into the assistant message `target`; returns it. */
  const runAnswer = async (target, path, body, answer, base) => {
    const controller = new AbortController();
    setRunning(controller);
    try {
      await streamAnswer(path, body, {
        signal: controller.signal,
        answer,
        onUpdate: (a) =>
          update(target, {
            text: base + a.content,
            reasoning: a.reasoning,
            toolCalls: [...a.toolCalls],
            toolsRun: [...a.toolsRun],
            annotations: [...a.annotations],
          }),
      });
      const pending = pendingCalls(answer);
      update(target, { status: pending.length ? "pending" : "done", pending });
      return { answer, stopped: false };
    } catch (e) {
      if (e.name === "AbortError") {
        update(target, { status: "stopped" });
        return { answer, stopped: true };
      }
      update(target, { status: "error", error: e.message });
      return { answer, stopped: false, failed: true };
    } finally {
      setRunning(null);
    }
  };

  const finish = async (conversation, target, text) => {
    if (text.trim()) await saveItems(conversation, [{ type: "message", role: "assistant", content: text }]);
    refreshList();
  };

  const send = async (event) => {
    if (event) event.preventDefault();
    const text = draft.trim();
    if (!text || running || !model) return;
    setError("");
    const user = { id: localId(), role: "user", text, status: "done" };
    const target = localId();
    const assistant = { id: target, role: "assistant", text: "", status: "streaming", model };
    const history = [...messages, user];
    setMessages([...history, assistant]);
    setDraft("");
    let conversation = conversationId;
    try {
      const userItem = { type: "message", role: "user", content: text };
      if (!conversation) {
        const created = await post("/v1/conversations", { metadata: { model }, items: [userItem] });
        conversation = created.id;
        own.current = conversation;
        current.current = conversation;
        window.location.hash = `#/c/${conversation}`;
        refreshList();
      } else {
        await post(`/v1/conversations/${encodeURIComponent(conversation)}/items`, { items: [userItem] });
      }
    } catch (e) {
      update(target, { status: "error", error: e.message });
      return;
    }
    const { answer } = await runAnswer(target, "/v1/chat/completions", completionBody(model, history, options), emptyAnswer(), "");
    if (pendingCalls(answer).length === 0) await finish(conversation, target, answer.content);
  };

  const decide = async (call, approve) => {
    const message = messages.find((m) => (m.pending || []).some((p) => p.id === call.id));
    if (!message || running) return;
    const decisions = [...(message.decisions || []), { name: call.name, approve }];
    const base = message.text ? `${message.text}\n\n` : "";
    update(message.id, { pending: [], decisions, status: "streaming", error: "" });
    const conversation = current.current;
    const { answer } = await runAnswer(
      message.id,
      `/v1/moat/confirmations/${encodeURIComponent(call.id)}`,
      { approve },
      emptyAnswer(),
      base,
    );
    if (pendingCalls(answer).length === 0 && conversation) await finish(conversation, message.id, base + answer.content);
  };

  const stop = () => {
    if (running) running.abort();
  };

  const newChat = () => {
    if (running) running.abort();
    own.current = null;
    setMessages([]);
    setDraft("");
    setError("");
    window.location.hash = "#/";
  };

  const deleted = (id) => {
    if (id === conversationId) newChat();
    refreshList();
  };

  const keyDown = (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) send(event);
  };

  return html`
    <div class="chat-layout">
      <${ConversationList} list=${list} currentId=${conversationId} search=${search} onSearch=${setSearch}
        onChanged=${() => refreshList()} onDeleted=${deleted} onNewChat=${newChat} onError=${setError} />
      <main class="chat">
        <div class="messages" aria-live="polite">
          ${messages.length === 0 && html`<p class="muted empty">${t("emptyChat")}</p>`}
          ${messages.map((m) => html`<${Message} key=${m.id} message=${m} onDecide=${decide} busy=${Boolean(running)} />`)}
          <div ref=${bottom}></div>
        </div>
        ${error && html`<p class="error" role="alert">${error}</p>`}
        <form class="composer" onSubmit=${send}>
          <div class="row">
            <label for="model">${t("model")}</label>
            <select id="model" value=${model} disabled=${!models || models.length === 0}
              onChange=${(e) => { setModel(e.currentTarget.value); safeStorage("moat.model", e.currentTarget.value); }}>
              ${(models || []).map((m) => html`<option value=${m.id}>${m.id}</option>`)}
            </select>
            ${models && models.length === 0 && html`<span class="muted">${t("noModels")}</span>`}
          </div>
          <label for="message" class="visually-hidden">${t("message")}</label>
          <textarea id="message" rows="3" ref=${textbox} placeholder=${t("message")} value=${draft}
            onInput=${(e) => setDraft(e.currentTarget.value)} onKeyDown=${keyDown}></textarea>
          <div class="row">
            <button type="submit" class="primary" disabled=${Boolean(running) || !draft.trim() || !model}>${t("send")}</button>
            <button type="button" onClick=${stop} disabled=${!running}>${t("stop")}</button>
            <div class="spacer"></div>
          </div>
          <${Options} options=${options} setOptions=${setOptions} stores=${stores} />
          <${Attach} stores=${stores} />
        </form>
      </main>
    </div>
  `;
}
