// Merchant support chat widget: one script tag, socket.io, Shadow DOM.
//
//   <script src="https://HOST/widget/widget.js" data-server="https://HOST" defer></script>
//
// Every message (bot, agent, merchant) is rendered with text nodes only (text.js); the
// session lives in local storage (a random secret; the server derives the session id
// from it), survives reloads and is shared by tabs; unsent messages are queued with a
// client message id and resent after a reconnect, and the server processes each id once.
// Files (images, PDF) for the merchant's open appeal go to POST /widget/materials with
// the same session proof as the transcript, one at a time (upload.js).
import { io } from "socket.io-client";
import css from "./widget.css";
import { formatTime, renderText } from "./text.js";
import { UPLOAD_TEXT, Uploads, formatSize } from "./upload.js";

const STORAGE_KEY = "msa-chat-widget:v1";
const ACK_TIMEOUT_MS = 10000;
const TYPING_MAX_MS = 30000;
const DEFAULT_CONFIG = {
  welcome: "你好，我是收款账户助手。收款被限制、风控、冻结都可以问我，也可以直接点下面的问题。",
  topics: [],
  max_message_chars: 500,
  // The server's own limit when its widget_config says it; the documented default else.
  max_file_bytes: 10 * 1024 * 1024,
};
const REASONS = {
  too_long: (max) => `这条消息太长了，请控制在 ${max} 字以内再发送。`,
  empty: () => "消息是空的，请输入内容后再发送。",
  rate_limited: () => "发得有点快，请稍等一会儿再点“重试”。",
};
const TEXT = {
  launcher: "在线客服",
  open: "打开在线客服",
  title: "收款账户助手",
  subtitle: "智能助手自动回复 · 收款限制、冻结、申诉",
  agentSubtitle: "人工客服 · 正在为你服务",
  assistant: "智能助手",
  agent: (name) => (name ? `客服${name}` : "人工客服"),
  close: "关闭对话",
  offline: "网络连接已断开，正在重新连接…",
  connecting: "正在连接客服…",
  placeholder: "请输入你的问题",
  send: "发送",
  sending: "发送中…",
  failed: "发送失败",
  retry: "重试",
  typing: (who) => `${who}正在输入`,
  input: "输入消息",
  log: "对话记录",
  unread: (n) => `${n} 条未读消息`,
  handoffClosed: "人工客服已结束会话，之后由智能助手回复。",
};

// Rasa stores events the merchant never typed as user messages (trigger_intent's
// "EXTERNAL: <intent>", bare "/intent" payloads): never shown as the merchant's bubble.
const EXTERNAL_PREFIX = "EXTERNAL: ";
const SYSTEM_LINES = { handoff_closed: TEXT.handoffClosed };

/** The notice for a history message the merchant did not write; "" to leave it out;
 * null for the merchant's own message. */
function systemNotice(message) {
  if (message.type === "system") return String(message.text || "");
  if (message.type !== "user") return null;
  if (message.text.startsWith(EXTERNAL_PREFIX)) {
    return SYSTEM_LINES[message.text.slice(EXTERNAL_PREFIX.length).trim()] || "";
  }
  return message.text.startsWith("/") ? "" : null;
}

/** The entry for a message from the server (live or history), or null to leave it out.
 * ``keyed``: the message has the tracker's timestamp (it may come twice). */
function historyEntry(m, keyed) {
  const notice = systemNotice(m);
  const key = keyed ? `b:${m.ts}:${m.text || ""}` : null;
  if (notice !== null) {
    if (!notice) return null;
    return { kind: "notice", key: m.type === "system" ? key : `s:${m.ts}`, text: notice,
      ts: m.ts };
  }
  if (m.type === "user") {
    const userKey = m.message_id ? `u:${m.message_id}` : `u:ts:${m.ts}`;
    return { kind: "user", key: userKey, id: m.message_id, text: m.text, ts: m.ts,
      status: "sent" };
  }
  const buttons = Array.isArray(m.buttons) ? m.buttons : [];
  if (m.type === "agent") {
    return { kind: "agent", key, agent: typeof m.agent === "string" ? m.agent : "",
      text: m.text || "", buttons, ts: m.ts };
  }
  return { kind: "bot", key, text: m.text || "", buttons, ts: m.ts };
}

