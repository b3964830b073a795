"use strict";
// The supervisors' team tools: canned replies (/console/api/canned) and the 会话小结 labels
// (/console/api/labels), with the audit of who changed what (/console/api/team/changes).
// Every text is set with textContent (strict CSP, no inline script or style).

const API = "/console/api";
const state = { csrf: "", canned: [], labels: [], variables: [], maxChars: 600, editing: null };

function $(id) { return document.getElementById(id); }

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function button(text, className, onClick) {
  const node = el("button", className, text);
  node.type = "button";
  node.addEventListener("click", onClick);
  return node;
}

class ApiError extends Error {
  constructor(status, message, problems) {
    super(message);
    this.status = status;
    this.problems = problems || [];
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
    const detail = data && data.detail;
    if (detail && typeof detail === "object" && !Array.isArray(detail)) {
      throw new ApiError(response.status, detail.message, detail.problems);
    }
    throw new ApiError(response.status,
      typeof detail === "string" ? detail : `请求失败（${response.status}）`);
  }
  return data;
}

let toastTimer = null;
function toast(text, kind) {
  const box = $("toast");
  box.textContent = text;
  box.className = `toast ${kind || ""}`;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, 4000);
}

function showProblems(id, error) {
  const list = $(id);
  const problems = error && error.problems && error.problems.length ? error.problems
    : error ? [error.message] : [];
  list.replaceChildren(...problems.map((p) => el("li", "", p)));
}

function when(ts) {
  if (!ts) return "";
  const d = new Date(ts * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// --- canned replies -------------------------------------------------------------------------
async function loadCanned() {
  const result = await api("GET", "/canned?include_disabled=true");
  state.canned = result.items;
  state.variables = result.variables;
  state.maxChars = result.max_chars || 600;
  renderCanned();
  renderVariables();
}

function renderCanned() {
  const rows = $("canned-rows");
  rows.replaceChildren(...state.canned.map((reply) => {
    const row = el("tr", reply.active ? "" : "disabled");
    row.dataset.shortcut = reply.shortcut;
    row.append(el("td", "shortcut", reply.shortcut), el("td", "", reply.title),
      el("td", "text", reply.text), el("td", "", reply.active ? "启用中" : "已停用"));
    const actions = el("td", "actions");
    actions.append(button("编辑", "small", () => startEdit(reply)));
    actions.append(reply.active
      ? button("停用", "small danger", () => setCanned(reply, "disable"))
      : button("启用", "small", () => setCanned(reply, "enable")));
    row.append(actions);
    return row;
  }));
}

function renderVariables() {
  const box = $("variables");
  box.replaceChildren(...state.variables.map((v) => button(`{${v.name}}`, "small", () => {
    const text = $("canned-text");
    const start = text.selectionStart;
    const end = text.selectionEnd;
    const token = `{${v.name}}`;
    text.value = text.value.slice(0, start) + token + text.value.slice(end);
    text.focus();
    text.setSelectionRange(start + token.length, start + token.length);
    updateCount();
  })));
  $("variable-help").textContent = state.variables.map((v) => `{${v.name}}：${v.description}`).join("；")
    + "。插入时按会话自动填写；会话里没有的值会标成【待填：…】，客服改好才能发送。";
}

function updateCount() {
  $("canned-count").textContent = `${$("canned-text").value.length}/${state.maxChars}`;
}

function startEdit(reply) {
  state.editing = reply ? { id: reply.id, version: reply.version } : null;
  $("canned-form-title").textContent = reply ? `修改常用回复 ${reply.shortcut}` : "新建常用回复";
  $("canned-title-input").value = reply ? reply.title : "";
  $("canned-shortcut").value = reply ? reply.shortcut : "";
  $("canned-text").value = reply ? reply.text : "";
  showProblems("canned-problems", null);
  updateCount();
  if (reply) $("canned-title-input").focus();
}

async function setCanned(reply, action) {
  try {
    await api("POST", `/canned/${reply.id}/${action}`);
    toast(action === "disable" ? `已停用 ${reply.shortcut}` : `已启用 ${reply.shortcut}`);
    await Promise.all([loadCanned(), loadChanges()]);
  } catch (error) { toast(error.message, "error"); }
}

$("canned-text").addEventListener("input", updateCount);
$("canned-cancel").addEventListener("click", () => startEdit(null));
$("canned-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = {
    title: $("canned-title-input").value, shortcut: $("canned-shortcut").value,
    text: $("canned-text").value,
  };
  try {
    if (state.editing) {
      await api("PUT", `/canned/${state.editing.id}`, { ...body, version: state.editing.version });
      toast("已保存");
    } else {
      await api("POST", "/canned", body);
      toast("已新建，客服马上就能用");
    }
    startEdit(null);
    await Promise.all([loadCanned(), loadChanges()]);
  } catch (error) {
    showProblems("canned-problems", error);
    if (error.status === 409) await loadCanned();
  }
});

