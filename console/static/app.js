// Agent console UI. Every text from the server is set with textContent, never as HTML.
"use strict";

const API = "/console/api";
const state = {
  me: null,
  csrf: "",
  maxChars: 600,
  queue: { waiting: [], tickets: [], mine: [], agents: [] },
  serverOffset: 0, // server clock minus browser clock, seconds
  current: null, // id of the open conversation
  view: null, // its last loaded view
  lines: new Map(), // transcript key -> element
  canned: [], // the team's active canned replies (console/canned.py)
  labels: [], // the 会话小结 labels offered at close (console/labels.py)
  knownWaiting: new Set(),
  stream: null,
  sending: false,
  history: { page: 0, filters: {}, items: [] },
};

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
  const response = await fetch(API + path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (!response.ok) {
    let detail = data && data.detail;
    // A refusal with problems: {"message", "problems"} (console/errors.py).
    if (detail && typeof detail === "object" && !Array.isArray(detail)) detail = detail.message;
    if (Array.isArray(detail)) detail = "输入的内容不符合要求";
    if (response.status === 401 && path !== "/login") showLogin();
    throw new ApiError(response.status, detail || `请求失败（${response.status}）`);
  }
  return data;
}

// --- time ----------------------------------------------------------------------------
const now = () => Date.now() / 1000 + state.serverOffset;

