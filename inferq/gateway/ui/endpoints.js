// #/endpoints: each endpoint with its health, workers and queue, refreshed every few seconds.

import { api, ApiError, every } from "./api.js";
import { badge, errorBox, fill, h, table } from "./dom.js";
import { duration } from "./format.js";

const REFRESH_MS = 2000;

/** "ready", or the healthcheck's 503 message saying why not. */
async function health(name, signal) {
  try {
    await api(`/${encodeURIComponent(name)}/healthcheck`, { signal });
    return { ready: true, message: null };
  } catch (error) {
    if (error instanceof ApiError && error.status === 503) return { ready: false, message: error.message };
    throw error;
  }
}

function row(endpoint, check) {
  return [
    h("a", { href: `#/requests?endpoint=${encodeURIComponent(endpoint.name)}` }, endpoint.name),
    h("span", {}, check.ready ? badge("ready") : badge("not ready", "not-ready"), check.message ? h("div", { class: "small muted" }, check.message) : null),
    `${endpoint.ready_workers} ready of ${endpoint.workers}`,
    String(endpoint.pending),
    String(endpoint.running),
    duration(endpoint.oldest_pending_age_s) ?? "—",
    h("a", { href: `#/try/${encodeURIComponent(endpoint.name)}` }, "Try"),
  ];
}

export function endpointsView(view, { signal }) {
  const content = h("div", { id: "endpoints" });
  view.append(h("h1", {}, "Endpoints"), content);
  every(REFRESH_MS, signal, async () => {
    try {
      const { endpoints } = await api("/v1/endpoints", { signal });
      const checks = await Promise.all(endpoints.map((e) => health(e.name, signal)));
      fill(content, table(
        ["Endpoint", "Health", "Workers", "Queued", "Running", "Oldest queued", ""],
        endpoints.map((endpoint, i) => row(endpoint, checks[i])),
        "This gateway serves no endpoint.",
      ));
    } catch (error) {
      if (!signal.aborted) fill(content, errorBox(error.message));
    }
  });
}