/** Who answers after message ``m`` (an agent's name, or null for the assistant). */
function answeringAfter(m, current) {
  const name = typeof m.agent === "string" ? m.agent : "";
  if (m.type === "system" && m.notice === "closed") return null;
  if (m.type === "system" && (m.notice === "claimed" || m.notice === "transferred")) {
    return name || (typeof current === "string" ? current : "");
  }
  if (m.type === "agent") return name || (typeof current === "string" ? current : "");
  return current;
}

function randomToken(bytes = 32) {
  const data = new Uint8Array(bytes);
  crypto.getRandomValues(data);
  let binary = "";
  for (const b of data) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

class SessionStore {
  constructor() {
    this.memory = null;
  }

  load() {
    try {
      const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
      if (saved && typeof saved.secret === "string") return saved;
    } catch (_) {
      // Storage blocked (private mode, sandboxed frame): keep it for this page only.
    }
    return this.memory || this.renew();
  }

  save(session) {
    this.memory = session;
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify(session));
    } catch (_) {
      /* in memory only */
    }
  }

  renew() {
    const session = { secret: randomToken(), session_id: null };
    this.save(session);
    return session;
  }
}

function findScript() {
  if (document.currentScript) return document.currentScript;
  const scripts = document.querySelectorAll("script[src]");
  for (const script of scripts) if (/\/widget\.js(\?|$)/.test(script.src)) return script;
  return null;
}

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value == null) continue;
    if (name === "text") node.textContent = value;
    else if (name === "className") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children);
  return node;
}

function icon(d, attrs = {}) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", d);
  for (const [name, value] of Object.entries(attrs)) path.setAttribute(name, value);
  svg.append(path);
  return svg;
}

const CHAT_ICON =
  "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z";
const CLIP_ICON = "M21 11.5l-8.6 8.6a5 5 0 0 1-7.1-7.1l8.6-8.6a3.3 3.3 0 0 1 4.7 4.7l-8.6 "
  + "8.6a1.7 1.7 0 0 1-2.4-2.4l7.9-7.9";

class ChatWidget {
  constructor(script) {
    const scriptUrl = script && script.src ? new URL(script.src, location.href) : null;
    const server = (script && script.dataset.server) || (scriptUrl ? scriptUrl.origin : "");
    this.server = (server || location.origin).replace(/\/+$/, "");
    this.title = (script && script.dataset.title) || TEXT.title;
    this.config = { ...DEFAULT_CONFIG };
    this.store = new SessionStore();
    this.session = this.store.load();
    this.entries = [];
    this.keys = new Set();
    this.processing = new Map();
    this.unread = 0;
    this.confirmed = false;
    this.sending = false;
    this.sendEpoch = 0;
    this.rejections = 0;
    this.answering = null;
    this.uploads = new Uploads(this);
    this.buildDom();
    this.addWelcome();
    this.connect();
    if (script && script.dataset.open === "true") this.open();
  }