function duration(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  if (seconds < 60) return `${seconds}秒`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}分钟`;
  const hours = Math.floor(minutes / 60);
  return `${hours}小时${minutes % 60 ? `${minutes % 60}分` : ""}`;
}

function clock(ts) {
  if (!ts) return "";
  const d = new Date(ts * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  const today = new Date();
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return d.toDateString() === today.toDateString() ? time : `${d.getMonth() + 1}月${d.getDate()}日 ${time}`;
}

// --- alerts ----------------------------------------------------------------------------
let toastTimer = null;
function toast(text, kind) {
  const box = $("toast");
  box.textContent = text;
  box.className = `toast ${kind || ""}`;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, 5000);
}

let audio = null;
function beep() {
  try {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.2, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.6);
  } catch (_) { /* no audio device */ }
}

let titleTimer = null;
function alertNewWaiting(handoff) {
  beep();
  const bar = $("alert-bar");
  bar.textContent = `新的排队会话：${handoff ? handoff.problem || handoff.reason_label : ""}`;
  bar.hidden = false;
  if (!document.hasFocus()) {
    let on = false;
    clearInterval(titleTimer);
    titleTimer = setInterval(() => {
      on = !on;
      document.title = on ? "【新排队】商户客服工作台" : "商户客服工作台";
    }, 1000);
  }
}
$("alert-bar").addEventListener("click", () => { $("alert-bar").hidden = true; });
window.addEventListener("focus", () => {
  clearInterval(titleTimer);
  document.title = "商户客服工作台";
  // A supervisor may have changed the canned replies or labels meanwhile.
  if (state.me) loadTeamTools().catch(() => {});
});

// --- sign-in ---------------------------------------------------------------------------
function showLogin() {
  if (state.stream) { state.stream.close(); state.stream = null; }
  state.me = null;
  $("app-view").hidden = true;
  $("login-view").hidden = false;
  $("login-username").focus();
}

async function startApp() {
  const me = await api("GET", "/me");
  state.me = me.agent;
  state.csrf = me.csrf_token;
  state.maxChars = me.max_chars || 600;
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  $("me-name").textContent = state.me.name;
  $("presence").value = state.me.presence === "away" ? "away" : "online";
  renderHours(me.service_hours);
  $("team-link").hidden = !state.me.supervisor;
  await loadTeamTools();
  await loadQueue(true);
  loadHistory(false);
  connectStream();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = $("login-submit");
  button.disabled = true;
  $("login-error").textContent = "";
  try {
    const result = await api("POST", "/login", {
      username: $("login-username").value, password: $("login-password").value,
    });
    state.csrf = result.csrf_token;
    $("login-password").value = "";
    await startApp();
  } catch (error) {
    $("login-error").textContent = error.message;
  } finally {
    button.disabled = false;
  }
});

$("logout").addEventListener("click", async () => {
  try { await api("POST", "/logout"); } catch (_) { /* signed out anyway */ }
  state.current = null;
  showLogin();
});

$("presence").addEventListener("change", async (event) => {
  try {
    const result = await api("PUT", "/me/presence", { presence: event.target.value });
    state.me = result.agent;
    toast(event.target.value === "online" ? "已设为在线" : "已设为暂时离开");
  } catch (error) { toast(error.message, "error"); }
});

function renderHours(hours) {
  if (!hours) return;
  $("hours").textContent = `人工服务时间：${hours.describe}（${hours.open_now ? "服务中" : "非服务时间"}）`;
}

// --- queue ------------------------------------------------------------------------------
async function loadQueue(first) {
  const queue = await api("GET", "/queue");
  if (queue.server_time) state.serverOffset = queue.server_time - Date.now() / 1000;
  const fresh = queue.waiting.filter((h) => !state.knownWaiting.has(h.id));
  if (!first && fresh.length) alertNewWaiting(fresh[0]);
  state.knownWaiting = new Set(queue.waiting.map((h) => h.id));
  if (!queue.waiting.length) $("alert-bar").hidden = true;
  state.queue = queue;
  renderHours(queue.service_hours);
  renderQueue();
}

function card(handoff, kind) {
  const item = el("li", "card");
  item.dataset.handoffId = handoff.id;
  if (handoff.id === state.current) item.classList.add("selected");
  const top = el("div", "card-top");
  top.append(el("span", `tag ${handoff.channel}`, handoff.channel_label));
  top.append(el("span", "tag reason", handoff.reason_label));
  // The visitor closed the page (removed when they come back); why a ticket came from the queue.
  if (handoff.left_label) top.append(el("span", "tag left", handoff.left_label));
  else if (handoff.queue_end_label) top.append(el("span", "tag queue-end", handoff.queue_end_label));
  const timer = el("span", "wait");
  timer.dataset.since = kind === "mine" ? (handoff.claimed_at || handoff.queued_at) : handoff.queued_at;
  timer.dataset.prefix = kind === "mine" ? "已接入" : "等了";
  top.append(timer);
  item.append(top);
  item.append(el("div", "card-problem", handoff.problem || "（商户没有描述问题）"));
  const bottom = el("div", "card-bottom");
  bottom.append(el("span", "muted", handoff.merchant ? `商户号 ${handoff.merchant}` : "未核验身份"));
  if (kind !== "mine") {
    const claim = el("button", "primary small", "接入");
    claim.type = "button";
    claim.addEventListener("click", (event) => { event.stopPropagation(); claimHandoff(handoff.id); });
    bottom.append(claim);
  }
  item.append(bottom);
  item.addEventListener("click", () => openConversation(handoff.id));
  return item;
}

function renderList(id, countId, items, kind) {
  const list = $(id);
  list.replaceChildren(...items.map((h) => card(h, kind)));
  if (!items.length) list.append(el("li", "none", kind === "waiting" ? "没有排队的商户" : "暂无"));
  $(countId).textContent = kind === "mine" && state.me
    ? `${items.length}/${state.me.max_open}` : String(items.length);
}

function renderQueue() {
  const q = state.queue;
  renderList("waiting-list", "waiting-count", q.waiting, "waiting");
  renderList("mine-list", "mine-count", q.mine, "mine");
  renderList("ticket-list", "ticket-count", q.tickets, "ticket");
  const agents = $("agent-list");
  agents.replaceChildren(...q.agents.map((a) => {
    const item = el("li", `agent ${a.presence}`);
    item.append(el("span", "dot"));
    item.append(el("span", "agent-name", a.name));
    item.append(el("span", "muted", `${a.presence_label} · ${a.open}/${a.max_open}`));
    return item;
  }));
  if (!q.agents.length) agents.append(el("li", "none", "没有在线的客服"));
  tick();
  renderTransferTargets();
}

function tick() {
  for (const node of document.querySelectorAll(".wait")) {
    const since = Number(node.dataset.since);
    if (since) node.textContent = `${node.dataset.prefix}${duration(now() - since)}`;
  }
}
setInterval(tick, 1000);

async function claimHandoff(id) {
  try {
    const result = await api("POST", `/handoffs/${id}/claim`);
    toast(result.notice_error ? `已接入，但通知商户失败：${result.notice_error}` : "已接入，商户已收到通知",
      result.notice_error ? "error" : "");
    await loadQueue();
    await openConversation(id);
  } catch (error) {
    toast(error.message, "error");
    await loadQueue();
    if (state.current === id) await openConversation(id, null);
  }
}

// --- conversation -----------------------------------------------------------------------
function mine(view) {
  return view && view.handoff.status === "agent" && view.handoff.agent_id === state.me.id;
}

function leaveConversation(message) {
  state.current = null;
  state.view = null;
  $("conversation-body").hidden = true;
  $("details").hidden = true;
  $("empty-state").hidden = false;
  for (const node of document.querySelectorAll(".card.selected")) node.classList.remove("selected");
  if (message) toast(message);
}

async function openConversation(id, gone = "这个会话已经结束，或已由其他客服处理") {
  let view;
  try {
    view = await api("GET", `/handoffs/${id}`);
  } catch (error) {
    if (error.status === 404 && state.current === id) {
      // No longer ours to read (console/history.py): held by another agent, or ended.
      leaveConversation(gone);
      return;
    }
    toast(error.message, "error");
    return;
  }
  if (state.current !== id) {
    $("reply-text").value = "";
    $("close-form").hidden = true;
    $("close-label").value = "";
    hideSuggest();
  }
  state.current = id;
  state.view = view;
  for (const node of document.querySelectorAll(".card")) {
    node.classList.toggle("selected", Number(node.dataset.handoffId) === id);
  }
  renderConversation();
}

async function openHistory(ref) {
  let view;
  try {
    view = await api("GET", `/history/${encodeURIComponent(ref)}`);
  } catch (error) { toast(error.message, "error"); return; }
  if (state.current !== view.handoff.id) $("reply-text").value = "";
  $("close-form").hidden = true;
  state.current = view.handoff.id;
  state.view = view;
  for (const node of document.querySelectorAll(".card")) {
    node.classList.toggle("selected", node.dataset.ref === ref);
  }
  renderConversation();
}

function renderConversation() {
  const view = state.view;
  const h = view.handoff;
  $("empty-state").hidden = true;
  $("conversation-body").hidden = false;
  $("details").hidden = false;
  $("conv-title").textContent = h.merchant ? `商户 ${h.merchant}`
    : `访客 ${h.sender.length > 12 ? `${h.sender.slice(0, 8)}…` : h.sender}`;
  const sub = [h.channel_label, h.status_label];
  if (h.left_label) sub.push(h.left_label);
  else if (h.queue_end_label && h.status === "ticket") sub.push(h.queue_end_label);
  if (h.agent) sub.push(`客服：${h.agent}`);
  sub.push(`排队于 ${clock(h.queued_at)}`);
  if (h.contact_method === "phone" && h.contact_phone) {
    // The whole number only for the agent holding the ticket (who has to call back).
    sub.push(`留言回电：${view.callback_phone || h.contact_phone}`);
  }
  $("conv-sub").textContent = sub.join(" · ");
  const isMine = mine(view);
  $("claim").hidden = !(h.status === "waiting" || h.status === "ticket");
  $("transfer-box").hidden = !isMine;
  $("close-open").hidden = !isMine;
  $("reply-form").hidden = !isMine;
  const ended = !["waiting", "agent", "ticket"].includes(h.status);
  $("note-form").hidden = ended;
  $("notes-closed").hidden = !ended;
  renderSummary(view.history);
  renderEarlier(view.earlier || []);
  renderBanner();
  renderTranscript();
  renderAccount(view.account);
  renderMaterials(view.materials);
  loadNotices(h.id);
  $("reason").textContent = h.reason_label;
  $("problem").textContent = h.problem ? `“${h.problem}”` : "商户没有描述问题";
  renderNotes(view.notes);
  renderTransferTargets();
  updateReplyState();
}

function renderBanner() {
  const view = state.view;
  const h = view.handoff;
  const banner = $("conv-banner");
  let text = "";
  let kind = "";
  if (view.transcript_error) { text = view.transcript_error; kind = "error"; }
  else if (h.status === "agent" && !mine(view)) text = `这个会话已被${h.agent || "其他客服"}接入`;
  else if (h.status === "closed") {
    text = `会话已结束：${h.resolution || ""}${h.satisfaction ? `（商户评分 ${h.satisfaction} 分）` : ""}`;
  } else if (h.status === "cancelled") text = "商户已取消排队";
  else if (view.window && view.window.applies && !view.window.open) { text = view.window.message; kind = "error"; }
  else if (mine(view) && !view.can_push) text = "这个会话来自 REST 接口：回复会写入对话记录，由接入方自行拉取，无法主动推送。";
  else if (view.window && view.window.applies && view.window.closes_at) {
    text = `微信48小时窗口还剩 ${duration(view.window.closes_at - now())}（商户再发消息会重新计时）`;
  }
  banner.textContent = text;
  banner.className = `banner ${kind}`;
  banner.hidden = !text;
}

function deliveryLabel(message) {
  if (message.status === "sent") return state.view.can_push ? "已送达" : "已写入对话记录";
  if (message.status === "pending") return "发送中…";
  return "发送失败";
}

function lineNode(role, text, ts, extra) {
  if (role === "system") {
    // Something that happened (a close, a menu click), not a line anyone wrote.
    const note = el("li", "line system");
    note.append(el("span", "system-text", text));
    note.append(el("span", "time", clock(ts)));
    return note;
  }
  const item = el("li", `line ${role}`);
  const who = { merchant: "商户", bot: "机器人", agent: extra && extra.agent ? `客服 ${extra.agent}` : "客服" }[role];
  const meta = el("div", "line-meta");
  meta.append(el("span", "who", who));
  meta.append(el("span", "time", clock(ts)));
  item.append(meta);
  item.append(el("div", "bubble", text));
  return item;
}

function messageNode(message) {
  const item = lineNode("agent", message.text, message.created_at, { agent: message.agent });
  item.dataset.messageId = message.id;
  if (message.status === "failed") item.classList.add("failed");
  const status = el("div", `delivery ${message.status}`);
  status.append(el("span", "delivery-label", deliveryLabel(message)));
  if (message.status === "failed") {
    if (message.error) status.append(el("span", "delivery-error", message.error));
    if (mine(state.view)) {
      const retry = el("button", "small", "重试");
      retry.type = "button";
      retry.addEventListener("click", () => retryMessage(message.id));
      status.append(retry);
    }
  }
  item.append(status);
  return item;
}

function renderTranscript() {
  const view = state.view;
  const list = $("transcript");
  const messages = new Map(view.messages.map((m) => [m.id, m]));
  const shown = new Set();
  const items = [];
  state.lines = new Map();
  for (const line of view.transcript) {
    if (line.role === "agent" && messages.has(line.message_id)) {
      const message = messages.get(line.message_id);
      shown.add(message.id);
      items.push({ ts: line.ts, node: messageNode(message), key: line.key });
    } else {
      items.push({ ts: line.ts, node: lineNode(line.role, line.text, line.ts, line), key: line.key });
    }
  }
  for (const message of view.messages) {
    if (!shown.has(message.id)) items.push({ ts: message.created_at, node: messageNode(message), key: `m:${message.id}` });
  }
  items.sort((a, b) => a.ts - b.ts);
  list.replaceChildren(...items.map((i) => { state.lines.set(i.key, i.node); return i.node; }));
  if (!items.length) list.append(el("li", "none", "还没有对话记录"));
  list.scrollTop = list.scrollHeight;
}

function appendLine(line) {
  if (state.lines.has(line.key)) return;
  if (line.role === "agent" && line.message_id) {
    // An agent reply seen in the conversation is delivered; one line per message id.
    const known = state.view.messages.find((m) => m.id === line.message_id);
    if (!known) {
      replaceMessage({ id: line.message_id, handoff_id: state.current, text: line.text,
        status: "sent", error: null, agent: line.agent, created_at: line.ts, sent_at: line.ts });
    }
    return;
  }
  const node = lineNode(line.role, line.text, line.ts, line);
  state.lines.set(line.key, node);
  const list = $("transcript");
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const empty = list.querySelector(".none");
  if (empty) empty.remove();
  list.append(node);
  if (nearBottom || line.role === "merchant") list.scrollTop = list.scrollHeight;
}

function replaceMessage(message) {
  if (!state.view || message.handoff_id !== state.current) return;
  const index = state.view.messages.findIndex((m) => m.id === message.id);
  if (index >= 0) state.view.messages[index] = message; else state.view.messages.push(message);
  const old = document.querySelector(`#transcript [data-message-id="${Number(message.id)}"]`);
  const node = messageNode(message);
  if (old) old.replaceWith(node);
  else {
    const list = $("transcript");
    const empty = list.querySelector(".none");
    if (empty) empty.remove();
    list.append(node);
    list.scrollTop = list.scrollHeight;
  }
}

