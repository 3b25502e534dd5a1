// #/requests?status=&endpoint=&before=: the caller's requests, newest first, with their timings.
// The newest page refreshes itself; older pages (before=) stay as they were loaded.

import { api, every } from "./api.js";
import { badge, errorBox, fill, h, table } from "./dom.js";
import { between, duration, when } from "./format.js";
import { STATUSES } from "./protocol.js";

const REFRESH_MS = 2000;
const PAGE_SIZE = 25;

/** The hash of this list with `name` set to `value` (left out when empty); any other change
 *  than paging starts again from the newest page. */
function listHash(params, name, value) {
  const query = new URLSearchParams([...params].filter(([key]) => key !== name && key !== "before"));
  if (value) query.set(name, value);
  return `#/requests${query.size ? `?${query}` : ""}`;
}

function emptyText(params) {
  if (params.get("before")) return "No older requests.";
  if (params.get("status") || params.get("endpoint")) return "No request matches these filters.";
  return h("span", {}, "No requests yet: ", h("a", { href: "#/try" }, "try an endpoint"), ".");
}

function row(request) {
  return [
    h("a", { href: `#/requests/${encodeURIComponent(request.response_id)}`, class: "mono" }, request.response_id),
    request.endpoint,
    badge(request.status),
    when(request.created_at),
    duration(between(request.created_at, request.started_at)) ?? "—",
    duration(between(request.started_at, request.completed_at)) ?? "—",
    duration(between(request.created_at, request.completed_at)) ?? "—",
  ];
}

/** The status and endpoint filters; changing one opens the first page of the new selection. */
function filters(params, endpointNames) {
  const choose = (name, label, options) => h("label", {}, label, h("select", {
    name,
    onchange: (event) => { location.hash = listHash(params, name, event.target.value); },
  }, [["", "all"], ...options.map((o) => [o, o])].map(([value, text]) =>
    h("option", { value, selected: params.get(name) === value || (!value && !params.get(name)) }, text))));
  return h("form", { class: "filters" }, choose("status", "Status", STATUSES), choose("endpoint", "Endpoint", endpointNames));
}

export async function requestsView(view, { params, signal }) {
  const content = h("div", { id: "requests" });
  const pager = h("p", { class: "pager" });
  view.append(h("h1", {}, "Requests"), content, pager);
  const { endpoints } = await api("/v1/endpoints", { signal });
  content.before(filters(params, endpoints.map((e) => e.name)));
  const query = new URLSearchParams(params);
  query.set("limit", String(PAGE_SIZE));
  const load = async () => {
    try {
      const page = await api(`/v1/requests?${query}`, { signal });
      fill(content, table(
        ["Request", "Endpoint", "Status", "Created", "Queued", "Ran", "Total"],
        page.results.map(row),
        emptyText(params),
      ));
      const older = page.next && new URL(page.next).searchParams.get("before");
      fill(pager,
        params.get("before") ? h("a", { href: listHash(params, "before", null) }, "← Newest") : null,
        older ? h("a", { href: listHash(params, "before", older) }, "Older →") : null,
      );
    } catch (error) {
      if (!signal.aborted) fill(content, errorBox(error.message));
    }
  };
  if (params.get("before")) await load();
  else every(REFRESH_MS, signal, load);
}
