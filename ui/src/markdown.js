// Model answers as HTML: markdown rendered by marked, raw HTML in the answer
// shown as text (never parsed), code highlighted by highlight.js, and the
// result passed through DOMPurify before it reaches the page. A model's
// `<img src=x onerror=…>` ends up as visible text; the CSP (no inline
// script, no other origin) is the last line behind both.
import { Marked } from "marked";
import DOMPurify from "dompurify";
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import c from "highlight.js/lib/languages/c";
import cpp from "highlight.js/lib/languages/cpp";
import css from "highlight.js/lib/languages/css";
import go from "highlight.js/lib/languages/go";
import java from "highlight.js/lib/languages/java";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import python from "highlight.js/lib/languages/python";
import rust from "highlight.js/lib/languages/rust";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";
import ini from "highlight.js/lib/languages/ini";

for (const [name, language] of Object.entries({
  bash, c, cpp, css, go, java, javascript, json, python, rust, sql, typescript, xml, yaml, ini,
})) {
  hljs.registerLanguage(name, language);
}
hljs.registerAliases(["sh", "shell", "zsh"], { languageName: "bash" });
hljs.registerAliases(["toml"], { languageName: "ini" });
hljs.registerAliases(["html", "svg"], { languageName: "xml" });

const escapeHtml = (text) =>
  text.replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]);

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    // Raw HTML in an answer is text, not markup.
    html({ text }) {
      return escapeHtml(text);
    },
    code({ text, lang }) {
      const name = (lang || "").trim().split(/\s+/)[0].toLowerCase();
      let body;
      let shown = "";
      if (name && hljs.getLanguage(name)) {
        body = hljs.highlight(text, { language: name, ignoreIllegals: true }).value;
        shown = name;
      } else {
        body = escapeHtml(text);
      }
      const label = shown ? ` data-language="${escapeHtml(shown)}"` : "";
      return `<pre${label}><code class="hljs">${body}</code></pre>\n`;
    },
  },
});

const PURIFY = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ["style", "img", "svg", "math", "form", "input", "button", "textarea", "select", "iframe", "video", "audio", "source", "picture"],
  FORBID_ATTR: ["style", "srcset", "action", "formaction"],
  ALLOW_DATA_ATTR: false,
  ADD_ATTR: ["data-language"],
};

// Links open outside the page and never as javascript:; DOMPurify already
// drops unsafe URL schemes, this makes every kept link a plain new-tab link.
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    const href = node.getAttribute("href") || "";
    if (!/^(https?:|mailto:|#|\/)/i.test(href)) node.removeAttribute("href");
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});

/** Sanitized HTML of the markdown `text`. */
export function renderMarkdown(text) {
  const raw = marked.parse(text || "", { async: false });
  return DOMPurify.sanitize(raw, PURIFY);
}

/**
 * An answer's text split into reasoning and the answer itself: a leading
 * `<think>…</think>` block (still open while the model thinks) is reasoning.
 */
export function splitThinking(text) {
  const match = /^\s*<think>([\s\S]*?)(<\/think>|$)([\s\S]*)$/.exec(text || "");
  if (!match) return { reasoning: "", answer: text || "", thinking: false };
  return { reasoning: match[1].trim(), answer: match[3].replace(/^\s+/, ""), thinking: match[2] === "" };
}