function renderAccount(account) {
  const box = $("account");
  box.replaceChildren();
  if (!account) {
    box.append(el("p", "muted", "商户还没有核验身份，没有账户信息。"));
    return;
  }
  const rows = [
    ["商户号", account.merchant],
    ["状态", account.state_label],
    ["开始时间", account.since],
    ["目前能做什么", account.allowed],
    ["原因", account.reason_label],
  ];
  const table = el("dl", "facts");
  for (const [label, value] of rows) {
    if (!value) continue;
    table.append(el("dt", "", label));
    const dd = el("dd", label === "状态" ? `state ${account.state || ""}` : "", value);
    table.append(dd);
  }
  box.append(table);
  const appeals = Array.isArray(account.appeals) ? account.appeals : [];
  box.append(el("h3", "", "申诉"));
  if (!appeals.length) box.append(el("p", "muted", "没有申诉记录"));
  for (const appeal of appeals) {
    const item = el("div", "appeal");
    item.append(el("div", "appeal-id", appeal.id));
    item.append(el("div", "", [appeal.status_label, appeal.category_label, appeal.created].filter(Boolean).join(" · ")));
    box.append(item);
  }
}

// The 申诉材料 panel (console/materials.py): clean files only; files still being
// checked or refused by the scan are counts, never links. An image is fetched only when
// the agent asks for its preview (every download is recorded).
function renderMaterials(panel) {
  const box = $("materials");
  box.replaceChildren();
  if (!panel) {
    box.append(el("p", "muted", "商户还没有核验身份，看不到申诉材料。"));
    return;
  }
  const items = Array.isArray(panel.items) ? panel.items : [];
  if (!items.length && !panel.checking_label && !panel.failed_label) {
    box.append(el("p", "muted", "商户还没有发来申诉材料"));
  }
  const list = el("ul", "materials");
  for (const item of items) {
    const node = el("li", "material");
    const link = el("a", "material-name", item.name);
    link.href = item.url;
    link.rel = "noopener noreferrer";
    if (item.image) link.target = "_blank";
    else link.setAttribute("download", item.name);
    node.append(link);
    node.append(el("div", "muted small", [item.kind_label, item.size_label,
      `${clock(item.created_at)} 收到`, item.channel_label, item.appeal_id].filter(Boolean).join(" · ")));
    if (item.image) {
      const toggle = el("button", "link small", "预览");
      toggle.type = "button";
      let preview = null;
      toggle.addEventListener("click", () => {
        if (preview) {
          preview.remove();
          preview = null;
          toggle.textContent = "预览";
          return;
        }
        preview = el("img", "material-preview");
        preview.alt = item.name;
        preview.src = item.url;
        node.append(preview);
        toggle.textContent = "收起";
      });
      node.append(toggle);
    }
    list.append(node);
  }
  if (items.length) box.append(list);
  if (panel.checking_label) box.append(el("p", "muted small", panel.checking_label));
  if (panel.failed_label) box.append(el("p", "warn small", panel.failed_label));
}

