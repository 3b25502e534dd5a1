// The dashboard shell: sign-in, sign-out and the hash router (#/endpoints, #/requests,
// #/requests/<id>, #/try/<endpoint>, #/api), so it stays one page and the back button works.

import { api, token } from "./api.js";
import { docsView } from "./docs.js";
import { errorBox, fill, h } from "./dom.js";
import { endpointsView } from "./endpoints.js";
import { requestView } from "./request.js";
import { requestsView } from "./requests.js";
import { tryView } from "./try.js";

const view = document.getElementById("view");
const nav = document.getElementById("nav");
const signOut = document.getElementById("sign-out");
const signIn = document.getElementById("sign-in");
const signInForm = document.getElementById("sign-in-form");
const signInError = document.getElementById("sign-in-error");

/** Aborts the fetches and refresh loops of the view on screen when another replaces it. */
let leaving = new AbortController();

function render(section, rest, params, signal) {
  switch (section) {
    case "endpoints": return endpointsView(view, { signal });
    case "requests": return rest.length ? requestView(view, { id: rest[0], signal }) : requestsView(view, { params, signal });
    case "try": return tryView(view, { endpoint: rest[0], signal });
    case "api": return docsView(view, { signal });
    default: view.append(h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/endpoints" }, "Back to the endpoints")));
  }
}

function showSignIn(message) {
  nav.hidden = signOut.hidden = true;
  signIn.hidden = false;
  signInError.textContent = message ?? "";
  signInError.hidden = !message;
  signInForm.elements.token.focus();
}

function show() {
  leaving.abort();
  leaving = new AbortController();
  const signal = leaving.signal;
  fill(view);
  if (!token.get()) return showSignIn();
  signIn.hidden = true;
  nav.hidden = signOut.hidden = false;
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const [section = "endpoints", ...rest] = path.split("/").filter(Boolean).map(decodeURIComponent);
  for (const link of nav.querySelectorAll("a")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  Promise.resolve(render(section, rest, new URLSearchParams(query), signal)).catch((error) => {
    if (!signal.aborted) view.append(errorBox(error.message));
  });
}

signInForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const value = signInForm.elements.token.value.trim();
  try {
    await api("/v1/endpoints", { tokenValue: value });
  } catch (error) {
    return showSignIn(error.message);
  }
  token.set(value);
  signInForm.reset();
  show();
});

signOut.addEventListener("click", () => {
  sessionStorage.clear(); // the token and the inputs remembered in this tab
  show();
});

// A token revoked while the page is open: ask for another, saying why.
window.addEventListener("inferq:unauthorized", (event) => {
  token.clear();
  show();
  showSignIn(event.detail);
});

window.addEventListener("hashchange", show);
show();
