// The JSON API, called with the token kept in this tab's sessionStorage.

import { TERMINAL } from "./protocol.js";

const TOKEN_KEY = "inferq.token";

// The API lives beside /ui/, so a gateway served under a path prefix works too.
const API_ROOT = new URL("..", document.baseURI);

/** An error answer of the API: its HTTP status and its {"error": {type, message}} body. */
export class ApiError extends Error {
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** Call the API; resolves to the parsed JSON body (with `text`, the body as it is), rejects
 *  with ApiError on a non-2xx answer.
 *  A 401 also fires "inferq:unauthorized" on window, so the page can ask for a token again. */
export async function api(path, { method = "GET", json, headers = {}, signal, tokenValue, text = false } = {}) {
  const init = { method, signal, headers: { Authorization: `Bearer ${tokenValue ?? token.get()}`, ...headers } };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(new URL(path.replace(/^\//, ""), API_ROOT), init);
  const body = await response.text();
  if (text && response.ok) return body;
  let data = null;
  try {
    data = body ? JSON.parse(body) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = new ApiError(
      response.status,
      data?.error?.type ?? "http_error",
      data?.error?.message ?? `${response.status} ${response.statusText}`,
    );
    if (response.status === 401 && tokenValue === undefined) {
      window.dispatchEvent(new CustomEvent("inferq:unauthorized", { detail: error.message }));
    }
    throw error;
  }
  return data;
}

/** Resolve after `ms`, or reject with an AbortError as soon as `signal` aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

/** Run `task` now and then every `ms` until `signal` aborts; a failed run is shown by
 *  `task` itself and does not stop the next one. */
export async function every(ms, signal, task) {
  while (!signal.aborted) {
    try {
      await task();
    } catch (error) {
      if (signal.aborted) return;
      console.warn(error);
    }
    try {
      await sleep(ms, signal);
    } catch {
      return;
    }
  }
}

/** Long-poll a request's status doc with `?wait=`, calling `onState` with each one,
 *  until the request ends; resolves to its last status doc. */
export async function follow(responseId, { signal, waitS, onState }) {
  const path = `/v1/requests/${encodeURIComponent(responseId)}`;
  let state = await api(path, { signal });
  onState(state);
  while (!TERMINAL.has(state.status)) {
    state = await api(`${path}?wait=${waitS}`, { signal });
    onState(state);
  }
  return state;
}
