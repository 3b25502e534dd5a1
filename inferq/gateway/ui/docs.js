// The API reference: /docs and /openapi.json need the token, so a browser cannot open them
// by URL; the dashboard fetches them with it. The reference is the server's own page, read
// with DOMParser (which runs no script) and shown here; the document is offered as a file.

import { api } from "./api.js";
import { h } from "./dom.js";

export async function docsView(view, { signal }) {
  const [page, document_] = await Promise.all([
    api("/docs", { signal, text: true }),
    api("/openapi.json", { signal, text: true }),
  ]);
  const reference = new DOMParser().parseFromString(page, "text/html").body;
  for (const link of reference.querySelectorAll("a")) link.remove(); // their targets need the token too
  const download = URL.createObjectURL(new Blob([document_], { type: "application/json" }));
  signal.addEventListener("abort", () => URL.revokeObjectURL(download), { once: true });
  view.append(
    h("h1", {}, "API"),
    h("p", { class: "muted" },
      "Every endpoint's inputs and an example call. The machine-readable form: ",
      h("a", { href: download, download: "openapi.json" }, "openapi.json"), "."),
    h("div", { class: "card docs" }, ...reference.children),
  );
}