// --- labels --------------------------------------------------------------------------------
async function loadLabels() {
  state.labels = (await api("GET", "/labels?include_disabled=true")).items;
  renderLabels();
}

function renderLabels() {
  $("label-rows").replaceChildren(...state.labels.map((label, index) => {
    const item = el("li", label.active ? "" : "disabled");
    const name = el("input");
    name.value = label.name;
    name.maxLength = 20;
    name.setAttribute("aria-label", `标签名称：${label.name}`);
    item.append(name);
    item.append(button("改名", "small", () => saveLabel(label, { name: name.value })));
    if (index > 0) {
      item.append(button("上移", "small", () => moveLabel(index)));
    }
    item.append(label.active
      ? button("停用", "small danger", () => setLabel(label, "disable"))
      : button("启用", "small", () => setLabel(label, "enable")));
    if (!label.active) item.append(el("span", "muted small", "已停用"));
    return item;
  }));
}

async function saveLabel(label, change) {
  try {
    await api("PUT", `/labels/${label.id}`, { name: label.name, ...change });
    showProblems("label-problems", null);
    await Promise.all([loadLabels(), loadChanges()]);
  } catch (error) { showProblems("label-problems", error); }
}

async function moveLabel(index) {
  const order = state.labels.slice();
  [order[index - 1], order[index]] = [order[index], order[index - 1]];
  try {
    for (let i = 0; i < order.length; i += 1) {
      if (order[i].position !== i + 1) {
        await api("PUT", `/labels/${order[i].id}`, { name: order[i].name, position: i + 1 });
      }
    }
    await Promise.all([loadLabels(), loadChanges()]);
  } catch (error) { showProblems("label-problems", error); }
}

async function setLabel(label, action) {
  try {
    await api("POST", `/labels/${label.id}/${action}`);
    showProblems("label-problems", null);
    await Promise.all([loadLabels(), loadChanges()]);
  } catch (error) { showProblems("label-problems", error); }
}

$("label-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api("POST", "/labels", { name: $("label-name").value });
    $("label-name").value = "";
    showProblems("label-problems", null);
    await Promise.all([loadLabels(), loadChanges()]);
  } catch (error) { showProblems("label-problems", error); }
});

// --- the audit -------------------------------------------------------------------------------
const FIELDS = { title: "标题", shortcut: "快捷码", text: "内容", name: "名称", position: "排序" };

function describe(change) {
  const after = change.after || {};
  const before = change.before || {};
  const what = after.shortcut || after.name || before.shortcut || before.name || "";
  const parts = [`${change.action_label}${change.kind_label} ${what}`];
  if (change.action === "edited") {
    for (const [key, label] of Object.entries(FIELDS)) {
      if (before[key] === after[key]) continue;
      parts.push(key === "text" ? "改了内容" : `${label}：${before[key]} → ${after[key]}`);
    }
  }
  return parts.join("，");
}

async function loadChanges() {
  const items = (await api("GET", "/team/changes")).items;
  $("changes").replaceChildren(...items.slice(0, 50).map((change) => {
    const item = el("li");
    item.append(el("span", "when", when(change.changed_at)));
    item.append(el("span", "", `${change.agent || "系统"}：${describe(change)}`));
    return item;
  }));
  if (!items.length) $("changes").append(el("li", "muted", "还没有改动"));
}

// --- start -------------------------------------------------------------------------------------
async function start() {
  let me;
  try {
    me = await api("GET", "/me");
  } catch (error) {
    if (error.status === 401) { $("signin").hidden = false; return; }
    $("error").textContent = error.message;
    return;
  }
  state.csrf = me.csrf_token;
  if (!me.agent.supervisor) { $("not-supervisor").hidden = false; return; }
  $("tools").hidden = false;
  try {
    await Promise.all([loadCanned(), loadLabels(), loadChanges()]);
  } catch (error) { $("error").textContent = error.message; }
  startEdit(null);
}

start();
