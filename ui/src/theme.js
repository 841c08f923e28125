// Light or dark: a saved choice, else the system's prefers-color-scheme.
// The choice is the `data-theme` attribute of <html>, which style.css reads.
import { safeStorage } from "./i18n.js";

export function initialTheme() {
  const saved = safeStorage("moat.theme");
  if (saved === "dark" || saved === "light") return saved;
  return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
}

export function saveTheme(theme) {
  safeStorage("moat.theme", theme);
}
