// moat's API as the page calls it: same-origin requests that carry the
// session cookie, the CSRF token on every write, OpenAI-shaped errors turned
// into ApiError, and server-sent events read from a streamed answer.

let csrfToken = "";
let onSignedOut = () => {};

/** The token writes carry in X-CSRF-Token (from the session object). */
export function setCsrfToken(token) {
  csrfToken = token || "";
}

/** Called when a request answers 401: the session has ended. */
export function whenSignedOut(callback) {
  onSignedOut = callback;
}

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || null;
    this.param = error.param || null;
  }
}

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * fetch() for the API: `body` (an object) is sent as JSON, FormData as is.
 * Returns the Response when `raw`, else the parsed JSON; throws ApiError.
 */
export async function request(method, path, { body, signal, raw = false, quiet401 = false } = {}) {
  const headers = { Accept: raw ? "text/event-stream, application/json" : "application/json" };
  let payload;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  if (WRITES.has(method) && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    body: payload,
    signal,
    credentials: "same-origin",
    cache: "no-store",
  });
  if (!response.ok) {
    let parsed = null;
    try {
      parsed = await response.json();
    } catch {
      parsed = null;
    }
    if (response.status === 401 && !quiet401) onSignedOut();
    throw new ApiError(response.status, parsed);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

export const get = (path, options) => request("GET", path, options);
export const post = (path, body, options) => request("POST", path, { ...options, body });
export const del = (path, options) => request("DELETE", path, options);

/** A query string from the defined, non-empty values of `params`. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/**
 * Reads the server-sent events of `response`, calling `onEvent` with each
 * parsed `data:` JSON until `[DONE]` or the end of the body. An error event
 * (`{"error": {...}}`) is thrown as ApiError.
 */
export async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
      const data = block
        .split(/\r?\n/)
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).replace(/^ /, ""))
        .join("\n");
      if (!data) continue;
      if (data === "[DONE]") return;
      const event = JSON.parse(data);
      if (event.error) throw new ApiError(500, event);
      onEvent(event);
    }
  }
}
