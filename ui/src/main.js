// The page: the session (signed in or not), the header with its menu,
// language and theme, and the page the location's hash names:
//   #/            a new chat          #/c/<conversation id>  that chat
//   #/admin/keys  #/admin/usage  #/admin/audit  #/admin/guard  #/admin/models
//   #/admin/knowledge
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import "./style.css";
import { html } from "./html.js";
import { del, get, setCsrfToken, whenSignedOut } from "./api.js";
import { initialLanguage, language, saveLanguage, setLanguage, t } from "./i18n.js";
import { initialTheme, applyTheme, saveTheme } from "./theme.js";
import { SignIn } from "./signin.js";
import { Chat } from "./chat.js";
import { Keys } from "./admin/keys.js";
import { Usage } from "./admin/usage.js";
import { Audit } from "./admin/audit.js";
import { Guard } from "./admin/guard.js";
import { Models } from "./admin/models.js";
import { Knowledge } from "./admin/knowledge.js";

function currentRoute() {
  const hash = window.location.hash.replace(/^#/, "") || "/";
  const conversation = /^\/c\/([A-Za-z0-9_-]+)$/.exec(hash);
  if (conversation) return { page: "chat", conversation: conversation[1] };
  const admin = /^\/admin\/(keys|usage|audit|guard|models|knowledge)$/.exec(hash);
  if (admin) return { page: admin[1] };
  return { page: "chat", conversation: null };
}

function useRoute() {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const changed = () => setRoute(currentRoute());
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return route;
}

const ADMIN_PAGES = [
  { page: "keys", label: "keys", needs: "admin" },
  { page: "usage", label: "usage", needs: "admin" },
  { page: "audit", label: "audit", needs: "audit" },
  { page: "guard", label: "guard", needs: "admin" },
  { page: "models", label: "models", needs: "admin" },
  { page: "knowledge", label: "knowledge", needs: "admin" },
];

function allowed(session, needs) {
  return Boolean(session && session.permissions && session.permissions[needs]);
}

function Header({ session, route, onSignOut, lang, onLanguage, theme, onTheme }) {
  const pages = ADMIN_PAGES.filter((p) => allowed(session, p.needs));
  const current = (page) => (route.page === page ? "page" : undefined);
  return html`
    <header class="top">
      <a class="brand" href="#/">moat</a>
      ${session &&
      html`<nav class="menu" aria-label=${t("mainMenu")}>
        <a href="#/" aria-current=${current("chat")}>${t("chat")}</a>
        ${pages.map((p) => html`<a href=${`#/admin/${p.page}`} aria-current=${current(p.page)}>${t(p.label)}</a>`)}
      </nav>`}
      <div class="spacer"></div>
      <button type="button" class="plain" aria-label=${t("language")} title=${t("language")} onClick=${onLanguage}>
        ${t("otherLanguage")}
      </button>
      <button type="button" class="plain" aria-pressed=${theme === "dark" ? "true" : "false"} aria-label=${t("darkMode")}
        title=${t("darkMode")} onClick=${onTheme}>${theme === "dark" ? "☾" : "☀"}</button>
      ${session &&
      html`<span class="who" title=${(session.principal.roles || []).join(", ")}>${session.principal.name || session.principal.id}</span>
        <button type="button" onClick=${onSignOut}>${t("signOut")}</button>`}
    </header>
  `;
}

function Page({ session, route }) {
  if (route.page === "chat") return html`<${Chat} session=${session} conversationId=${route.conversation} />`;
  const entry = ADMIN_PAGES.find((p) => p.page === route.page);
  if (!entry || !allowed(session, entry.needs)) {
    return html`<main class="page"><p role="alert">${t("forbidden")}</p></main>`;
  }
  const pages = { keys: Keys, usage: Usage, audit: Audit, guard: Guard, models: Models, knowledge: Knowledge };
  const Admin = pages[route.page];
  return html`<main class="page admin"><${Admin} session=${session} /></main>`;
}

function App() {
  const [session, setSession] = useState(undefined);
  const [notice, setNotice] = useState("");
  const [lang, setLang] = useState(language());
  const [theme, setTheme] = useState(initialTheme());
  const route = useRoute();

  const signedIn = (next) => {
    setCsrfToken(next.csrf_token);
    setNotice("");
    setSession(next);
  };
  const signedOut = (message) => {
    setCsrfToken("");
    setSession(null);
    setNotice(message || "");
  };

  useEffect(() => {
    whenSignedOut(() => signedOut(t("sessionEnded")));
    get("/v1/moat/session", { quiet401: true })
      .then(signedIn)
      .catch(() => signedOut(""));
  }, []);

  const signOut = async () => {
    try {
      await del("/v1/moat/session", { quiet401: true });
    } catch {
      // Signed out either way.
    }
    signedOut("");
    window.location.hash = "#/";
  };
  const switchLanguage = () => {
    const next = lang === "zh" ? "en" : "zh";
    setLanguage(next);
    saveLanguage(next);
    setLang(next);
  };
  const switchTheme = () => {
    const next = theme === "dark" ? "light" : "dark";
    applyTheme(next);
    saveTheme(next);
    setTheme(next);
  };

  let body;
  if (session === undefined) body = html`<main class="page"><p>${t("loading")}</p></main>`;
  else if (session === null) body = html`<${SignIn} notice=${notice} onSignedIn=${signedIn} />`;
  else body = html`<${Page} session=${session} route=${route} />`;
  return html`
    <${Header} session=${session} route=${route} onSignOut=${signOut} lang=${lang} onLanguage=${switchLanguage}
      theme=${theme} onTheme=${switchTheme} />
    ${body}
  `;
}

setLanguage(initialLanguage());
applyTheme(initialTheme());
render(html`<${App} />`, document.getElementById("app"));
