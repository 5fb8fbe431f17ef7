"""The ``/docs`` page: a self-contained HTML page (no CDN, no external asset) that reads ``/openapi.json`` and lets a
person try every operation from a form, showing the answer (problem documents included) and its request id.

It is a string constant rather than a package data file so that no packaging rule is needed. All text from the
capability is inserted with ``textContent``, never as HTML. Opening ``/docs#try=<operationId>`` runs that operation
once on load, for GET operations only (the browser test uses it to prove a call works from the page).
"""

from __future__ import annotations

import html

__all__ = ["docs_html"]

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__ - REST API</title>
<style>
  :root { --fg: #1d2433; --muted: #5b6478; --line: #d9dee8; --bg: #f6f7fb; --get: #1f7a4d; --post: #2356c7;
          --put: #8a5a00; --patch: #6b3fb5; --delete: #b3261e; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
         background: var(--bg); }
  header { padding: 18px 28px; background: #fff; border-bottom: 1px solid var(--line); }
  header h1 { margin: 0 0 4px; font-size: 22px; }
  header p { margin: 0; color: var(--muted); max-width: 980px; }
  header .bar { margin-top: 10px; display: flex; gap: 14px; align-items: center; flex-wrap: wrap; font-size: 13px; }
  main { padding: 18px 28px 60px; max-width: 1100px; }
  h2 { font-size: 16px; margin: 22px 0 8px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
  details.op { background: #fff; border: 1px solid var(--line); border-radius: 8px; margin: 8px 0; }
  details.op > summary { cursor: pointer; padding: 10px 14px; display: flex; gap: 12px; align-items: center;
                         list-style: none; }
  .method { font: 700 12px ui-monospace, monospace; color: #fff; border-radius: 4px; padding: 3px 8px;
            min-width: 62px; text-align: center; }
  .GET { background: var(--get); } .POST { background: var(--post); } .PUT { background: var(--put); }
  .PATCH { background: var(--patch); } .DELETE { background: var(--delete); }
  .path { font: 600 14px ui-monospace, monospace; }
  .opid { font: 12px ui-monospace, monospace; color: var(--muted); }
  .summary { margin-left: auto; color: var(--muted); }
  .body { padding: 4px 14px 14px; border-top: 1px solid var(--line); }
  .desc { color: var(--muted); margin: 10px 0; white-space: pre-wrap; }
  form .field { display: grid; grid-template-columns: 220px 1fr; gap: 10px; margin: 6px 0; align-items: start; }
  form label { font: 13px ui-monospace, monospace; padding-top: 6px; }
  form label small { display: block; color: var(--muted); font-family: system-ui, sans-serif; }
  input, select, textarea { font: 13px ui-monospace, monospace; padding: 6px 8px; border: 1px solid var(--line);
                            border-radius: 5px; width: 100%; background: #fff; }
  textarea { min-height: 60px; }
  button { font: 600 13px system-ui, sans-serif; padding: 7px 16px; border-radius: 5px; border: 0; cursor: pointer;
           background: var(--post); color: #fff; margin-top: 8px; }
  .answer { margin-top: 12px; }
  .status { font: 600 13px ui-monospace, monospace; }
  .status.ok { color: var(--get); } .status.err { color: var(--delete); }
  pre { background: #0f1420; color: #e6e9f0; padding: 12px; border-radius: 6px; overflow: auto; max-height: 420px;
        font-size: 12.5px; }
  .notice { padding: 10px 14px; background: #fff4e5; border: 1px solid #f1c27d; border-radius: 6px; }
</style>
</head>
<body>
<header>
  <h1 id="title">__TITLE__</h1>
  <p id="description"></p>
  <div class="bar">
    <a href="/openapi.json">openapi.json</a>
    <label>Bearer token (only if the server asks for one)
      <input id="token" type="password" autocomplete="off" style="width: 260px"></label>
    <button id="reload" type="button">Reload</button>
  </div>
</header>
<main id="operations"><p>Loading /openapi.json ...</p></main>
<script>
"use strict";
const main = document.getElementById("operations");
const tokenInput = document.getElementById("token");
let token = "";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value; else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function headers(extra) {
  const h = Object.assign({"Accept": "application/json"}, extra || {});
  if (token) h["Authorization"] = "Bearer " + token;
  return h;
}

function control(name, schema, required) {
  schema = schema || {};
  const kind = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  let input;
  if (Array.isArray(schema.enum)) {
    input = el("select", {}, el("option", {value: ""}, required ? "(choose)" : "(not set)"));
    for (const v of schema.enum) input.append(el("option", {value: String(v)}, String(v)));
  } else if (kind === "boolean") {
    input = el("select", {}, el("option", {value: ""}, "(not set)"), el("option", {value: "true"}, "true"),
               el("option", {value: "false"}, "false"));
  } else if (kind === "object" || kind === "array") {
    input = el("textarea", {placeholder: kind === "array" ? "JSON array, e.g. [\\"a\\"]" : "JSON object"});
  } else {
    input = el("input", {type: kind === "integer" || kind === "number" ? "number" : "text"});
    if (kind === "integer") input.setAttribute("step", "1");
    if (schema.pattern) input.setAttribute("placeholder", schema.pattern);
  }
  input.name = name;
  input.dataset.kind = kind || "string";
  if (schema.default !== undefined && input.tagName !== "TEXTAREA") input.setAttribute("data-default", schema.default);
  return input;
}

function value(input) {
  const raw = input.value.trim();
  if (raw === "") return undefined;
  const kind = input.dataset.kind;
  if (kind === "integer" || kind === "number") return Number(raw);
  if (kind === "boolean") return raw === "true";
  if (kind === "object" || kind === "array") return JSON.parse(raw);
  return raw;
}

function field(name, where, schema, required) {
  const input = control(name, schema, required);
  input.dataset.where = where;
  const label = el("label", {}, name + (required ? " *" : ""),
                   el("small", {}, where + (schema && schema.description ? " - " + schema.description : "")));
  return el("div", {class: "field"}, label, input);
}

async function send(path, method, form, answer) {
  answer.replaceChildren(el("span", {class: "status"}, "calling ..."));
  let url = path;
  const query = new URLSearchParams();
  const body = {};
  try {
    for (const input of form.querySelectorAll("[data-where]")) {
      const v = value(input);
      if (v === undefined) continue;
      const where = input.dataset.where;
      if (where === "path") url = url.replace("{" + input.name + "}", encodeURIComponent(String(v)));
      else if (where === "query") {
        if (Array.isArray(v)) v.forEach(item => query.append(input.name, String(item)));
        else query.append(input.name, typeof v === "object" ? JSON.stringify(v) : String(v));
      } else body[input.name] = v;
    }
  } catch (err) {
    answer.replaceChildren(el("span", {class: "status err"}, "not valid JSON in a field: " + err.message));
    return;
  }
  if ([...query.keys()].length) url += "?" + query.toString();
  const init = {method: method, headers: headers()};
  if (["POST", "PUT", "PATCH"].includes(method)) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const started = performance.now();
  try {
    const response = await fetch(url, init);
    const text = await response.text();
    let shown = text;
    try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (err) { /* not JSON: shown as it is */ }
    const ms = Math.round(performance.now() - started);
    const rid = response.headers.get("X-Request-Id") || "";
    answer.replaceChildren(
      el("div", {class: "status " + (response.ok ? "ok" : "err")},
         method + " " + url + " -> " + response.status + " (" + ms + " ms" + (rid ? ", request " + rid : "") + ")"),
      el("pre", {class: "result"}, shown));
  } catch (err) {
    answer.replaceChildren(el("span", {class: "status err"}, "request failed: " + err.message));
  }
}

function operationCard(path, method, op) {
  method = method.toUpperCase();
  const form = el("form", {});
  const props = {};
  for (const p of op.parameters || []) {
    const schema = p.schema || ((p.content || {})["application/json"] || {}).schema || {};
    form.append(field(p.name, p.in, Object.assign({description: p.description}, schema), p.required));
  }
  const bodySchema = (((op.requestBody || {}).content || {})["application/json"] || {}).schema;
  if (bodySchema) {
    const required = new Set(bodySchema.required || []);
    for (const [name, schema] of Object.entries(bodySchema.properties || {})) {
      form.append(field(name, "body", schema, required.has(name)));
    }
  }
  const answer = el("div", {class: "answer"});
  const button = el("button", {type: "submit"}, "Send " + method + " " + path);
  form.append(button);
  form.addEventListener("submit", event => { event.preventDefault(); send(path, method, form, answer); });
  const card = el("details", {class: "op", id: "op-" + op.operationId},
    el("summary", {}, el("span", {class: "method " + method}, method), el("span", {class: "path"}, path),
       el("span", {class: "opid"}, op.operationId), el("span", {class: "summary"}, op.summary || "")),
    el("div", {class: "body"}, el("div", {class: "desc"}, op.description || ""), form, answer));
  card.dataset.method = method;
  return card;
}

async function load() {
  token = tokenInput.value.trim();
  let spec;
  try {
    const response = await fetch("/openapi.json", {headers: headers()});
    if (response.status === 401) {
      const ask = "This server requires a bearer token: enter it above, then Reload.";
      main.replaceChildren(el("p", {class: "notice"}, ask));
      return;
    }
    spec = await response.json();
  } catch (err) {
    main.replaceChildren(el("p", {class: "notice"}, "Cannot read /openapi.json: " + err.message));
    return;
  }
  document.getElementById("title").textContent = spec.info.title;
  document.title = spec.info.title + " - REST API";
  document.getElementById("description").textContent = spec.info.description || "";
  const groups = new Map();
  for (const [path, item] of Object.entries(spec.paths || {})) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags || ["operations"])[0];
      if (!groups.has(tag)) groups.set(tag, []);
      groups.get(tag).push(operationCard(path, method, op));
    }
  }
  const blocks = [];
  for (const [tag, cards] of groups) blocks.push(el("h2", {}, tag), ...cards);
  if (!blocks.length) blocks.push(el("p", {class: "notice"}, "This server serves no REST operations."));
  main.replaceChildren(...blocks);
  const wanted = new URLSearchParams(location.hash.slice(1)).get("try");
  const card = wanted && document.getElementById("op-" + wanted);
  if (card && card.dataset.method === "GET") {
    card.open = true;
    card.querySelector("form").requestSubmit();
  }
}

document.getElementById("reload").addEventListener("click", load);
load();
</script>
</body>
</html>
"""


def docs_html(title: str) -> str:
    return _PAGE.replace("__TITLE__", html.escape(title))