// The 审核结果通知 panel (console/notice_panel.py): per appeal whether the merchant set a
// phrase (never the phrase itself) and how each notice went.
async function loadNotices(handoffId) {
  const box = $("notices");
  if (box.dataset.handoff !== String(handoffId)) {
    // Another conversation: never show the previous one's notices while loading.
    box.dataset.handoff = String(handoffId);
    box.replaceChildren(el("p", "muted small", "读取中…"));
  }
  let panel;
  try {
    panel = await api("GET", `/handoffs/${handoffId}/notices`);
  } catch (error) {
    if (state.view && state.view.handoff.id === handoffId) {
      box.replaceChildren(el("p", "muted small", `读取通知状态失败：${error.message}`));
    }
    return;
  }
  if (state.view && state.view.handoff.id === handoffId) renderNotices(panel);
}

function noticeDetail(notice) {
  const parts = [`${notice.attempts} 次尝试`];
  if (notice.status === "sent") {
    parts.push(`${clock(notice.sent_at)} 已发送`);
    if (notice.via_label) parts.push(notice.via_label);
  } else if (notice.next_attempt_at) {
    parts.push(`下次 ${clock(notice.next_attempt_at)}`);
  }
  return parts.join(" · ");
}

function renderNotices(panel) {
  const box = $("notices");
  box.replaceChildren();
  const appeals = panel && Array.isArray(panel.appeals) ? panel.appeals : [];
  if (!appeals.length) {
    box.append(el("p", "muted", "商户没有要求通知审核结果"));
    return;
  }
  for (const appeal of appeals) {
    const node = el("div", "notice-appeal");
    node.append(el("div", "appeal-id", appeal.appeal_id));
    node.append(el("div", "muted small", appeal.consent
      ? `通知渠道：${appeal.channel_label} · ${appeal.phrase_set ? "已设暗号（不显示）" : "未设暗号"}`
      : "商户已撤回通知同意"));
    const list = el("ul", "notices-list");
    for (const notice of appeal.notices) {
      const item = el("li", `notice ${notice.status}`);
      const head = el("div", "notice-head");
      head.append(el("span", "", notice.kind_label));
      head.append(el("span", `notice-status ${notice.status}`, notice.status_label));
      item.append(head);
      item.append(el("div", "muted small", noticeDetail(notice)));
      if (notice.error) {
        const warn = ["failed", "gave_up"].includes(notice.status) ? "warn small" : "muted small";
        item.append(el("div", warn, notice.error_code ? `${notice.error_code}：${notice.error}` : notice.error));
      }
      list.append(item);
    }
    if (appeal.notices.length) node.append(list);
    else node.append(el("p", "muted small", "审核结果出来后通知"));
    box.append(node);
  }
}

