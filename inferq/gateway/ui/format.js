// Times, durations and sizes as people read them.

const clock = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** An ISO timestamp of the API in the browser's time zone, or null. */
export function when(iso) {
  return iso ? clock.format(new Date(iso)) : null;
}

/** Seconds between two ISO timestamps, or null when either is missing. */
export function between(startIso, endIso) {
  return startIso && endIso ? (Date.parse(endIso) - Date.parse(startIso)) / 1000 : null;
}

/** A duration in seconds: "420 ms", "4.20 s", "12.3 s", "4 min 05 s", "2 h 03 min". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return null;
  const s = Math.max(0, seconds);
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(Math.floor(s % 60)).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/** A byte count: "812 B", "61.2 kB", "3.4 MB". */
export function size(bytes) {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** Longest string shown whole in a JSON view; longer ones (base64 audio) are summarised. */
const LONGEST_SHOWN = 240;

/** `value` with every string longer than LONGEST_SHOWN cut to its start and its length. */
export function shorten(value) {
  if (typeof value === "string" && value.length > LONGEST_SHOWN) {
    return `${value.slice(0, 60)}… (${value.length.toLocaleString("en")} characters)`;
  }
  if (Array.isArray(value)) return value.map(shorten);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shorten(v)]));
  }
  return value;
}

/** JSON for reading: indented, long strings summarised. */
export function pretty(value) {
  return JSON.stringify(shorten(value), null, 2);
}
