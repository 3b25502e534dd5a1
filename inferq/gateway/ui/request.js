// #/requests/<id>: one request's state, timeline, inputs (when sent from this tab), output or
// error, followed by long polling until it ends; pending and running ones can be cancelled.

import { api, follow } from "./api.js";
import { badge, errorBox, facts, failureBox, fill, h, table } from "./dom.js";
import { between, duration, pretty, when } from "./format.js";
import { recall } from "./inputs.js";
import { TERMINAL } from "./protocol.js";

// Short enough that a pending request is seen to start; the call still returns the moment it ends.
const WAIT_S = 5;

/** The steps a request went through, each with its time and how long the step before took. */
function timeline(state) {
  const steps = [["Created", when(state.created_at), null]];
  if (state.started_at) {
    steps.push(["Started", when(state.started_at), `after ${duration(between(state.created_at, state.started_at))} in the queue`]);
  } else if (state.status === "pending") {
    const ahead = state.queue_position; // requests before it in its endpoint's queue
    const place = ahead === 0 ? "next in line" : ahead ? `${ahead} ahead of it in the queue` : "in the queue";
    steps.push(["Waiting to start", null, [place, estimate("starts", state.estimated_start_at)].filter(Boolean).join("; ")]);
  }
  if (state.status === "running") {
    const progress = typeof state.progress === "number" ? `${Math.round(state.progress * 100)} % done` : "in progress";
    steps.push(["Running", null, [progress, estimate("ends", state.estimated_completed_at)].filter(Boolean).join("; ")]);
  }
  if (TERMINAL.has(state.status)) {
    const ran = state.started_at ? `after ${duration(between(state.started_at, state.completed_at))} running` : "before it started";
    steps.push([capitalized(state.status), when(state.completed_at), ran]);
  }
  return h("ol", { class: "timeline" }, steps.map(([label, time, note]) => h("li", { class: time ? "done" : "now" },
    h("strong", {}, label), time ? h("time", {}, time) : null, note ? h("span", { class: "muted" }, note) : null)));
}

/** Each run: its worker, when it started and ended, and how (the status document's attempt_history). */
function runs(state) {
  const history = state.attempt_history || [];
  if (!history.length) return null;
  const rows = history.map((run) => [
    String(run.attempt),
    h("span", { class: "mono" }, run.worker),
    when(run.started_at),
    run.ended_at ? when(run.ended_at) : "running",
    run.outcome ? run.outcome.replace("_", " ") : "",
  ]);
  return [h("h3", {}, "Runs"), table(["Run", "Worker", "Started", "Ended", "Outcome"], rows, "")];
}

/** A link to another request's page. */
function linkTo(responseId) {
  return responseId ? h("a", { class: "mono", href: `#/requests/${encodeURIComponent(responseId)}` }, responseId) : null;
}

function capitalized(word) {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/** "ends in about 12 s", from the server's estimate (absent until a run has been measured). */
function estimate(verb, iso) {
  if (!iso) return null;
  return `${verb} in about ${duration(Math.max(0, (Date.parse(iso) - Date.now()) / 1000))}`;
}

/** A model's outputs: a transcript first when there is one, then the JSON with long strings cut. */
export function outputView(output) {
  const text = output?.response?.text;
  return [
    typeof text === "string" ? [h("h3", {}, "Transcript"), h("p", { class: "transcript" }, text.trim())] : null,
    h("h3", {}, "Output"),
    h("pre", { class: "json output" }, pretty(output)),
  ];
}

function inputsView(responseId) {
  const inputs = recall(responseId);
  if (!inputs) return h("p", { class: "muted" }, "The API does not return a request's inputs; they are shown only for requests submitted from this tab.");
  return h("pre", { class: "json inputs" }, pretty(inputs));
}

export function requestView(view, { id, signal }) {
  const title = h("h1", {}, "Request ", h("span", { class: "mono" }, id));
  const about = h("div", { class: "about" });
  const steps = h("div");
  const actions = h("div", { class: "actions" });
  const result = h("section", { class: "result" });
  view.append(
    h("p", {}, h("a", { href: "#/requests" }, "← All requests")),
    title, about,
    h("div", { class: "columns" },
      h("section", {}, h("h2", {}, "Timeline"), steps, actions),
      h("section", {}, h("h2", {}, "Inputs"), inputsView(id))),
    result,
  );

  const cancel = async () => {
    try {
      await api(`/v1/requests/${encodeURIComponent(id)}/cancel`, { method: "POST", signal });
    } catch (error) {
      if (!signal.aborted) fill(actions, errorBox(error.message));
    }
  };
  const retry = async () => { // a new request with the same inputs: its page
    try {
      const again = await api(`/v1/requests/${encodeURIComponent(id)}/retry`, { method: "POST", signal });
      location.hash = `#/requests/${encodeURIComponent(again.response_id)}`;
    } catch (error) {
      if (!signal.aborted) fill(actions, errorBox(error.message));
    }
  };
  const button = (state) => {
    if (!TERMINAL.has(state.status)) return h("button", { type: "button", class: "danger", onclick: cancel }, "Cancel request");
    if (state.status !== "completed") return h("button", { type: "button", onclick: retry }, "Retry request");
    return null;
  };
  const show = (state) => {
    fill(title, "Request ", h("span", { class: "mono" }, id), " ", badge(state.status));
    fill(about, facts([
      ["Endpoint", h("a", { href: `#/requests?endpoint=${encodeURIComponent(state.endpoint)}` }, state.endpoint)],
      ["Priority", state.priority],
      ["Cost", typeof state.cost === "number" ? String(Math.round(state.cost * 1000) / 1000) : null],
      ["Deadline", when(state.deadline_at)],
      ["Attempts", state.attempts ? String(state.attempts) : null],
      ["Retry of", linkTo(state.retry_of)],
      ["Retried by", linkTo(state.retried_by)],
      ["Reused from", linkTo(state.reused_from)],
      ["Total time", duration(between(state.created_at, state.completed_at))],
      ["Kept until", when(state.expires_at)],
    ]));
    fill(steps, timeline(state), runs(state));
    fill(actions, button(state));
    if (state.error) { // failed, or cancelled by its deadline
      fill(result, h("h2", {}, "Error"), failureBox(state.error));
    }
  };

  follow(id, { signal, waitS: WAIT_S, onState: show })
    .then(async (state) => {
      if (state.status !== "completed") return;
      const output = await api(`/v1/requests/${encodeURIComponent(id)}/response`, { signal });
      fill(result, h("h2", {}, "Result"), outputView(output));
    })
    .catch((error) => {
      if (!signal.aborted) fill(result, errorBox(error.message));
    });
}