function scoreLabel(score) {
  return score ? `${"★".repeat(score)}${"☆".repeat(5 - score)}（${score}分）` : "商户没有评分";
}

function renderSummary(item) {
  $("summary-box").hidden = !item;
  if (!item) return;
  const t = item.timings || {};
  const span = (seconds) => (seconds === null || seconds === undefined ? "—" : duration(seconds));
  const rows = [
    ["结果", item.status_label],
    ["会话小结", item.label || "—"],
    ["处理结果", item.resolution || "—"],
    ["满意度", scoreLabel(item.satisfaction)],
    ["客服", item.agent || "—"],
    ["排队", span(t.wait_seconds)],
    ["首次回复", span(t.first_reply_seconds)],
    ["处理时长", span(t.handling_seconds)],
    ["结束于", clock(item.closed_at)],
  ];
  const list = $("summary");
  list.replaceChildren();
  for (const [label, value] of rows) {
    list.append(el("dt", "", label));
    list.append(el("dd", "", value));
  }
}

function historyCard(item) {
  const node = el("li", "card history-card");
  node.dataset.ref = item.ref;
  node.tabIndex = 0;
  node.setAttribute("role", "button");
  const top = el("div", "card-top");
  top.append(el("span", `tag ${item.channel}`, item.channel_label));
  top.append(el("span", `tag status-${item.status}`, item.status_label));
  if (item.label) top.append(el("span", "tag label", item.label));
  top.append(el("span", "score", item.satisfaction ? `${item.satisfaction}分` : "未评分"));
  node.append(top);
  node.append(el("div", "card-problem", item.problem || "（商户没有描述问题）"));
  const bottom = el("div", "card-bottom");
  bottom.append(el("span", "muted", item.merchant ? `商户号 ${item.merchant}` : "未核验身份"));
  bottom.append(el("span", "muted", `${item.agent || "无人接入"} · ${clock(item.closed_at)}`));
  node.append(bottom);
  const open = () => openHistory(item.ref);
  node.addEventListener("click", open);
  node.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); open(); }
  });
  return node;
}

function renderEarlier(items) {
  $("earlier-box").hidden = !items.length;
  $("earlier-list").replaceChildren(...items.map(historyCard));
}

