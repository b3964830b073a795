// Appeal materials from the widget: images and PDFs to POST /widget/materials.
//
// The session proof is the transcript's (session_id and secret from the widget's stored
// session, same server origin, no cookies); files go one at a time, in the order given,
// each shown as the merchant's own bubble (name, size, a local thumbnail) with its state.
// The server is the authority: it sniffs the type, checks the size and the appeal, and
// its `message` (Chinese) becomes the assistant's reply. The checks here only spare the
// merchant an upload that cannot succeed. Nothing is lost silently: a network failure
// keeps the file with a retry button.
import { formatTime } from "./text.js";

export const UPLOAD_TEXT = {
  attach: "发送图片或PDF",
  accept: "image/jpeg,image/png,image/webp,application/pdf",
  drop: "松开即可发送图片或PDF",
  queued: "等待上传",
  uploading: "上传中…",
  sent: "已发送",
  refused: "未通过",
  failed: "上传失败",
  retry: "重试",
  pasted: "粘贴的图片",
  tooLarge: (name, size, max) =>
    `「${name}」有 ${size}，单个文件最多 ${max}。可以压缩一下或截图后再发。`,
  wrongType: (name) =>
    `「${name}」不是图片或PDF。只支持 JPG、PNG、WebP 图片或 PDF 文件，请换成这几种格式再发。`,
  proxyTooLarge: (name) => `「${name}」太大了，没能发出去。可以压缩一下或截图后再发。`,
  empty: (name) => `「${name}」是空文件，请重新选择文件再发。`,
  network: (name) => `网络不太好，「${name}」没有发出去。网络恢复后请点“重试”再发一次。`,
  expired: "这个对话已失效，请刷新页面后再发文件。",
  fallback: "文件暂时没能上传，请稍后再发一次。着急的话可以拨打微信支付客服 95017。",
};

const TYPES = new Set(UPLOAD_TEXT.accept.split(","));
// Some systems give no type for a file: then its name decides (the server sniffs anyway).
const EXTENSIONS = /\.(jpe?g|png|webp|pdf)$/i;
// Worth sending again as it is: too fast, the server or its storage briefly down.
const RETRYABLE = new Set([429, 502, 503, 504]);

/** "980 B", "12 KB", "3.4 MB". */
export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  const mb = bytes / (1024 * 1024);
  return `${mb < 10 ? mb.toFixed(1).replace(/\.0$/, "") : Math.round(mb)} MB`;
}

function node(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text != null) element.textContent = text;
  return element;
}

let counter = 0;

export class Uploads {
  constructor(widget) {
    this.widget = widget;
    this.busy = false;
  }

  /** Takes files from the picker, a drop or a paste: refused at once, or queued. */
  add(files) {
    const widget = this.widget;
    for (const file of files) {
      const name = file.name || UPLOAD_TEXT.pasted;
      const problem = this.check(file, name);
      if (problem) {
        widget.notice(problem);
        continue;
      }
      counter += 1;
      widget.append({
        kind: "file", key: `f:${Date.now()}:${counter}`, file, name, size: file.size,
        thumb: file.type.startsWith("image/") ? URL.createObjectURL(file) : null,
        ts: Date.now() / 1000, status: "queued",
      });
    }
    this.next();
  }

  check(file, name) {
    const max = this.widget.config.max_file_bytes;
    if (!(file.type ? TYPES.has(file.type) : EXTENSIONS.test(name))) {
      return UPLOAD_TEXT.wrongType(name);
    }
    if (file.size > max) return UPLOAD_TEXT.tooLarge(name, formatSize(file.size), formatSize(max));
    if (!file.size) return UPLOAD_TEXT.empty(name);
    return "";
  }

  pending() {
    return this.widget.entries.filter((e) => e.kind === "file"
      && (e.status === "queued" || e.status === "uploading"));
  }

  /** The attach button is off while files wait or go out. */
  updateButton() {
    const busy = this.pending().length > 0;
    this.widget.attachButton.disabled = busy;
    this.widget.fileInput.disabled = busy;
    this.widget.attachButton.setAttribute("aria-busy", String(busy));
  }

  /** Sends the next queued file once the session is confirmed (one at a time). */
  async next() {
    const widget = this.widget;
    this.updateButton();
    if (this.busy || !widget.confirmed || !widget.session.session_id) return;
    const entry = widget.entries.find((e) => e.kind === "file" && e.status === "queued");
    if (!entry) return;
    this.busy = true;
    widget.setStatus(entry, "uploading");
    let result;
    try {
      result = await this.send(entry);
    } finally {
      this.busy = false;
    }
    widget.setStatus(entry, result.status);
    if (result.notice) widget.notice(result.text);
    else this.reply(result.text);
    this.next();
  }

  async send(entry) {
    const { server, session } = this.widget;
    const form = new FormData();
    form.append("session_id", session.session_id);
    form.append("secret", session.secret);
    form.append("file", entry.file, entry.name);
    let response;
    try {
      // multipart/form-data keeps it a simple request, like the transcript: no preflight.
      response = await fetch(`${server}/widget/materials`, {
        method: "POST", body: form, credentials: "omit", cache: "no-store",
      });
    } catch (_) {
      return { status: "failed", notice: true, text: UPLOAD_TEXT.network(entry.name) };
    }
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      // Not JSON (a proxy's error page): never shown.
    }
    const message = body && typeof body.message === "string" ? body.message.trim() : "";
    if (response.ok && body && (body.status === "accepted" || body.status === "quarantined")) {
      return { status: "sent", text: message || UPLOAD_TEXT.sent };
    }
    if (RETRYABLE.has(response.status)) {
      return { status: "failed", text: message || UPLOAD_TEXT.fallback };
    }
    if (response.status === 413 && !message) {
      // A proxy's body limit, before the server saw the file (its limit is unknown here).
      return { status: "refused", text: UPLOAD_TEXT.proxyTooLarge(entry.name) };
    }
    if (response.status === 403) return { status: "refused", text: UPLOAD_TEXT.expired };
    return { status: "refused", text: message || UPLOAD_TEXT.fallback };
  }

  /** The server's answer, shown as the assistant's reply: right below its file, above
   * the files still waiting (as answers to text messages are). */
  reply(text) {
    const widget = this.widget;
    const queued = widget.entries.find((e) => e.kind === "file" && e.status === "queued");
    widget.append({ kind: "bot", key: null, text, buttons: [], ts: Date.now() / 1000 },
      queued);
    if (!widget.isOpen) {
      widget.unread += 1;
      widget.updateBadge();
    }
  }

  retry(entry) {
    entry.status = "queued";
    this.widget.updateMeta(entry);
    this.next();
  }

  /** The meta line of a file bubble: time, state, a retry button after a failure. */
  meta(entry) {
    const parts = [];
    if (entry.ts) parts.push(node("time", "", formatTime(entry.ts)));
    const label = UPLOAD_TEXT[entry.status];
    const bad = entry.status === "failed" || entry.status === "refused";
    if (label) parts.push(node("span", bad ? "status failed" : "status", label));
    if (entry.status === "failed") {
      const retry = node("button", "retry", UPLOAD_TEXT.retry);
      retry.type = "button";
      retry.setAttribute("aria-label", `${UPLOAD_TEXT.retry}：${entry.name.slice(0, 20)}`);
      retry.addEventListener("click", () => this.retry(entry));
      parts.push(retry);
    }
    return parts;
  }
}
