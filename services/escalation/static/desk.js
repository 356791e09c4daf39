// The fte desk console (issue 16, ADR 0021): the queue, a conversation with
// the customer's whole history, claim / release / assign / resolve / reopen,
// replies (WhatsApp window and templates), notes, live updates over
// server-sent events and presence. Plain JavaScript served by escalation
// under a strict CSP (no inline script, no third-party origin): nothing to
// build. Every request goes to this origin's JSON API with the session
// cookie; changes carry the session's CSRF token.
"use strict";

const state = {
  me: null,
  view: "mine",
  conversations: [],
  selected: null, // conversation id
  detail: null,
  events: null,
  drafts: {}, // conversation id -> {body, key}
};

const $ = (id) => document.getElementById(id);
const text = (tag, content, cls) => {
  const el = document.createElement(tag);
  if (content !== undefined && content !== null) el.textContent = String(content);
  if (cls) el.className = cls;
  return el;
};

function newKey() {
  return crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2);
}

// Sends the person to sign in again, keeping what they were writing.
function signInAgain() {
  saveDraft();
  sessionStorage.setItem("fte-desk-drafts", JSON.stringify(state.drafts));
  const back = "/desk" + (state.selected ? "#" + state.selected : "");
  location.assign("/auth/login?return_to=" + encodeURIComponent(back));
}

async function api(method, path, body, headers) {
  const init = { method, headers: Object.assign({}, headers || {}), credentials: "same-origin" };
  if (method !== "GET") init.headers["X-CSRF-Token"] = state.me ? state.me.csrf_token : "";
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const data = response.headers.get("Content-Type")?.startsWith("application/json") ? await response.json() : null;
  if (response.status === 401) {
    signInAgain();
    throw new Error("signed out");
  }
  return { status: response.status, data };
}

function notice(message, ok) {
  const el = $("notice");
  el.textContent = message || "";
  el.className = ok ? "ok" : "";
}

function errorText(answer) {
  const e = answer.data && answer.data.error;
  if (!e) return "failed (" + answer.status + ")";
  let message = e.message;
  if (e.owner) message += " — owner: " + e.owner;
  if (e.changes) message += " — " + e.changes.map((c) => c.actor + " " + c.action.replace("_", " ")).join(", ");
  return message;
}

// ---- the queue --------------------------------------------------------------

async function loadQueue() {
  const filters = new FormData($("filters"));
  const query = new URLSearchParams({ view: state.view, limit: "100" });
  if (filters.get("channel")) query.set("channel", filters.get("channel"));
  if (filters.get("priority")) query.set("priority", filters.get("priority"));
  if (filters.get("breached")) query.set("breached", "true");
  const answer = await api("GET", "/api/conversations?" + query);
  if (answer.status !== 200) return notice(errorText(answer));
  state.conversations = answer.data.conversations;
  renderQueue();
}

function renderQueue() {
  const list = $("conversations");
  list.replaceChildren();
  for (const c of state.conversations) {
    const li = text("li");
    li.dataset.id = c.id;
    if (c.id === state.selected) li.classList.add("selected");
    if (c.breached) li.classList.add("breached");
    li.append(text("strong", c.customer_name || c.customer_id));
    li.append(text("div", c.summary || "", ""));
    const meta = text("div", "", "meta");
    meta.append(text("span", c.priority + " ", "priority-" + c.priority));
    meta.append(text("span", c.channel + " · " + c.status + (c.owner ? " · " + c.owner : "") + " · "));
    meta.append(text("span", "due " + new Date(c.due_at).toLocaleString(), "due"));
    li.append(meta);
    li.addEventListener("click", () => select(c.id));
    list.append(li);
  }
  $("queue-empty").hidden = state.conversations.length > 0;
  for (const b of document.querySelectorAll("#views button")) {
    b.setAttribute("aria-selected", String(b.dataset.view === state.view));
  }
}

// ---- one conversation ------------------------------------------------------

async function select(id) {
  saveDraft();
  state.selected = id;
  history.replaceState(null, "", "/desk#" + id);
  renderQueue();
  await loadConversation();
  listen();
}

async function loadConversation() {
  if (!state.selected) return;
  const answer = await api("GET", "/api/conversations/" + state.selected);
  if (answer.status !== 200) return notice(errorText(answer));
  state.detail = answer.data;
  renderConversation();
}