function historyFilters() {
  const filters = {
    merchant: $("history-merchant").value.trim(), q: $("history-q").value.trim(),
    date_from: $("history-from").value, date_to: $("history-to").value,
    agent_id: $("history-agent").value, label_id: $("history-label").value,
  };
  return Object.fromEntries(Object.entries(filters).filter(([, v]) => v));
}

async function loadHistory(more) {
  const page = more ? state.history.page + 1 : 0;
  const filters = more ? state.history.filters : historyFilters();
  const query = new URLSearchParams({ ...filters, page: String(page) });
  let result;
  try {
    result = await api("GET", `/history?${query}`);
  } catch (error) { toast(error.message, "error"); return; }
  state.history = { page, filters, items: more ? state.history.items.concat(result.items) : result.items };
  $("history-scope").textContent = result.supervisor ? "（全部客服）" : "（我处理过的）";
  renderHistoryLabels(result.labels || []);
  const agentBox = $("history-agent-box");
  if (result.supervisor && agentBox.hidden) {
    agentBox.hidden = false;
    const select = $("history-agent");
    for (const agent of result.agents) {
      const option = el("option", "", agent.name);
      option.value = String(agent.id);
      select.append(option);
    }
  }
  const list = $("history-list");
  list.replaceChildren(...state.history.items.map(historyCard));
  if (!state.history.items.length) list.append(el("li", "none", "没有找到结束的会话"));
  $("history-more").hidden = result.items.length < result.page_size;
}

$("history-form").addEventListener("submit", (event) => {
  event.preventDefault();
  loadHistory(false);
});
$("history-reset").addEventListener("click", () => {
  $("history-form").reset();
  loadHistory(false);
});
$("history-more").addEventListener("click", () => loadHistory(true));

function renderNotes(notes) {
  const list = $("notes");
  list.replaceChildren(...notes.map((note) => {
    const item = el("li", "note");
    item.append(el("div", "line-meta", `${note.agent} · ${clock(note.created_at)}`));
    item.append(el("div", "", note.text));
    return item;
  }));
  if (!notes.length) list.append(el("li", "none", "还没有备注"));
}

// --- team tools: canned replies and 会话小结 labels ----------------------------------------
async function loadTeamTools() {
  const [canned, labels] = await Promise.all([api("GET", "/canned"), api("GET", "/labels")]);
  state.canned = canned.items;
  state.labels = labels.items;
  renderCanned();
  renderCloseLabels();
}

function renderCanned() {
  const select = $("canned");
  select.replaceChildren(el("option", "", "插入常用回复…"));
  select.firstChild.value = "";
  for (const reply of state.canned) {
    const option = el("option", "", `${reply.title}（${reply.shortcut}）`);
    option.value = String(reply.id);
    select.append(option);
  }
}

function renderCloseLabels() {
  const select = $("close-label");
  const chosen = select.value;
  select.replaceChildren(el("option", "", "请选择这次会话的类别…"));
  select.firstChild.value = "";
  for (const label of state.labels) {
    const option = el("option", "", label.name);
    option.value = String(label.id);
    select.append(option);
  }
  if (state.labels.some((l) => String(l.id) === chosen)) select.value = chosen;
}

function renderHistoryLabels(labels) {
  const select = $("history-label");
  const chosen = select.value;
  select.replaceChildren(el("option", "", "全部标签"));
  select.firstChild.value = "";
  for (const label of labels) {
    const option = el("option", "", label.active ? label.name : `${label.name}（已停用）`);
    option.value = String(label.id);
    select.append(option);
  }
  if (labels.some((l) => String(l.id) === chosen)) select.value = chosen;
}

// The variables are filled by the console for this conversation when inserted
// (GET /handoffs/{id}/canned/{reply}); what it does not have stays a visible 【待填：…】.
async function insertCanned(reply, token) {
  const id = state.current;
  let filled;
  try {
    filled = await api("GET", `/handoffs/${id}/canned/${reply.id}`);
  } catch (error) {
    toast(error.message, "error");
    loadTeamTools().catch(() => {});
    return;
  }
  if (state.current !== id) return;
  const box = $("reply-text");
  if (token && box.value.slice(token.start, token.end).replace("／", "/").toLowerCase() === token.text) {
    box.value = box.value.slice(0, token.start) + filled.text + box.value.slice(token.end);
    const caret = token.start + filled.text.length;
    box.focus();
    box.setSelectionRange(caret, caret);
  } else {
    box.value = box.value.trim() ? `${box.value}\n${filled.text}` : filled.text;
    box.focus();
  }
  if (!filled.complete) toast(filled.problems.join("；"), "error");
  updateReplyState();
}

$("canned").addEventListener("change", (event) => {
  const reply = state.canned.find((r) => String(r.id) === event.target.value);
  event.target.value = "";
  if (reply) insertCanned(reply, null);
});

// Typing "/95017" (or the start of a shortcut, or of a title after "/") lists the
// matching replies above the box: ↑/↓ choose, Enter or Tab inserts, Esc closes.
const suggest = { items: [], index: 0, token: null, dismissed: null };