  // --- DOM -------------------------------------------------------------------------
  buildDom() {
    this.host = el("div", { id: "msa-chat-widget" });
    const root = this.host.attachShadow({ mode: "open" });
    this.root = root;
    root.append(el("style", { text: css }));

    const svg = icon(CHAT_ICON, { fill: "currentColor" });
    this.badge = el("span", { className: "badge", hidden: true, "aria-hidden": "true" });
    this.launcher = el("button", { type: "button", className: "launcher",
      "aria-label": TEXT.open, "aria-haspopup": "dialog" },
    [svg, el("span", { text: TEXT.launcher }), this.badge]);
    this.launcher.addEventListener("click", () => this.open());

    const close = el("button", { type: "button", className: "close", "aria-label": TEXT.close,
      title: TEXT.close, text: "×" });
    close.addEventListener("click", () => this.close());
    this.avatar = el("div", { className: "avatar", "aria-hidden": "true", text: "助" });
    this.heading = el("h2", { text: this.title });
    this.subtitle = el("p", { text: TEXT.subtitle });
    this.header = el("div", { className: "header" }, [
      this.avatar,
      el("div", { className: "titles" }, [this.heading, this.subtitle]),
      close,
    ]);
    this.banner = el("div", { className: "banner", role: "status", hidden: true });
    this.list = el("div", { className: "messages", role: "log", "aria-live": "polite",
      "aria-label": TEXT.log, tabindex: "-1" });
    this.typingLabel = el("span", { className: "typing-label",
      text: TEXT.typing(TEXT.assistant) });
    this.typing = el("div", { className: "typing", hidden: true, role: "status" }, [
      el("span", { className: "dots", "aria-hidden": "true" },
        [el("span"), el("span"), el("span")]),
      this.typingLabel,
    ]);

    this.input = el("textarea", { rows: "1", "aria-label": TEXT.input,
      placeholder: TEXT.placeholder, maxlength: String(this.config.max_message_chars) });
    this.counter = el("span", { className: "counter", "aria-live": "off" });
    this.sendButton = el("button", { type: "submit", className: "send", text: TEXT.send,
      disabled: true });
    this.fileInput = el("input", { type: "file", hidden: true, multiple: true,
      accept: UPLOAD_TEXT.accept, tabindex: "-1", "aria-hidden": "true" });
    this.fileInput.addEventListener("change", () => {
      const files = [...this.fileInput.files];
      this.fileInput.value = ""; // the same file can be chosen again
      this.uploads.add(files);
    });
    this.attachButton = el("button", { type: "button", className: "attach",
      "aria-label": UPLOAD_TEXT.attach, title: UPLOAD_TEXT.attach },
    [icon(CLIP_ICON, { fill: "none", stroke: "currentColor", "stroke-width": "2",
      "stroke-linecap": "round", "stroke-linejoin": "round" })]);
    this.attachButton.addEventListener("click", () => this.fileInput.click());
    const form = el("form", { className: "composer" }, [
      this.attachButton,
      this.fileInput,
      el("div", { className: "field" }, [this.input, this.counter]),
      this.sendButton,
    ]);
    this.input.addEventListener("paste", (event) => {
      const files = [...((event.clipboardData && event.clipboardData.files) || [])];
      if (!files.length) return; // text: pasted as usual
      event.preventDefault();
      this.uploads.add(files);
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submitInput();
    });
    this.input.addEventListener("keydown", (event) => {
      // Never send in the middle of a Chinese input method composition.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submitInput();
      }
    });
    this.input.addEventListener("input", () => this.updateCounter());

