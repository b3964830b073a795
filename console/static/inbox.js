"use strict";
// The unanswered-questions inbox: reads /console/api/inbox, shows each group with its
// examples and suggested knowledge entries, and sends the supervisor's triage to
// /console/api/inbox/actions. Every text is set with textContent (strict CSP).

const API = "/console/api/inbox";
const REASONS = { fallback: "没听懂", did_you_mean: "你是想问", handoff: "之后转人工" };
const CHANNELS = { wechat: "微信公众号", widget: "网页客服", rest: "接口" };
let csrf = "";
let latest = 0; // only the newest request may draw: an older answer can come last

function $(id) { return document.getElementById(id); }

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function isoDay(date) {
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 10);
}

function mix(counts, labels) {
  return Object.entries(counts).map(([name, n]) => `${labels[name] || name} ${n}`).join("，");
}

async function act(body) {
  $("error").textContent = "";
  const response = await fetch(`${API}/actions`, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = answer.detail;
    $("error").textContent = typeof detail === "string" ? detail
      : (detail && detail.message) || "操作失败，请稍后再试";
    return;
  }
  $("status").textContent = answer.draft_revision
    ? `已保存为条目 ${answer.action.entry_id} 的草稿（第 ${answer.draft_revision} 版），请到知识库发布。`
    : "已处理。";
  load(false);
}

function actions(group) {
  const box = el("div", undefined, "actions");
  const entry = document.createElement("select");
  for (const suggestion of group.suggestions) {
    const option = el("option", `${suggestion.question}（${suggestion.entry_id}）`);
    option.value = suggestion.entry_id;
    entry.append(option);
  }
  const question = document.createElement("input");
  question.type = "text";
  question.placeholder = "要加的相似问（留空则用上面的原话）";
  const similar = el("button", "加为相似问");
  similar.type = "button";
  similar.disabled = !group.suggestions.length;
  similar.addEventListener("click", () => act({
    action: "similar", message_ids: group.message_ids, entry_id: entry.value,
    question: question.value.trim() || null,
  }));
  const scope = el("button", "超出范围");
  scope.type = "button";
  scope.addEventListener("click", () => act({ action: "out_of_scope", message_ids: group.message_ids }));
  const ignore = el("button", "忽略");
  ignore.type = "button";
  ignore.addEventListener("click", () => act({ action: "ignore", message_ids: group.message_ids }));
  box.append(entry, question, similar, scope, ignore);
  return box;
}

function card(group) {
  const section = el("section", undefined, "group");
  section.append(el("h2", `${group.count} 条 · ${group.examples[0].text}`));
  section.append(el("p", `${mix(group.channels, CHANNELS)}；${mix(group.reasons, REASONS)}；`
    + `${group.first_seen.slice(0, 16).replace("T", " ")} 至 ${group.last_seen.slice(0, 16).replace("T", " ")}`, "meta"));
  const list = document.createElement("ul");
  for (const example of group.examples) {
    const item = el("li", example.text);
    if (example.count > 1) item.append(el("span", `×${example.count}`, "count"));
    const one = el("button", "忽略这条", "link");
    one.type = "button";
    one.addEventListener("click", () => act({ action: "ignore", message_ids: [example.id] }));
    item.append(" ", one);
    list.append(item);
  }
  section.append(list, actions(group));
  return section;
}

async function load(announce = true) {
  $("error").textContent = "";
  if (announce) $("status").textContent = "正在整理…";
  const params = new URLSearchParams({ from: $("from").value, to: $("to").value });
  const mine = ++latest;
  const response = await fetch(`${API}?${params}`, { credentials: "same-origin" });
  if (mine !== latest) return;
  if (response.status === 401) {
    $("status").textContent = "";
    $("signin").hidden = false;
    return;
  }
  const body = await response.json().catch(() => ({}));
  if (mine !== latest) return;
  if (!response.ok) {
    $("status").textContent = "";
    $("error").textContent = typeof body.detail === "string" ? body.detail : "读取失败，请稍后再试";
    return;
  }
  $("groups").replaceChildren(...body.groups.map(card));
  if (announce) {
    $("status").textContent = body.groups.length
      ? `${body.from} 至 ${body.to}：${body.messages} 条消息，${body.groups.length} 组`
      : "这段时间没有待处理的消息。";
  }
}

async function start() {
  const me = await fetch("/console/api/me", { credentials: "same-origin" });
  if (me.ok) csrf = (await me.json()).csrf_token;
  load();
}

document.addEventListener("DOMContentLoaded", () => {
  const today = new Date();
  $("to").value = isoDay(today);
  $("from").value = isoDay(new Date(today.getTime() - 6 * 86400000));
  $("period").addEventListener("submit", (event) => { event.preventDefault(); load(); });
  start();
});