function shortcutToken() {
  const box = $("reply-text");
  const caret = box.selectionStart;
  if (caret !== box.selectionEnd) return null;
  const match = /(^|\s)([/／][^\s/／]{0,20})$/.exec(box.value.slice(0, caret));
  if (!match) return null;
  return { start: caret - match[2].length, end: caret, text: match[2].replace("／", "/").toLowerCase() };
}

function hideSuggest() {
  suggest.items = [];
  $("canned-suggest").hidden = true;
  $("reply-text").removeAttribute("aria-activedescendant");
}

function markSuggestion() {
  const nodes = $("canned-suggest").children;
  for (let i = 0; i < nodes.length; i += 1) nodes[i].setAttribute("aria-selected", i === suggest.index ? "true" : "false");
  const current = nodes[suggest.index];
  if (current) {
    current.scrollIntoView({ block: "nearest" });
    $("reply-text").setAttribute("aria-activedescendant", current.id);
  }
}

function updateSuggest() {
  const token = shortcutToken();
  if (!token || (suggest.dismissed !== null && suggest.dismissed === token.start)) { hideSuggest(); return; }
  suggest.dismissed = null;
  const query = token.text.slice(1);
  const rank = (r) => (r.shortcut === token.text ? 0 : r.shortcut.startsWith(token.text) ? 1 : 2);
  const items = state.canned
    .filter((r) => r.shortcut.startsWith(token.text) || (query && r.title.includes(query)))
    .sort((a, b) => rank(a) - rank(b))
    .slice(0, 8);
  suggest.items = items;
  suggest.token = token;
  suggest.index = 0;
  $("canned-suggest").replaceChildren(...items.map((reply, index) => {
    const item = el("li");
    item.id = `suggest-${reply.id}`;
    item.setAttribute("role", "option");
    item.append(el("span", "shortcut", reply.shortcut), el("span", "", reply.title),
      el("span", "preview", reply.text));
    item.addEventListener("mousedown", (event) => { event.preventDefault(); pickSuggestion(index); });
    return item;
  }));
  $("canned-suggest").hidden = !items.length;
  if (items.length) markSuggestion();
}

function pickSuggestion(index) {
  const reply = suggest.items[index];
  const token = suggest.token;
  hideSuggest();
  if (reply) insertCanned(reply, token);
}

function renderTransferTargets() {
  const select = $("transfer-target");
  if (!state.me) return;
  const targets = state.queue.agents.filter((a) => a.id !== state.me.id && a.presence === "online");
  select.replaceChildren();
  const first = el("option", "", targets.length ? "转给…" : "没有其他在线客服");
  first.value = "";
  select.append(first);
  for (const agent of targets) {
    const option = el("option", "", `${agent.name}（${agent.open}/${agent.max_open}）`);
    option.value = String(agent.id);
    select.append(option);
  }
}

const UNFILLED = /【待填：[^】]*】|[{｛](?:商户号|申诉单号|客服)[}｝]/;

function updateReplyState() {
  const box = $("reply-text");
  const length = box.value.trim().length;
  $("reply-count").textContent = `${box.value.length}/${state.maxChars}`;
  const view = state.view;
  const windowClosed = view && view.window && view.window.applies && !view.window.open;
  // A canned reply's value the conversation did not have: never sent as a mark or a brace.
  const unfilled = UNFILLED.exec(box.value);
  $("reply-hint").textContent = windowClosed ? view.window.message
    : unfilled ? `请把${unfilled[0]}改成实际内容或删掉，再发送` : "";
  $("reply-hint").className = unfilled && !windowClosed ? "reply-hint-warn" : "muted";
  $("reply-send").disabled = state.sending || !length || box.value.length > state.maxChars
    || windowClosed || Boolean(unfilled);
}

$("reply-text").addEventListener("input", () => { updateReplyState(); updateSuggest(); });
$("reply-text").addEventListener("blur", () => setTimeout(hideSuggest, 150));
$("reply-text").addEventListener("keydown", (event) => {
  if (event.isComposing) return;
  if (!$("canned-suggest").hidden && suggest.items.length) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : suggest.items.length - 1;
      suggest.index = (suggest.index + step) % suggest.items.length;
      markSuggestion();
      return;
    }
    if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      pickSuggestion(suggest.index);
      return;
    }
    if (event.key === "Escape") {
      event.preventDefault();
      suggest.dismissed = suggest.token ? suggest.token.start : null;
      hideSuggest();
      return;
    }
  }
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("reply-form").requestSubmit();
  }
});

$("reply-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("reply-text").value.trim();
  if (!text || $("reply-send").disabled) return;
  state.sending = true;
  updateReplyState();
  const id = state.current;
  try {
    const message = await api("POST", `/handoffs/${id}/messages`, { text });
    $("reply-text").value = "";
    replaceMessage(message);
    if (message.status === "failed") toast(message.error || "发送失败", "error");
  } catch (error) {
    toast(error.message, "error");
  } finally {
    state.sending = false;
    updateReplyState();
  }
});

