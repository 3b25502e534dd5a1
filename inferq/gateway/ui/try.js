// #/try/<endpoint>: submit a request from the browser and follow it to its result. An endpoint
// whose inputs have an "audio" field gets a file picker (read as base64 here); others take JSON.

import { api, follow } from "./api.js";
import { badge, errorBox, failureBox, fill, h } from "./dom.js";
import { remember, summarise } from "./inputs.js";
import { outputView } from "./request.js";

// The long poll of the brief: one call holds until the request ends, up to 30 s at a time.
const WAIT_S = 30;

const EXAMPLE = JSON.stringify({ hello: "world" }, null, 2);

/** The JSON schema of `endpoint`'s inputs, from the gateway's OpenAPI document. */
async function inputSchema(endpoint, signal) {
  const doc = await api("/openapi.json", { signal });
  return doc.paths[`/${endpoint}/predict`]?.post?.requestBody?.content?.["application/json"]?.schema ?? {};
}

/** The base64 of a file, as the API takes audio. */
function readBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result.slice(reader.result.indexOf(",") + 1));
    reader.onerror = () => reject(new Error(`could not read ${file.name}: ${reader.error?.message}`));
    reader.readAsDataURL(file);
  });
}

/** Fields for an audio endpoint: the file, and language and task where the schema has them. */
function audioFields(properties) {
  const { language, task } = properties;
  return [
    h("label", { for: "audio" }, "Audio file"),
    h("input", { id: "audio", name: "audio", type: "file", accept: "audio/*,video/*", required: true }),
    language ? [h("label", { for: "language" }, "Language"),
      h("input", { id: "language", name: "language", value: language.default ?? "", placeholder: "detect" })] : null,
    task?.enum ? [h("label", { for: "task" }, "Task"),
      h("select", { id: "task", name: "task" }, task.enum.map((v) => h("option", { value: v, selected: v === task.default }, v)))] : null,
  ];
}

/** The inputs the form describes, and the file they carry if any. */
async function readInputs(form, isAudio) {
  if (!isAudio) {
    let inputs;
    try {
      inputs = JSON.parse(form.elements.inputs.value);
    } catch (error) {
      throw new Error(`Inputs are not valid JSON: ${error.message}`);
    }
    if (!inputs || typeof inputs !== "object" || Array.isArray(inputs)) throw new Error("Inputs must be a JSON object.");
    return { inputs, file: null };
  }
  const file = form.elements.audio.files[0];
  const inputs = { audio: await readBase64(file) };
  if (form.elements.language) inputs.language = form.elements.language.value.trim() || null;
  if (form.elements.task) inputs.task = form.elements.task.value;
  return { inputs, file };
}

/** Follow a submitted request in `panel` until it ends, then show its output or error. */
async function showResult(panel, responseId, signal) {
  const line = h("p", { class: "status-line" });
  const body = h("div");
  fill(panel, line, body);
  const link = h("a", { href: `#/requests/${encodeURIComponent(responseId)}`, class: "mono" }, responseId);
  const state = await follow(responseId, {
    signal, waitS: WAIT_S, onState: (s) => fill(line, "Request ", link, " ", badge(s.status)),
  });
  if (state.status === "completed") {
    fill(body, outputView(await api(`/v1/requests/${encodeURIComponent(responseId)}/response`, { signal })));
  } else if (state.status === "failed") {
    fill(body, failureBox(state.error));
  }
}

export async function tryView(view, { endpoint: chosen, signal }) {
  view.append(h("h1", {}, "Try an endpoint"));
  const { endpoints } = await api("/v1/endpoints", { signal });
  if (!endpoints.length) {
    view.append(h("p", { class: "muted" }, "This gateway serves no endpoint."));
    return;
  }
  const endpoint = endpoints.some((e) => e.name === chosen) ? chosen : endpoints[0].name;
  const properties = (await inputSchema(endpoint, signal)).properties ?? {};
  const isAudio = "audio" in properties;
  const problem = h("div");
  const panel = h("section", { class: "result", id: "result" });
  const submit = h("button", { type: "submit" }, "Submit");

  const onsubmit = async (event) => {
    event.preventDefault();
    submit.disabled = true;
    fill(problem);
    let accepted;
    try {
      const { inputs, file } = await readInputs(event.target, isAudio);
      accepted = await api(`/${encodeURIComponent(endpoint)}/predict`, {
        method: "POST", json: inputs, headers: { Prefer: "respond-async" }, signal,
      });
      remember(accepted.response_id, summarise(inputs, file, isAudio ? "audio" : null));
    } catch (error) {
      if (!signal.aborted) fill(problem, errorBox(error.message));
      return;
    } finally {
      submit.disabled = false;
    }
    showResult(panel, accepted.response_id, signal).catch((error) => {
      if (!signal.aborted) panel.append(errorBox(error.message));
    });
  };

  view.append(
    h("form", { class: "card", id: "try-form", onsubmit },
      h("label", { for: "endpoint" }, "Endpoint"),
      h("select", { id: "endpoint", name: "endpoint", onchange: (e) => { location.hash = `#/try/${encodeURIComponent(e.target.value)}`; } },
        endpoints.map((e) => h("option", { value: e.name, selected: e.name === endpoint }, e.name))),
      isAudio ? audioFields(properties) : [
        h("label", { for: "inputs" }, "Inputs (a JSON object)"),
        h("textarea", { id: "inputs", name: "inputs", rows: 8, spellcheck: false, value: EXAMPLE }),
      ],
      problem,
      submit),
    panel,
  );
}
