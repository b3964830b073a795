// Message text → DOM nodes, never HTML: every piece of text becomes a text node, and
// only http(s) URLs found by pattern become links. Line breaks are kept by CSS
// (white-space: pre-wrap).

// Stops at whitespace, quotes, angle brackets and Chinese punctuation.
const URL_PATTERN = /https?:\/\/[^\s<>"'`，。！？；：、（）【】《》“”‘’]+/g;
// Punctuation that ends a sentence rather than the URL.
const TRAILING = /[.,;:!?)\]}]+$/;

/** Splits text into plain parts and URL parts: [{text}, {url}]. */
export function splitLinks(text) {
  const parts = [];
  let last = 0;
  for (const match of String(text).matchAll(URL_PATTERN)) {
    let url = match[0];
    const trailing = url.match(TRAILING);
    if (trailing) url = url.slice(0, -trailing[0].length);
    if (url.length <= "https://".length) continue;
    if (match.index > last) parts.push({ text: text.slice(last, match.index) });
    parts.push({ url });
    last = match.index + url.length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}

/** Fills `element` with `text` as text nodes and <a> links (textContent only). */
export function renderText(element, text) {
  element.replaceChildren();
  for (const part of splitLinks(String(text ?? ""))) {
    if (part.url) {
      const link = document.createElement("a");
      link.href = part.url;
      link.textContent = part.url;
      link.target = "_blank";
      link.rel = "noopener noreferrer nofollow";
      element.append(link);
    } else {
      element.append(document.createTextNode(part.text));
    }
  }
}

/** "14:05" today, "11月3日 14:05" on other days. */
export function formatTime(seconds, now = new Date()) {
  const date = new Date(seconds * 1000);
  const hh = String(date.getHours()).padStart(2, "0");
  const mm = String(date.getMinutes()).padStart(2, "0");
  const sameDay = date.toDateString() === now.toDateString();
  return sameDay ? `${hh}:${mm}` : `${date.getMonth() + 1}月${date.getDate()}日 ${hh}:${mm}`;
}
