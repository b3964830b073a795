// A small offline reader of the OpenAPI document (no CDN): routes, parameters, bodies.
"use strict";

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function schemaText(schema, spec) {
  if (!schema) return "";
  if (schema.$ref) {
    const name = schema.$ref.split("/").pop();
    const target = spec.components.schemas[name] || {};
    const props = Object.entries(target.properties || {}).map(([key, value]) => {
      const required = (target.required || []).includes(key) ? "" : "?";
      return `${key}${required}: ${value.type || (value.enum ? value.enum.join("|") : "object")}`;
    });
    return `${name} { ${props.join(", ")} }`;
  }
  return schema.type || "";
}

fetch("/console/api/openapi.json").then((r) => r.json()).then((spec) => {
  document.getElementById("title").textContent = spec.info.title;
  document.getElementById("description").textContent = spec.info.description || "";
  const box = document.getElementById("paths");
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const section = el("section");
      section.style.borderTop = "1px solid #e2e6ea";
      section.style.padding = "10px 0";
      const head = el("h3");
      head.append(el("code", `${method.toUpperCase()} ${path}`));
      section.append(head);
      section.append(el("p", op.summary || ""));
      const params = (op.parameters || []).map((p) => `${p.name} (${p.in})`);
      if (params.length) section.append(el("p", `Parameters: ${params.join(", ")}`, "muted"));
      const body = op.requestBody && op.requestBody.content["application/json"];
      if (body) section.append(el("p", `Body: ${schemaText(body.schema, spec)}`, "muted"));
      const codes = Object.keys(op.responses || {}).join(", ");
      section.append(el("p", `Responses: ${codes}`, "muted small"));
      box.append(section);
    }
  }
});
