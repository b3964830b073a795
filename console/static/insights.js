"use strict";
// The supervisor's report page: reads /console/api/insights/summary and shows the figures
// as tables. Every text is set with textContent (strict CSP, no inline script or style).

const API = "/console/api/insights/summary";

// [key, label, kind, note]; kinds: count, rate, seconds, score, list, map.
const SECTIONS = [
  ["对话", [
    ["conversations", "对话数", "count", "有商户消息的会话"],
    ["contained_rate", "机器人独立解决率", "rate", "未转人工、未留言的对话 / 全部对话"],
    ["handoff_rate", "转人工率", "rate", "转入人工排队的对话 / 能转人工的对话（服务时间内）"],
    ["handoff_eligible_conversations", "能转人工的对话", "count", ""],
    ["handoff_or_ticket_rate", "转人工或留言率", "rate", "/ 全部对话"],
    ["fallback_rate", "没听懂率", "rate", "没听懂的消息 / 商户打字的消息"],
    ["did_you_mean_rate", "“你是想问”率", "rate", "/ 商户打字的消息"],
    ["knowledge_answers", "知识库回答次数", "count", ""],
  ]],
  ["人工服务", [
    ["handoffs", "转人工次数", "count", "含留言"],
    ["tickets", "留言", "count", ""],
    ["queue_abandoned", "排队中放弃", "count", ""],
    ["queue_wait_p50_s", "排队时长 中位数", "seconds", "queue_wait_n"],
    ["queue_wait_p90_s", "排队时长 P90", "seconds", "queue_wait_n"],
    ["first_response_p50_s", "首次回复 中位数", "seconds", "first_response_n"],
    ["first_response_p90_s", "首次回复 P90", "seconds", "first_response_n"],
    ["resolution_p50_s", "处理时长 中位数", "seconds", "resolution_n"],
    ["resolution_p90_s", "处理时长 P90", "seconds", "resolution_n"],
    ["handoffs_by_reason", "转人工原因", "map", ""],
    ["conversations_per_agent", "每位客服接待", "map", ""],
  ]],
  ["满意度", [
    ["csat_avg", "平均分（1-5）", "score", "csat_n"],
    ["csat_response_rate", "评分率", "rate", "已评分 / 已结束的人工会话"],
    ["csat_5", "5 分", "count", ""], ["csat_4", "4 分", "count", ""],
    ["csat_3", "3 分", "count", ""], ["csat_2", "2 分", "count", ""],
    ["csat_1", "1 分", "count", ""],
  ]],
  ["流程与话题", [
    ["funnel_identity_started", "身份核验 开始", "count", ""],
    ["funnel_identity_completed", "身份核验 通过", "count", ""],
    ["funnel_identity_abandoned", "身份核验 未完成", "count", ""],
    ["identity_lockouts", "身份核验锁定", "count", "同一发送者1小时内错5次"],
    ["funnel_appeal_started", "申诉 开始", "count", ""],
    ["funnel_appeal_completed", "申诉 提交", "count", ""],
    ["funnel_appeal_abandoned", "申诉 未完成", "count", ""],
    ["funnel_advisor_started", "远程收款建议 开始", "count", ""],
    ["funnel_advisor_completed", "远程收款建议 给出", "count", ""],
    ["top_entries", "最常用的知识条目", "list", ""],
    ["top_intents", "最常见的意图", "list", ""],
  ]],
];

const REASONS = {
  merchant_asked: "商户要求转人工", not_understood: "机器人多次没听懂",
  locked_out: "身份核验被锁定", appeal_help: "需要申诉帮助", form_stuck: "填写步骤卡住了",
};

function $(id) { return document.getElementById(id); }

function isoDay(date) {
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 10);
}

function duration(seconds) {
  if (seconds < 60) return `${Math.round(seconds)} 秒`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(1)} 分钟`;
  return `${(seconds / 3600).toFixed(1)} 小时`;
}

function formatted(value, kind) {
  if (value === null || value === undefined) return "—";
  if (kind === "rate") return `${(value * 100).toFixed(1)}%`;
  if (kind === "seconds") return duration(value);
  if (kind === "score") return value.toFixed(2);
  if (kind === "map") {
    const parts = Object.entries(value).map(([name, n]) => `${REASONS[name] || name}：${n}`);
    return parts.length ? parts.join("；") : "—";
  }
  if (kind === "list") {
    return value.length ? value.map((item) => `${item.name}：${item.count}`).join("；") : "—";
  }
  return String(value);
}

function row(figures, [key, label, kind, note]) {
  const tr = document.createElement("tr");
  const name = document.createElement("td");
  name.textContent = label;
  const cell = document.createElement("td");
  cell.className = "value";
  cell.textContent = formatted(figures[key], kind);
  const extra = document.createElement("td");
  extra.className = "note";
  extra.textContent = note in figures ? `n=${figures[note]}` : note;
  tr.append(name, cell, extra);
  return tr;
}

function render(figures) {
  const root = $("figures");
  root.replaceChildren();
  for (const [title, rows] of SECTIONS) {
    const section = document.createElement("section");
    const heading = document.createElement("h2");
    heading.textContent = title;
    const table = document.createElement("table");
    for (const spec of rows) table.append(row(figures, spec));
    section.append(heading, table);
    root.append(section);
  }
  $("status").textContent = figures.events_available
    ? `${figures.from} 至 ${figures.to}（${figures.timezone}）`
    : "没有读到对话事件库，只显示人工服务的数据。";
}

function query() {
  const params = new URLSearchParams({ from: $("from").value, to: $("to").value });
  if ($("channel").value) params.set("channel", $("channel").value);
  return params.toString();
}

async function load() {
  $("error").textContent = "";
  $("csv").href = `${API}.csv?${query()}`;
  $("status").textContent = "正在统计…";
  const response = await fetch(`${API}?${query()}`, { credentials: "same-origin" });
  if (response.status === 401) {
    $("status").textContent = "";
    $("signin").hidden = false;
    return;
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    $("status").textContent = "";
    $("error").textContent = typeof body.detail === "string" ? body.detail : "统计失败，请稍后再试";
    return;
  }
  render(body);
}

document.addEventListener("DOMContentLoaded", () => {
  const today = new Date();
  $("to").value = isoDay(today);
  $("from").value = isoDay(new Date(today.getTime() - 6 * 86400000));
  $("period").addEventListener("submit", (event) => { event.preventDefault(); load(); });
  load();
});
