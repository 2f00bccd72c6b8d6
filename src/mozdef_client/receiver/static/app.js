// The development receiver's web page: polls /api/events and shows what arrived.
// Plain DOM, no library, no build step. Event content is only ever set as
// text (textContent), never as HTML.
"use strict";

(function () {
  const POLL_MS = 400;
  const MAX_ROWS = 2000;
  const SVG = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  const rows = new Map(); // event id -> {event, tr}
  let last = 0;
  let selected = null;
  let failures = 0;

  function cell(tr, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    tr.appendChild(td);
  }

  function addEvent(event) {
    const tr = document.createElement("tr");
    tr.dataset.id = String(event.id);
    if (event.errors.length) tr.classList.add("invalid");
    else if (event.warnings.length) tr.classList.add("warned");
    cell(tr, event.time);
    cell(tr, event.kind);
    cell(tr, event.category);
    cell(tr, event.severity, "sev-" + event.severity);
    cell(tr, event.source);
    cell(tr, event.summary, "summary");
    tr.addEventListener("click", () => show(event.id));
    const body = $("events").tBodies[0];
    body.insertBefore(tr, body.firstChild); // newest first
    rows.set(event.id, { event: event, tr: tr });
    while (rows.size > MAX_ROWS) {
      const oldest = rows.keys().next().value;
      rows.get(oldest).tr.remove();
      rows.delete(oldest);
    }
    tr.hidden = !matches(event);
  }

  function matches(event) {
    const severity = $("severity").value;
    const category = $("category").value;
    if (severity && event.severity !== severity) return false;
    if (category && event.category !== category) return false;
    const text = $("filter").value.trim().toLowerCase();
    if (!text) return true;
    const haystack = [event.time, event.kind, event.category, event.severity, event.source,
      event.summary].join(" ").toLowerCase();
    return text.split(/\s+/).every((word) => haystack.includes(word));
  }

  function applyFilters() {
    let shown = 0;
    for (const { event, tr } of rows.values()) {
      tr.hidden = !matches(event);
      if (!tr.hidden) shown += 1;
    }
    $("shown").textContent = shown === rows.size ? rows.size + " events"
      : shown + " of " + rows.size + " events shown";
    $("empty").hidden = rows.size > 0;
  }

  function show(id) {
    const entry = rows.get(id);
    if (!entry) return;
    if (selected !== null && rows.has(selected)) rows.get(selected).tr.classList.remove("selected");
    selected = id;
    entry.tr.classList.add("selected");
    const event = entry.event;
    $("detail-title").textContent = "#" + event.id + " " + event.kind + " event, " +
      event.path + ", " + event.time;
    const list = $("findings");
    list.replaceChildren();
    const findings = event.errors.map((m) => ["error", m])
      .concat(event.warnings.map((m) => ["warning", m]));
    if (!findings.length) findings.push(["ok", "valid: no findings"]);
    for (const [level, message] of findings) {
      const li = document.createElement("li");
      li.className = level;
      li.textContent = level === "ok" ? message : level + ": " + message;
      list.appendChild(li);
    }
    $("document").textContent = JSON.stringify(event.document, null, 2);
    $("detail").hidden = false;
  }

  function updateOptions(select, counts) {
    const known = new Set(Array.from(select.options).map((o) => o.value));
    for (const name of Object.keys(counts).sort()) {
      if (known.has(name)) continue;
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      select.appendChild(option);
    }
  }

  function drawChart(svg, counts, prefix) {
    const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]).slice(0, 6);
    svg.replaceChildren();
    svg.setAttribute("preserveAspectRatio", "xMinYMin meet");
    const width = 360, barHeight = 16, gap = 4, labelWidth = 110, numberWidth = 40;
    svg.setAttribute("viewBox", "0 0 " + width + " " + Math.max(20, entries.length * (barHeight + gap)));
    const most = Math.max(1, ...entries.map((e) => e[1]));
    entries.forEach(([name, count], index) => {
      const y = index * (barHeight + gap);
      const label = document.createElementNS(SVG, "text");
      label.setAttribute("x", "0");
      label.setAttribute("y", String(y + barHeight - 4));
      label.textContent = name.length > 16 ? name.slice(0, 15) + "…" : name;
      const bar = document.createElementNS(SVG, "rect");
      bar.setAttribute("x", String(labelWidth));
      bar.setAttribute("y", String(y));
      bar.setAttribute("height", String(barHeight));
      bar.setAttribute("width", String(Math.max(1, (width - labelWidth - numberWidth) * count / most)));
      bar.setAttribute("class", prefix + name);
      bar.dataset.name = name;
      bar.dataset.count = String(count);
      const number = document.createElementNS(SVG, "text");
      number.setAttribute("x", String(labelWidth + (width - labelWidth - numberWidth) * count / most + 4));
      number.setAttribute("y", String(y + barHeight - 4));
      number.textContent = String(count);
      svg.append(label, bar, number);
    });
  }

  async function poll() {
    try {
      const answer = await fetch("/api/events?after=" + last, { cache: "no-store" });
      if (!answer.ok) throw new Error("HTTP " + answer.status);
      const data = await answer.json();
      for (const event of data.events) addEvent(event);
      if (data.events.length) last = data.events[data.events.length - 1].id;
      updateOptions($("severity"), data.counts.severity);
      updateOptions($("category"), data.counts.category);
      drawChart($("chart-category"), data.counts.category, "cat-");
      drawChart($("chart-severity"), data.counts.severity, "sev-");
      applyFilters();
      failures = 0;
      $("status").textContent = "live: " + data.last + " events received";
      // A page that fell behind asks again at once.
      setTimeout(poll, data.events.length && last < data.last ? 0 : POLL_MS);
    } catch (error) {
      failures += 1;
      $("status").textContent = "receiver not answering (" + error.message + "); retrying";
      setTimeout(poll, Math.min(5000, POLL_MS * 2 ** failures));
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const id of ["filter", "severity", "category"]) {
      $(id).addEventListener("input", applyFilters);
      $(id).addEventListener("change", applyFilters);
    }
    $("close").addEventListener("click", () => {
      $("detail").hidden = true;
      if (selected !== null && rows.has(selected)) rows.get(selected).tr.classList.remove("selected");
      selected = null;
    });
    poll();
  });
})();