    this.dropHint = el("div", { className: "drop-hint", "aria-hidden": "true",
      text: UPLOAD_TEXT.drop });
    this.panel = el("section", { className: "panel", role: "dialog",
      "aria-label": this.title, hidden: true }, [this.header, this.banner, this.list,
      this.typing, form, this.dropHint]);
    this.listenForDrops();
    this.panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.close();
    });
    root.append(this.launcher, this.panel);
    document.body.append(this.host);
    this.updateCounter();
  }

  listenForDrops() {
    const hasFiles = (event) => event.dataTransfer
      && [...event.dataTransfer.types].includes("Files");
    let depth = 0;
    const show = (on) => this.panel.classList.toggle("dragging", on);
    this.panel.addEventListener("dragenter", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      depth += 1;
      show(true);
    });
    this.panel.addEventListener("dragover", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    });
    this.panel.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (!depth) show(false);
    });
    this.panel.addEventListener("drop", (event) => {
      depth = 0;
      show(false);
      if (!hasFiles(event)) return;
      event.preventDefault();
      this.uploads.add([...event.dataTransfer.files]);
    });
  }

  open() {
    this.panel.hidden = false;
    this.launcher.hidden = true;
    this.host.classList.add("open");
    this.unread = 0;
    this.updateBadge();
    this.scrollToEnd();
    this.input.focus();
  }

  close() {
    this.panel.hidden = true;
    this.launcher.hidden = false;
    this.host.classList.remove("open");
    this.launcher.focus();
  }

  get isOpen() {
    return !this.panel.hidden;
  }

  updateBadge() {
    this.badge.hidden = this.unread === 0;
    this.badge.textContent = this.unread > 99 ? "99+" : String(this.unread);
    this.launcher.setAttribute("aria-label",
      this.unread ? `${TEXT.open}（${TEXT.unread(this.unread)}）` : TEXT.open);
  }

  updateCounter() {
    const max = this.config.max_message_chars;
    const length = this.input.value.length;
    this.counter.textContent = `${length}/${max}`;
    this.counter.classList.toggle("near", length >= max * 0.9);
    this.sendButton.disabled = this.input.value.trim().length === 0;
  }

  showBanner(text) {
    this.banner.textContent = text;
    this.banner.hidden = false;
  }

  hideBanner() {
    this.banner.hidden = true;
  }

  scrollToEnd() {
    this.list.scrollTop = this.list.scrollHeight;
  }

  updateTyping() {
    const now = Date.now();
    for (const [id, since] of this.processing) {
      if (now - since > TYPING_MAX_MS) this.processing.delete(id);
    }
    this.typing.hidden = this.processing.size === 0;
    clearTimeout(this.typingTimer);
    if (this.processing.size) this.typingTimer = setTimeout(() => this.updateTyping(), 5000);
    else this.flush();
  }

  /** Who answers now: an agent's name ("" for an agent whose name is unknown), or null
   * for the assistant. The header and the typing indicator say it. */
  setAnswering(agent) {
    const person = typeof agent === "string";
    this.answering = person ? agent : null;
    const who = person ? TEXT.agent(agent) : TEXT.assistant;
    this.heading.textContent = person ? who : this.title;
    this.subtitle.textContent = person ? TEXT.agentSubtitle : TEXT.subtitle;
    this.avatar.textContent = person ? "客" : "助";
    this.header.classList.toggle("agent", person);
    this.typingLabel.textContent = TEXT.typing(who);
  }

  // --- entries -----------------------------------------------------------------------
  addWelcome() {
    const entry = { kind: "bot", key: "welcome", text: this.config.welcome,
      buttons: this.config.topics, ts: null };
    this.append(entry);
  }

  renderEntry(entry) {
    if (entry.kind === "file") return this.renderFile(entry);
    if (entry.kind === "notice") {
      entry.el = el("div", { className: "notice", role: "note" });
      renderText(entry.el, entry.text);
      return entry.el;
    }
    const bubble = el("div", { className: "bubble" });
    renderText(bubble, entry.text);
    const node = el("div", { className: `msg ${entry.kind}` }, [bubble]);
    if (entry.kind === "agent") {
      // A person wrote it: their name above the bubble (text only, like every message).
      node.prepend(el("div", { className: "sender", text: TEXT.agent(entry.agent) }));
    }
    if (entry.buttons && entry.buttons.length) {
      const row = el("div", { className: "quick-replies", role: "group" });
      for (const button of entry.buttons) {
        const quick = el("button", { type: "button", text: button.title });
        quick.addEventListener("click", () => this.choose(entry, button, quick));
        row.append(quick);
      }
      entry.row = row;
      node.append(row);
    }
    entry.meta = el("div", { className: "meta" });
    node.append(entry.meta);
    entry.el = node;
    this.updateMeta(entry);
    return node;
  }

  /** The merchant's own file: a thumbnail for images, the name and size (text only). */
  renderFile(entry) {
    const parts = [];
    if (entry.thumb) {
      parts.push(el("img", { className: "thumb", src: entry.thumb, alt: "" }));
    } else {
      parts.push(el("span", { className: "doc", "aria-hidden": "true", text: "PDF" }));
    }
    parts.push(el("span", { className: "file-text" }, [
      el("span", { className: "file-name", text: entry.name, title: entry.name }),
      el("span", { className: "file-size", text: formatSize(entry.size) }),
    ]));
    const bubble = el("div", { className: "bubble file" }, parts);
    entry.meta = el("div", { className: "meta" });
    entry.el = el("div", { className: "msg user upload" }, [bubble, entry.meta]);
    this.updateMeta(entry);
    return entry.el;
  }

  updateMeta(entry) {
    if (!entry.meta) return;
    if (entry.kind === "file") {
      entry.meta.replaceChildren(...this.uploads.meta(entry));
      entry.meta.hidden = false;
      return;
    }
    const parts = [];
    if (entry.ts) parts.push(el("time", { text: formatTime(entry.ts) }));
    if (entry.status === "sending") {
      parts.push(el("span", { className: "status", text: TEXT.sending }));
    } else if (entry.status === "failed") {
      parts.push(el("span", { className: "status failed", text: TEXT.failed }));
      const retry = el("button", { type: "button", className: "retry", text: TEXT.retry,
        "aria-label": `${TEXT.retry}：${entry.text.slice(0, 20)}` });
      retry.addEventListener("click", () => this.retry(entry));
      parts.push(retry);
    }
    entry.meta.replaceChildren(...parts);
    entry.meta.hidden = parts.length === 0;
  }

  append(entry, before = null) {
    if (entry.key && this.keys.has(entry.key)) return false;
    if (entry.key) this.keys.add(entry.key);
    entry.receivedAt = Date.now();
    const nearBottom =
      this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 80;
    const node = this.renderEntry(entry);
    if (before && before.el && before.el.parentNode === this.list) {
      this.entries.splice(this.entries.indexOf(before), 0, entry);
      this.list.insertBefore(node, before.el);
    } else {
      this.entries.push(entry);
      this.list.append(node);
    }
    if (nearBottom || entry.kind === "user") this.scrollToEnd();
    return true;
  }

  setRowsEnabled() {
    // Only the buttons after the merchant's last message can still be chosen.
    let lastUser = -1;
    this.entries.forEach((entry, index) => {
      if (entry.kind === "user") lastUser = index;
    });
    this.entries.forEach((entry, index) => {
      if (!entry.row) return;
      const enabled = index > lastUser && !entry.chosen;
      for (const button of entry.row.querySelectorAll("button")) button.disabled = !enabled;
    });
  }

  notice(text) {
    this.append({ kind: "notice", text });
  }

  // --- sending -----------------------------------------------------------------------
  submitInput() {
    const text = this.input.value.trim();
    if (!text) return;
    if (text.length > this.config.max_message_chars) {
      this.notice(REASONS.too_long(this.config.max_message_chars));
      return;
    }
    this.input.value = "";
    this.updateCounter();
    this.send(text, text);
  }

  choose(entry, button, node) {
    if (node.disabled) return;
    entry.chosen = true;
    node.classList.add("chosen");
    this.send(button.payload, button.title);
    this.input.focus();
  }

  send(payload, display) {
    const id = randomToken(16);
    const entry = { kind: "user", key: `u:${id}`, id, text: display, payload,
      display: display !== payload ? display : undefined, ts: Date.now() / 1000,
      status: "sending", local: true };
    this.append(entry);
    this.setRowsEnabled();
    this.flush();
  }

  retry(entry) {
    entry.status = "sending";
    this.updateMeta(entry);
    this.flush();
  }

  setStatus(entry, status) {
    entry.status = status;
    this.updateMeta(entry);
  }

  flush() {
    // One turn at a time: the next message goes out when the bot has answered the last,
    // so answers stay above the messages typed while the bot was still replying.
    if (this.sending || !this.confirmed || this.processing.size) return;
    const entry = this.entries.find((e) => e.kind === "user" && e.local
      && e.status === "sending");
    if (!entry) return;
    this.sending = true;
    entry.emitted = true;
    const epoch = this.sendEpoch;
    const data = { message: entry.payload, message_id: entry.id,
      session_id: this.session.session_id };
    if (entry.display) data.display = entry.display;
    this.socket.timeout(ACK_TIMEOUT_MS).emit("user_uttered", data, (error, ack) => {
      if (epoch !== this.sendEpoch) return; // the connection dropped meanwhile
      this.sending = false;
      if (error) {
        // No answer: failed if we are still connected, otherwise resent after reconnect.
        if (this.socket.connected) this.setStatus(entry, "failed");
      } else if (ack && (ack.status === "ok" || ack.status === "duplicate")) {
        this.setStatus(entry, "sent");
        entry.local = false;
        if (ack.status === "ok") this.processing.set(entry.id, Date.now());
        this.updateTyping();
      } else if (ack && ack.reason === "no_session") {
        this.confirmed = false;
        this.requestSession();
        return;
      } else {
        this.setStatus(entry, "failed");
        const reason = REASONS[ack && ack.reason];
        if (reason) this.notice(reason(ack.max || this.config.max_message_chars));
      }
      this.flush();
    });
  }

  // --- receiving ---------------------------------------------------------------------
  receiveBot(message) {
    if (!message || (typeof message.text !== "string" && !message.buttons)) return;
    if (message.type === "user") return; // the server's messages only
    const ts = typeof message.ts === "number" ? message.ts : Date.now() / 1000;
    const entry = historyEntry({ ...message, ts }, typeof message.ts === "number");
    if (!entry) return;
    const answering = answeringAfter(message, this.answering);
    if (answering !== this.answering) this.setAnswering(answering);
    // Messages still waiting to go out were typed after this answer was due.
    const queued = this.entries.find((e) => e.kind === "user" && e.local
      && e.status === "sending" && !e.emitted);
    if (!this.append(entry, queued)) return;
    this.setRowsEnabled();
    if (!this.isOpen) {
      this.unread += 1;
      this.updateBadge();
    }
  }

  receiveEcho(message) {
    if (!message || typeof message.text !== "string") return;
    this.append({ kind: "user", key: `u:${message.message_id}`, id: message.message_id,
      text: message.text, ts: Date.now() / 1000, status: "sent" });
    this.setRowsEnabled();
  }

  // --- connection --------------------------------------------------------------------
  connect() {
    this.socket = io(this.server, {
      path: "/socket.io",
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
      randomizationFactor: 0.3,
      timeout: 8000,
    });
    const socket = this.socket;
    socket.on("connect", () => this.requestSession());
    socket.on("widget_config", (config) => this.applyConfig(config));
    socket.on("session_confirm", (sessionId) => this.onConfirm(sessionId));
    socket.on("session_rejected", () => {
      // Our stored session is not valid (anymore): start a fresh one.
      this.rejections += 1;
      if (this.rejections > 3) return;
      this.session = this.store.renew();
      this.requestSession();
    });
    socket.on("bot_uttered", (message) => this.receiveBot(message));
    socket.on("user_echo", (message) => this.receiveEcho(message));
    socket.on("message_processed", (data) => {
      if (data) this.processing.delete(data.message_id);
      this.updateTyping();
    });
    socket.on("message_failed", (data) => {
      const entry = data && this.entries.find((e) => e.id === data.message_id);
      if (data) this.processing.delete(data.message_id);
      this.updateTyping();
      if (entry && entry.status !== "failed") {
        entry.local = true;
        this.setStatus(entry, "failed");
        if (typeof data.text === "string") this.notice(data.text);
      }
    });
    socket.on("disconnect", () => this.onDisconnect());
    socket.on("connect_error", () => {
      if (!this.confirmed) this.showBanner(this.everConnected ? TEXT.offline : TEXT.connecting);
    });
    window.addEventListener("offline", () => {
      // Don't wait for the heartbeat to notice: reconnect as soon as we are back.
      this.showBanner(TEXT.offline);
      if (socket.connected) socket.io.engine.close();
    });
    window.addEventListener("online", () => {
      if (!socket.connected) socket.connect();
    });
  }

  requestSession() {
    this.socket.emit("session_request", {
      secret: this.session.secret,
      session_id: this.session.session_id || undefined,
    });
  }

  applyConfig(config) {
    if (!config || typeof config !== "object") return;
    if (typeof config.welcome === "string" && config.welcome) this.config.welcome = config.welcome;
    if (Array.isArray(config.topics)) this.config.topics = config.topics;
    if (Number.isInteger(config.max_file_bytes) && config.max_file_bytes > 0) {
      this.config.max_file_bytes = config.max_file_bytes;
    }
    if (Number.isInteger(config.max_message_chars)) {
      this.config.max_message_chars = config.max_message_chars;
      this.input.setAttribute("maxlength", String(config.max_message_chars));
    }
    const welcome = this.entries.find((e) => e.key === "welcome");
    if (welcome) {
      welcome.text = this.config.welcome;
      welcome.buttons = this.config.topics;
      const old = welcome.el;
      old.replaceWith(this.renderEntry(welcome));
      this.setRowsEnabled();
    }
    this.updateCounter();
  }

  async onConfirm(sessionId) {
    if (sessionId !== this.session.session_id) {
      this.session = { ...this.session, session_id: sessionId };
      this.store.save(this.session);
    }
    this.confirmed = true;
    this.everConnected = true;
    this.rejections = 0;
    this.hideBanner();
    await this.loadTranscript();
    this.flush();
    this.uploads.next();
  }

  onDisconnect() {
    this.confirmed = false;
    this.sending = false;
    this.sendEpoch += 1;
    for (const entry of this.entries) if (entry.status === "sending") entry.emitted = false;
    this.showBanner(TEXT.offline);
  }

  async loadTranscript() {
    let data;
    try {
      const response = await fetch(`${this.server}/widget/transcript`, {
        method: "POST",
        // text/plain keeps this a simple request: no CORS preflight.
        headers: { "Content-Type": "text/plain;charset=UTF-8" },
        body: JSON.stringify({ secret: this.session.secret,
          session_id: this.session.session_id }),
        credentials: "omit",
        cache: "no-store",
      });
      if (!response.ok) return;
      data = await response.json();
    } catch (_) {
      return; // offline again: the next confirmation loads it
    }
    if (!data || !Array.isArray(data.messages)) return;
    this.mergeHistory(data.messages, typeof data.agent === "string" || data.agent === null
      ? data.agent : undefined);
  }

  mergeHistory(messages, agent) {
    const history = [];
    let answering = this.answering;
    for (const m of messages) {
      if (!m || typeof m.text !== "string") continue;
      const entry = historyEntry(m, true);
      if (entry) history.push(entry);
      answering = answeringAfter(m, answering);
    }
    // The server reads every event (the list may start later): its answer wins.
    this.setAnswering(agent === undefined ? answering : agent);
    const historyKeys = new Set(history.map((e) => e.key));
    const welcome = this.entries.find((e) => e.key === "welcome");
    // Kept after the history: messages not in the tracker (yet): unsent or in-flight
    // merchant messages, live messages of a turn still running, notices.
    const kept = this.entries.filter((e) => e !== welcome && !historyKeys.has(e.key));
    for (const e of this.entries) {
      // A message in the tracker was processed: its turn is over.
      if (e.id && historyKeys.has(e.key)) this.processing.delete(e.id);
    }
    this.updateTyping();
    this.entries = [];
    this.keys = new Set();
    this.list.replaceChildren();
    if (welcome) this.append(welcome);
    for (const entry of history) this.append(entry);
    for (const entry of kept) {
      delete entry.row;
      this.append(entry);
    }
    this.setRowsEnabled();
    this.scrollToEnd();
  }
}

function start() {
  if (window.__msaChatWidget) return;
  const script = findScript();
  const begin = () => {
    window.__msaChatWidget = new ChatWidget(script);
  };
  if (document.body) begin();
  else document.addEventListener("DOMContentLoaded", begin, { once: true });
}

start();
