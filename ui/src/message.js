// One chat message as an <article data-role="user|assistant">: the user's
// text as typed, or the assistant's answer as sanitized markdown with its
// reasoning (collapsible), tool calls, pending confirmations, citations and
// the AI-generated note.
import { useMemo } from "preact/hooks";
import { html } from "./html.js";
import { renderMarkdown, splitThinking } from "./markdown.js";
import { t } from "./i18n.js";

function Markdown({ text }) {
  const rendered = useMemo(() => renderMarkdown(text), [text]);
  return html`<div class="markdown" dangerouslySetInnerHTML=${{ __html: rendered }}></div>`;
}

function Reasoning({ text, thinking }) {
  if (!text && !thinking) return null;
  return html`
    <details class="reasoning" open=${thinking}>
      <summary>${thinking ? t("thinking") : t("reasoning")}</summary>
      <div class="reasoning-text">${text}</div>
    </details>
  `;
}

function ToolCalls({ calls }) {
  if (!calls || calls.length === 0) return null;
  return html`
    <ul class="tool-calls">
      ${calls.map(
        (call) => html`<li class="tool-call" data-tool=${call.name}>
          <span class="tool-name">${t("toolCall", { name: call.name || "…" })}</span>
          ${call.arguments && html`<code class="tool-arguments">${call.arguments}</code>`}
        </li>`,
      )}
    </ul>
  `;
}

/** Server-side tool calls moat decided while the answer was made. */
function ToolsRun({ runs }) {
  if (!runs || runs.length === 0) return null;
  return html`
    <ul class="tool-calls tools-run" aria-label=${t("toolsRun")}>
      ${runs.map(
        (run) => html`<li class="tool-run" data-tool=${run.name} data-outcome=${run.outcome}>
          ${t(run.outcome === "ok" ? "toolRanOk" : "toolRanOther", { name: run.name, decision: run.decision, outcome: run.outcome })}
        </li>`,
      )}
    </ul>
  `;
}

function Pending({ calls, onDecide, busy }) {
  if (!calls || calls.length === 0) return null;
  return calls.map(
    (call) => html`
      <div class="pending" role="group" aria-label=${t("pendingTool", { name: call.name })}>
        <p>${t("pendingTool", { name: call.name })}</p>
        <code class="tool-arguments">${call.arguments}</code>
        <div class="row">
          <button type="button" class="primary" disabled=${busy} onClick=${() => onDecide(call, true)}>${t("approve")}</button>
          <button type="button" disabled=${busy} onClick=${() => onDecide(call, false)}>${t("reject")}</button>
        </div>
      </div>
    `,
  );
}

function Citations({ annotations }) {
  const cited = (annotations || []).filter((a) => a.type === "file_citation" && a.file_citation);
  if (cited.length === 0) return null;
  return html`
    <section class="citations" aria-label=${t("sources")}>
      <h3>${t("sources")}</h3>
      <ol>
        ${cited.map(
          ({ file_citation: c }) => html`<li>
            <a href=${`/v1/files/${encodeURIComponent(c.file_id)}/content`} download=${c.filename || c.file_id}
              data-file-id=${c.file_id}>${c.filename || c.file_id}</a>
            ${c.quote && html`<blockquote>${c.quote}</blockquote>`}
          </li>`,
        )}
      </ol>
    </section>
  `;
}

export function Message({ message, onDecide, busy }) {
  if (message.role === "user") {
    return html`
      <article class="message user" data-role="user" aria-label=${t("you")}>
        <div class="author">${t("you")}</div>
        <div class="user-text">${message.text}</div>
      </article>
    `;
  }
  const split = splitThinking(message.text);
  const reasoning = [message.reasoning, split.reasoning].filter(Boolean).join("\n");
  const streaming = message.status === "streaming";
  return html`
    <article class="message assistant" data-role="assistant" data-status=${message.status} aria-label=${t("assistant")}
      aria-busy=${streaming ? "true" : "false"}>
      <div class="author">${t("assistant")}${message.model && html` <span class="model-name">${message.model}</span>`}</div>
      <${Reasoning} text=${reasoning} thinking=${streaming && split.thinking} />
      <${ToolCalls} calls=${(message.toolCalls || []).filter((c) => !(c.id || "").startsWith("tcf_"))} />
      <${ToolsRun} runs=${message.toolsRun} />
      <${Markdown} text=${split.answer} />
      ${(message.decisions || []).map(
        (d) => html`<p class="decision">${t(d.approve ? "approved" : "rejected", { name: d.name })}</p>`,
      )}
      <${Pending} calls=${message.pending} onDecide=${onDecide} busy=${busy} />
      <${Citations} annotations=${message.annotations} />
      ${message.status === "stopped" && html`<p class="note">${t("stopped")}</p>`}
      ${message.error && html`<p class="error" role="alert">${t("failed", { message: message.error })}</p>`}
      <p class="ai-note">${t("aiGenerated")}</p>
    </article>
  `;
}
