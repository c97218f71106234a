/* Agent UI: suggestions streamed over server-sent events, keyboard shortcuts, canned responses,
   entity corrections and live message updates.  Plain JavaScript, no build step. */
(function () {
  "use strict";

  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));

  function isTyping(target) {
    const tag = (target.tagName || "").toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  // "/" focuses the page's search or filter box (inbox and conversation).
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "/" && !isTyping(ev.target) && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
      const search = $("[data-shortcut-search]");
      if (search) {
        ev.preventDefault();
        search.focus();
        search.select();
      }
    }
  });

  // Filters and the status menu submit their form when changed (no inline handlers: CSP).
  $$("[data-autosubmit]").forEach((el) => el.addEventListener("change", () => el.form.submit()));

  // --- inbox: new conversations and messages appear without reloading; unread count in the tab title ---
  const inboxList = $("#inbox-list");
  if (inboxList) {
    const notice = $("#inbox-notice");
    const baseTitle = document.title.replace(/^\(\d+\) /, "");
    let seenNew = 0;
    async function pollInbox() {
      const params = new URLSearchParams(location.search);
      params.set("cursor", inboxList.dataset.cursor);
      try {
        const response = await fetch(`${inboxList.dataset.updatesUrl}?${params}`, { headers: { Accept: "application/json" } });
        const data = await response.json();
        inboxList.dataset.cursor = data.cursor;
        if (!data.changed) return;
        inboxList.innerHTML = data.html;
        document.title = data.unread ? `(${data.unread}) ${baseTitle}` : baseTitle;
        if (data.new.length) {
          seenNew += data.new.length;
          notice.textContent = `${seenNew} new conversation${seenNew === 1 ? "" : "s"}: ${data.new.map((c) => c.customer_name).join(", ")}`;
          notice.hidden = false;
        }
      } catch (err) {
        /* offline for a moment: try again on the next tick */
      }
    }
    setInterval(() => {
      if (!document.hidden) pollInbox();
    }, 3000);
  }

  const root = $("#conversation");
  if (!root) return;

  const csrf = $("input[name=csrfmiddlewaretoken]").value;
  const textarea = $("#composer-text");
  const form = $("#composer");
  const panel = $("#suggestion");
  const statusLine = $("#suggestion-status");
  const flagsList = $("#suggestion-flags");
  const sourcesBox = $("#suggestion-sources");
  const hiddenId = $("#suggestion-id");
  const btnSuggest = $("#btn-suggest");
  const btnStop = $("#btn-stop");
  const btnReject = $("#btn-reject");
  const errorLine = $("#composer-error");
  const messagesBox = $("#messages");

  async function post(url, data) {
    const body = new URLSearchParams(data || {});
    const response = await fetch(url, {
      method: "POST",
      body,
      headers: { "X-CSRFToken": csrf, Accept: "application/json" },
      credentials: "same-origin",
    });
    const json = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(json.error || `HTTP ${response.status}`);
    return json;
  }

  function showError(message) {
    errorLine.textContent = message;
    errorLine.hidden = !message;
  }

  // --- suggestions -------------------------------------------------------------------
  let current = null; // {id, urls..., source, pollTimer, finished}

  function setStreaming(on) {
    textarea.readOnly = on;
    btnStop.hidden = !on;
    btnSuggest.disabled = on;
    root.classList.toggle("is-streaming", on);
  }

  function renderFlags(flagged, claims) {
    flagsList.innerHTML = "";
    (flagged || []).forEach((f) => {
      const li = document.createElement("li");
      li.textContent = `Removed ${f.label} "${f.text}": not found in the conversation or sources.`;
      flagsList.appendChild(li);
    });
    (claims || []).forEach((sentence) => {
      const li = document.createElement("li");
      li.className = "claim";
      li.textContent = `Check before sending: "${sentence}" says it is already done.`;
      flagsList.appendChild(li);
    });
    flagsList.hidden = !((flagged && flagged.length) || (claims && claims.length));
  }

  function renderSources(sources) {
    const list = $("ul", sourcesBox);
    list.innerHTML = "";
    (sources || []).forEach((s) => {
      const li = document.createElement("li");
      li.textContent = `${s.kind === "canned" ? "Canned" : "Article"}: ${s.title} (${Number(s.score).toFixed(2)})`;
      list.appendChild(li);
    });
    sourcesBox.hidden = !(sources && sources.length);
  }

  function finish(kind, data) {
    if (!current || current.finished) return;
    current.finished = true;
    if (current.source) current.source.close();
    if (current.pollTimer) clearInterval(current.pollTimer);
    setStreaming(false);
    if (typeof data.text === "string") textarea.value = data.text;
    renderFlags(data.flagged, data.claims);
    renderSources(data.sources);
    if (kind === "error") {
      statusLine.textContent = `failed: ${data.error || "unknown error"}`;
      hiddenId.value = "";
      return;
    }
    hiddenId.value = current.id;
    btnReject.hidden = false;
    const secs = data.latency_ms ? ` in ${(data.latency_ms / 1000).toFixed(1)} s` : "";
    const first = data.first_token_ms ? `, first words after ${Math.round(data.first_token_ms)} ms` : "";
    statusLine.textContent = kind === "cancelled" ? "stopped: edit or send what is there" : `ready${secs}${first} · ${data.model || ""}`;
    root.dataset.suggestionState = kind;
    textarea.focus();
    textarea.setSelectionRange(textarea.value.length, textarea.value.length);
  }

  function startPolling() {
    if (!current || current.finished || current.pollTimer) return;
    const tick = async () => {
      try {
        const response = await fetch(current.state_url, { headers: { Accept: "application/json" } });
        const data = await response.json();
        if (data.status === "done" || data.status === "cancelled") finish(data.status, data);
        else if (data.status === "failed") finish("error", data);
        else textarea.value = data.text;
      } catch (err) {
        /* keep polling: a blip in the network is not the end of the suggestion */
      }
    };
    current.pollTimer = setInterval(tick, 400);
  }

  async function suggest() {
    if (current && !current.finished) return;
    showError("");
    let info;
    try {
      info = await post(root.dataset.suggestUrl);
    } catch (err) {
      showError(`Could not ask for a suggestion: ${err.message}`);
      return;
    }
    current = Object.assign({ finished: false }, info);
    panel.hidden = false;
    btnReject.hidden = true;
    renderFlags([]);
    renderSources([]);
    root.dataset.suggestionState = "streaming";
    statusLine.textContent = "writing…";
    textarea.value = "";
    hiddenId.value = "";
    setStreaming(true);
    if (!window.EventSource) {
      startPolling();
      return;
    }
    const source = new EventSource(info.stream_url);
    current.source = source;
    source.addEventListener("text", (ev) => {
      textarea.value = JSON.parse(ev.data).text;
      textarea.scrollTop = textarea.scrollHeight;
    });
    // One final `done` event carries the outcome in `status` (done, cancelled or failed).
    source.addEventListener("done", (ev) => {
      source.close();
      const data = JSON.parse(ev.data || "{}");
      finish(data.status === "failed" ? "error" : data.status, data);
    });
    source.addEventListener("timeout", () => {
      source.close();
      startPolling();
    });
    source.onerror = () => {
      // The stream broke before a final event: fall back to polling the suggestion's state.
      source.close();
      startPolling();
    };
  }

  async function stop() {
    if (!current || current.finished) return;
    statusLine.textContent = "stopping…";
    try {
      await post(current.cancel_url);
    } catch (err) {
      showError(`Could not stop: ${err.message}`);
    }
  }

  async function reject() {
    if (!current) return;
    try {
      await post(current.reject_url);
    } catch (err) {
      showError(`Could not record the rejection: ${err.message}`);
    }
    textarea.value = "";
    hiddenId.value = "";
    panel.hidden = true;
    btnReject.hidden = true;
    textarea.focus();
  }

  btnSuggest.addEventListener("click", suggest);
  btnStop.addEventListener("click", stop);
  btnReject.addEventListener("click", reject);

  form.addEventListener("submit", (ev) => {
    if (!textarea.value.trim()) {
      ev.preventDefault();
      showError("Write a reply first.");
      return;
    }
    if (current && !current.finished) {
      ev.preventDefault();
      showError("Stop the suggestion (Esc) before sending.");
    }
  });

  // --- keyboard shortcuts --------------------------------------------------------------
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && document.activeElement === textarea) {
      ev.preventDefault();
      form.requestSubmit();
    } else if (ev.altKey && (ev.key === "s" || ev.key === "S" || ev.code === "KeyS")) {
      ev.preventDefault();
      suggest();
    } else if (ev.key === "Escape") {
      if (pop && !pop.hidden) closePop();
      else stop();
    }
  });

  // --- canned responses ------------------------------------------------------------------
  const cannedSearch = $("#canned-search");
  cannedSearch.addEventListener("input", () => {
    const q = cannedSearch.value.trim().toLowerCase();
    $$("#canned-list li").forEach((li) => {
      li.hidden = q !== "" && !li.textContent.toLowerCase().includes(q);
    });
  });
  cannedSearch.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault();
      const first = $$("#canned-list li").find((li) => !li.hidden);
      if (first) $("button", first).click();
    }
  });
  $$(".canned-item").forEach((button) =>
    button.addEventListener("click", () => {
      const text = button.dataset.text;
      const start = textarea.selectionStart ?? textarea.value.length;
      const end = textarea.selectionEnd ?? textarea.value.length;
      textarea.value = textarea.value.slice(0, start) + text + textarea.value.slice(end);
      textarea.focus();
      textarea.setSelectionRange(start + text.length, start + text.length);
    }),
  );

  // --- entity corrections -----------------------------------------------------------------
  const pop = $("#entity-pop");

  function closePop() {
    if (pop) pop.hidden = true;
  }

  function openPop(mark) {
    if (!pop) return;
    $("#pop-text", pop).textContent = mark.textContent;
    $("#pop-meta", pop).textContent = `${mark.dataset.label} · score ${mark.dataset.score} · ${mark.dataset.source}`;
    $("#pop-label", pop).value = mark.dataset.label;
    pop.action = root.dataset.correctUrlTemplate.replace("/0/", `/${mark.dataset.entityId}/`);
    pop.hidden = false;
    const rect = mark.getBoundingClientRect();
    const width = Math.min(320, window.innerWidth - 16);
    pop.style.width = `${width}px`;
    pop.style.left = `${Math.max(8, Math.min(rect.left + window.scrollX, window.scrollX + window.innerWidth - width - 8))}px`;
    pop.style.top = `${rect.bottom + window.scrollY + 6}px`;
    $("#pop-label", pop).focus();
  }

  if (pop) {
    messagesBox.addEventListener("click", (ev) => {
      const mark = ev.target.closest("mark.ent");
      if (mark) openPop(mark);
    });
    messagesBox.addEventListener("keydown", (ev) => {
      const mark = ev.target.closest && ev.target.closest("mark.ent");
      if (mark && (ev.key === "Enter" || ev.key === " ")) {
        ev.preventDefault();
        openPop(mark);
      }
    });
    $("#pop-close", pop).addEventListener("click", closePop);
    pop.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await post(pop.action, { label: $("#pop-label", pop).value });
        closePop();
        refreshMessages(true);
      } catch (err) {
        showError(`Correction not saved: ${err.message}`);
      }
    });
  }

  // --- live messages ------------------------------------------------------------------------
  function scrollToEnd() {
    messagesBox.scrollTop = messagesBox.scrollHeight;
  }

  // Read by a POST once the page is seen (a GET never marks a conversation read).
  function markRead() {
    post(root.dataset.readUrl).catch(() => {
      /* the next update or visit tries again */
    });
  }
  if (!document.hidden) markRead();
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) markRead();
  });

  // The list from the oldest message shown on (data-start), so older pages loaded stay.
  async function refreshMessages(force) {
    const params = new URLSearchParams({ version: force ? "" : messagesBox.dataset.version });
    if (messagesBox.dataset.start) params.set("start", messagesBox.dataset.start);
    try {
      const response = await fetch(`${root.dataset.messagesUrl}?${params}`, {
        headers: { Accept: "application/json" },
      });
      const data = await response.json();
      if (data.changed) {
        if (!document.hidden) markRead();
        const atEnd = messagesBox.scrollHeight - messagesBox.scrollTop - messagesBox.clientHeight < 40;
        messagesBox.innerHTML = data.html;
        messagesBox.dataset.version = data.version;
        if (data.first) messagesBox.dataset.start = data.first;
        if (atEnd) scrollToEnd();
      }
    } catch (err) {
      /* offline for a moment: try again on the next tick */
    }
  }

  // "Older messages": the page before the oldest one shown, added on top without moving the view.
  messagesBox.addEventListener("click", async (ev) => {
    const link = ev.target.closest("a.older");
    if (!link) return;
    ev.preventDefault();
    try {
      const response = await fetch(`${root.dataset.messagesUrl}?before=${encodeURIComponent(link.dataset.before)}`, {
        headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const data = await response.json();
      const height = messagesBox.scrollHeight;
      link.closest(".older-wrap").remove();
      messagesBox.insertAdjacentHTML("afterbegin", data.html);
      if (data.first) messagesBox.dataset.start = data.first;
      messagesBox.scrollTop += messagesBox.scrollHeight - height;
    } catch (err) {
      showError(`Could not load older messages: ${err.message}`);
    }
  });

  // --- personal data: reveal masked cards/IBANs (logged by the server), preview of redaction -----
  messagesBox.addEventListener("click", async (ev) => {
    const button = ev.target.closest("button.pii-reveal");
    if (!button) return;
    try {
      const data = await post(button.dataset.revealUrl);
      const article = button.closest("article.msg");
      const text = $(".msg-text", article);
      text.insertAdjacentHTML("afterend", data.html);
      text.remove();
      button.remove();
    } catch (err) {
      showError(`Not revealed: ${err.message}`);
    }
  });

  const redactBox = $("#redact");
  const preview = $("#redact-preview");
  let previewTimer = null;
  async function updatePreview() {
    if (!redactBox.checked || !textarea.value.trim()) {
      preview.hidden = true;
      return;
    }
    try {
      const data = await post(root.dataset.redactionPreviewUrl, { text: textarea.value });
      const list = $("ul", preview);
      list.replaceChildren(
        ...data.removed.map((item) => {
          const li = document.createElement("li");
          const value = document.createElement("del");
          value.textContent = item.text;
          li.append(value, ` → ${item.replacement}`);
          return li;
        }),
      );
      preview.hidden = data.removed.length === 0;
    } catch (err) {
      preview.hidden = true;
    }
  }
  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(updatePreview, 300);
  }
  if (redactBox && preview) {
    textarea.addEventListener("input", schedulePreview);
    textarea.addEventListener("focus", schedulePreview);
    redactBox.addEventListener("change", updatePreview);
  }

  scrollToEnd();
  setInterval(() => {
    if (!document.hidden) refreshMessages(false);
  }, 3000);
})();