function renderConversation() {
  const d = state.detail;
  const c = d.conversation;
  $("conversation").hidden = false;
  $("customer").textContent = (d.customer.name || "Customer") + " — " + d.customer.identifiers.map((i) => i.value).join(", ");
  $("state").textContent =
    c.status + (c.owner ? " · owner " + c.owner : " · unassigned") + " · " + c.priority + " · version " + c.version +
    " · first response due " + new Date(c.first_response_due).toLocaleString() + (c.breached ? " · BREACHED" : "");
  const mine = c.owner === state.me.name;
  $("claim").hidden = c.status === "resolved" || mine;
  $("release").hidden = c.status === "resolved" || !c.owner || (!mine && state.me.role !== "supervisor");
  $("reopen").hidden = c.status !== "resolved";
  $("resolve").hidden = c.status === "resolved";
  $("resolve-article").hidden = c.status === "resolved";

  const timeline = $("timeline");
  timeline.replaceChildren();
  const items = d.messages.map((m) => ({ at: m.created_at, m })).concat(d.notes.map((n) => ({ at: n.at, n })));
  items.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  for (const item of items) {
    if (item.n) {
      const li = text("li", item.n.body, "note");
      li.prepend(text("div", "note by " + item.n.author + " · " + new Date(item.n.at).toLocaleString(), "meta"));
      timeline.append(li);
      continue;
    }
    const m = item.m;
    const li = text("li", m.body, m.direction);
    li.dataset.message = m.id;
    let who = m.direction === "inbound" ? m.sender : m.author ? m.author : "agent";
    let about = m.channel + " · " + new Date(m.created_at).toLocaleString() + " · " + who;
    if (m.direction === "outbound") about += " · " + m.status;
    if (m.article) about += " · article " + m.article.slug;
    if (m.template) about += " · template " + m.template;
    li.prepend(text("div", about, "meta"));
    timeline.append(li);
  }

  const audit = $("audit");
  audit.replaceChildren(...d.audit.map((a) => text("li", new Date(a.at).toLocaleString() + " " + a.actor + " " + a.action + " (v" + a.version + ")")));

  // Where the reply can go, and WhatsApp's window.
  const channel = $("reply-channel");
  const current = channel.value;
  channel.replaceChildren(...d.reply_options.channels.map((o) => {
    const option = text("option", o.channel + " → " + o.to);
    option.value = o.channel;
    return option;
  }));
  channel.value = d.reply_options.channels.some((o) => o.channel === current) ? current : d.reply_options.default_channel;
  const templates = $("reply-template");
  templates.replaceChildren(text("option", "free text"), ...d.reply_options.templates.map((t) => text("option", t.name)));
  templates.options[0].value = "";
  renderWindow();
  restoreDraft();
}

function currentWindow() {
  const option = state.detail.reply_options.channels.find((o) => o.channel === $("reply-channel").value);
  return option && option.window ? option.window : null;
}

function renderWindow() {
  const w = currentWindow();
  $("window").textContent = w ? (w.open ? "WhatsApp window open until " : "WhatsApp window closed at ") + new Date(w.closes_at).toLocaleString() : "";
  $("template-choice").hidden = !w;
  if (w && !w.open && !$("reply-template").value && state.detail.reply_options.templates.length) {
    $("reply-template").value = state.detail.reply_options.templates[0].name;
  }
  renderTemplateVariables();
}

function renderTemplateVariables() {
  const name = $("reply-template").value;
  const box = $("template-variables");
  box.replaceChildren();
  const t = state.detail.reply_options.templates.find((x) => x.name === name);
  $("reply-body").hidden = Boolean(t);
  if (!t) return;
  box.append(text("p", t.text, "meta"));
  for (const n of t.variables) {
    const input = document.createElement("input");
    input.name = String(n);
    input.placeholder = "{{" + n + "}}";
    input.setAttribute("aria-label", "template variable " + n);
    box.append(input);
  }
}

// A draft keeps its Idempotency-Key until it is sent: a double-click or a
// retry after a lost answer sends one message.
function saveDraft() {
  if (!state.selected) return;
  const body = $("reply-body").value;
  const previous = state.drafts[state.selected];
  state.drafts[state.selected] = { body, key: previous && previous.body === body ? previous.key : newKey() };
}

function restoreDraft() {
  const draft = state.drafts[state.selected];
  $("reply-body").value = draft ? draft.body : "";
}

async function change(action, body) {
  const answer = await api("POST", "/api/conversations/" + state.selected + "/" + action, body);
  if (answer.status >= 300) {
    notice(errorText(answer));
  } else {
    notice(action + ": done", true);
  }
  await loadConversation();
  await loadQueue();
  return answer;
}

async function sendReply(event) {
  event.preventDefault();
  saveDraft();
  const draft = state.drafts[state.selected];
  const request = { version: state.detail.conversation.version, channel: $("reply-channel").value };
  const template = $("reply-template").value;
  if (template && !$("template-choice").hidden) {
    request.template = template;
    request.variables = {};
    for (const input of $("template-variables").querySelectorAll("input")) request.variables[input.name] = input.value;
  } else {
    request.body = draft.body;
  }
  if ($("reply-article").value) request.article = $("reply-article").value;
  if (state.detail.conversation.status === "resolved") {
    if (!confirm("The conversation is resolved. Reopen it and send?")) return;
    request.reopen = true;
  }
  $("send").disabled = true;
  try {
    const answer = await api("POST", "/api/conversations/" + state.selected + "/replies", request, { "Idempotency-Key": draft.key });
    if (answer.status === 202) {
      delete state.drafts[state.selected];
      $("reply-body").value = "";
      notice("reply queued (" + answer.data.reply.status + ")", true);
    } else {
      notice(errorText(answer));
    }
  } finally {
    $("send").disabled = false;
  }
  await loadConversation();
  await loadQueue();
}

