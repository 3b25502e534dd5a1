// What the try form submitted, summarised and kept in this tab: the API has no route that
// returns a request's inputs, so a request page can only show those sent from here.

import { shorten, size } from "./format.js";

const PREFIX = "inferq.inputs.";

/** The inputs as a request page shows them: an uploaded file by its name, type and size
 *  instead of its base64, every other long string cut short. */
export function summarise(inputs, file = null, fileField = null) {
  const summary = shorten(inputs);
  if (file && fileField) summary[fileField] = `${file.name} (${file.type || "unknown type"}, ${size(file.size)})`;
  return summary;
}

export function remember(responseId, summary) {
  sessionStorage.setItem(PREFIX + responseId, JSON.stringify(summary));
}

/** The summary remembered for `responseId`, or null when it was not submitted from this tab. */
export function recall(responseId) {
  const raw = sessionStorage.getItem(PREFIX + responseId);
  return raw ? JSON.parse(raw) : null;
}