async function retryMessage(id) {
  try {
    const message = await api("POST", `/messages/${id}/retry`);
    replaceMessage(message);
    toast(message.status === "sent" ? "已送达" : message.error || "仍然没有发出去",
      message.status === "sent" ? "" : "error");
  } catch (error) { toast(error.message, "error"); }
}

$("claim").addEventListener("click", () => claimHandoff(state.current));

$("transfer").addEventListener("click", async () => {
  const target = Number($("transfer-target").value);
  if (!target) { toast("先选择要转给谁", "error"); return; }
  try {
    const result = await api("POST", `/handoffs/${state.current}/transfer`, { agent_id: target });
    toast(`已转给${result.agent}`);
    await loadQueue();
    // Now the receiving agent's to read (supervisors still read it).
    if (state.me.supervisor) await openConversation(state.current);
    else leaveConversation(null);
  } catch (error) { toast(error.message, "error"); }
});

$("close-open").addEventListener("click", () => {
  $("close-form").hidden = false;
  $("close-label").focus();
  // The labels a supervisor offers now (one may have been added or disabled).
  api("GET", "/labels").then((result) => { state.labels = result.items; renderCloseLabels(); })
    .catch(() => {});
});
$("close-cancel").addEventListener("click", () => { $("close-form").hidden = true; });
$("close-preset").addEventListener("change", (event) => {
  if (event.target.value) $("close-resolution").value = event.target.value;
  event.target.value = "";
});
$("close-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const labelId = Number($("close-label").value);
  if (!labelId) { toast("请选择会话小结标签", "error"); $("close-label").focus(); return; }
  const resolution = $("close-resolution").value.trim();
  if (!resolution) { toast("请写下处理结果", "error"); return; }
  try {
    const result = await api("POST", `/handoffs/${state.current}/close`, { resolution, label_id: labelId });
    $("close-form").hidden = true;
    $("close-resolution").value = "";
    $("close-label").value = "";
    toast(result.warning || "会话已结束，机器人会请商户评分", result.warning ? "error" : "");
    loadHistory(false);
    await loadQueue();
    await openConversation(state.current);
  } catch (error) { toast(error.message, "error"); }
});

$("note-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("note-text").value.trim();
  if (!text) return;
  try {
    const note = await api("POST", `/handoffs/${state.current}/notes`, { text });
    $("note-text").value = "";
    state.view.notes.push(note);
    renderNotes(state.view.notes);
  } catch (error) { toast(error.message, "error"); }
});

// --- live updates -------------------------------------------------------------------------
let queueReload = null;
function reloadQueueSoon() {
  clearTimeout(queueReload);
  queueReload = setTimeout(() => loadQueue().catch(() => {}), 100);
}

function connectStream() {
  if (state.stream) state.stream.close();
  const stream = new EventSource(`${API}/stream`);
  state.stream = stream;
  stream.addEventListener("hello", () => {
    // After a reconnect (console restarted, network back) nothing missed stays missed.
    if (document.body.dataset.live === "off") {
      loadQueue().catch(() => {});
      if (state.current) openConversation(state.current);
    }
    document.body.dataset.live = "on";
  });
  stream.addEventListener("queue", reloadQueueSoon);
  stream.addEventListener("queued", (event) => {
    const data = JSON.parse(event.data);
    if (data.status === "waiting") {
      state.knownWaiting.add(data.handoff_id);
      alertNewWaiting(data.handoff);
    }
  });
  stream.addEventListener("claimed", (event) => {
    const data = JSON.parse(event.data);
    if (state.current === data.handoff_id && data.agent_id !== state.me.id) {
      toast(`已被其他客服接入${data.handoff && data.handoff.agent ? `（${data.handoff.agent}）` : ""}`, "error");
      // Only the agent holding it (and supervisors) read it from now on.
      if (state.me.supervisor) openConversation(data.handoff_id);
      else leaveConversation(null);
    }
  });
  stream.addEventListener("transferred", (event) => {
    const data = JSON.parse(event.data);
    if (data.agent_id === state.me.id) {
      toast("有一个会话转给了你");
      beep();
    }
    if (state.current === data.handoff_id) openConversation(data.handoff_id, "这个会话已转给其他客服");
  });
  stream.addEventListener("ended", (event) => {
    const data = JSON.parse(event.data);
    if (state.current === data.handoff_id) openConversation(data.handoff_id);
  });
  stream.addEventListener("message", (event) => {
    const data = JSON.parse(event.data);
    if (data.handoff_id === state.current) appendLine(data.entry);
    else if (data.entry.role === "merchant" && state.queue.mine.some((h) => h.id === data.handoff_id)) {
      toast("你的另一个会话有新消息");
    }
  });
  stream.addEventListener("delivery", (event) => {
    const data = JSON.parse(event.data);
    for (const message of data.messages || []) replaceMessage(message);
  });
  stream.addEventListener("signed_out", showLogin);
  stream.onerror = () => { document.body.dataset.live = "off"; };
}

// --- start ---------------------------------------------------------------------------------
startApp().catch(() => showLogin());