// ---- live updates ------------------------------------------------------------

let queueTimer = null;
function listen() {
  if (state.events) state.events.close();
  const query = state.selected ? "?conversation=" + encodeURIComponent(state.selected) : "";
  const events = new EventSource("/api/events" + query);
  state.events = events;
  events.addEventListener("ready", () => $("live").classList.add("on"));
  events.addEventListener("ready", () => ($("live").textContent = "live"));
  events.onerror = async () => {
    $("live").classList.remove("on");
    $("live").textContent = "offline";
    // A stream refused for an ended session: sign in again.
    const me = await fetch("/api/me", { credentials: "same-origin" });
    if (me.status === 401) signInAgain();
  };
  events.addEventListener("conversation", (e) => {
    const id = JSON.parse(e.data).id;
    clearTimeout(queueTimer);
    queueTimer = setTimeout(loadQueue, 100);
    if (id === state.selected) {
      saveDraft();
      loadConversation();
    }
  });
  events.addEventListener("resync", () => {
    loadQueue();
    loadConversation();
  });
  events.addEventListener("presence", (e) => {
    const p = JSON.parse(e.data);
    if (p.conversation !== state.selected) return;
    const others = p.people.filter((name) => name !== state.me.name);
    $("presence").textContent = others.length ? "Also here: " + others.join(", ") : "";
  });
}

// ---- start ---------------------------------------------------------------------

function bind() {
  for (const b of document.querySelectorAll("#views button")) {
    b.addEventListener("click", () => {
      state.view = b.dataset.view;
      loadQueue();
    });
  }
  $("filters").addEventListener("change", loadQueue);
  // A link to a conversation (desk#<id>) opens it, also in an open console.
  window.addEventListener("hashchange", () => {
    const id = location.hash.slice(1);
    if (id && id !== state.selected) select(id);
  });
  $("claim").addEventListener("click", () => change("claim"));
  $("release").addEventListener("click", () => change("release"));
  $("reopen").addEventListener("click", () => change("reopen"));
  $("resolve").addEventListener("click", () => change("resolve", { article: $("resolve-article").value || null }));
  $("assign").addEventListener("click", () => change("assign", { to: $("assign-to").value }));
  $("reply").addEventListener("submit", sendReply);
  $("reply-channel").addEventListener("change", renderWindow);
  $("reply-template").addEventListener("change", renderTemplateVariables);
  $("note").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = $("note-body").value;
    if (!body.trim()) return;
    const answer = await change("notes", { body });
    if (answer.status === 201) $("note-body").value = "";
  });
  $("signout").addEventListener("click", async () => {
    const answer = await api("POST", "/auth/logout");
    if (answer.status === 200) location.assign(answer.data.identity_provider_logout || "/desk");
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && document.activeElement === $("reply-body")) {
      $("reply").requestSubmit();
      return;
    }
    if (["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName)) return;
    const index = state.conversations.findIndex((c) => c.id === state.selected);
    if (e.key === "j" || e.key === "k") {
      const next = state.conversations[Math.max(0, Math.min(state.conversations.length - 1, index + (e.key === "j" ? 1 : -1)))];
      if (next) select(next.id);
    } else if (e.key === "c" && state.selected) change("claim");
    else if (e.key === "e" && state.selected) change("resolve", { article: $("resolve-article").value || null });
    else if (e.key === "r" && state.selected) { e.preventDefault(); $("reply-body").focus(); }
    else if (e.key === "n" && state.selected) { e.preventDefault(); $("note-body").focus(); }
    else if (e.key === "?") alert("j/k: next/previous conversation\nc: claim\nr: reply (Ctrl+Enter sends)\nn: note\ne: resolve");
  });
}

async function start() {
  const me = await fetch("/api/me", { credentials: "same-origin" });
  if (me.status === 401) {
    location.assign("/auth/login?return_to=" + encodeURIComponent(location.pathname + location.hash));
    return;
  }
  state.me = await me.json();
  $("who").textContent = (state.me.display_name || state.me.name) + " (" + state.me.role + ")";
  $("view-all").hidden = state.me.role !== "supervisor";
  for (const el of document.querySelectorAll(".supervisor")) el.hidden = state.me.role !== "supervisor";
  try {
    state.drafts = JSON.parse(sessionStorage.getItem("fte-desk-drafts") || "{}");
  } catch (e) {
    state.drafts = {};
  }
  sessionStorage.removeItem("fte-desk-drafts");
  bind();
  await loadQueue();
  const id = location.hash.slice(1);
  if (id) await select(id);
  else listen();
}

start();
