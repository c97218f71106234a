// Review pages: keyboard navigation, review actions and adding a missed entity by selecting text.
// Offsets sent to the server are Python code points; the browser's are UTF-16 units, so every
// offset is converted (an emoji is one code point but two UTF-16 units).
(function () {
  "use strict";

  function csrfToken() {
    const el = document.querySelector("input[name=csrfmiddlewaretoken]");
    return el ? el.value : "";
  }

  function isTyping(event) {
    const t = event.target;
    return t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA" || t.isContentEditable);
  }

  // Code-point offset into the document of a DOM position inside the rendered text.
  function codePointOffset(root, node, offset) {
    const el = node.nodeType === Node.TEXT_NODE ? node.parentElement : node;
    const piece = el && el.closest("[data-start]");
    if (!piece || !root.contains(piece)) {
      return null;
    }
    const range = document.createRange();
    range.setStart(piece, 0);
    range.setEnd(node, offset);
    return parseInt(piece.dataset.start, 10) + Array.from(range.toString()).length;
  }

  function selectionOffsets(root) {
    const sel = window.getSelection();
    if (!sel || sel.rangeCount === 0 || sel.isCollapsed) {
      return null;
    }
    const range = sel.getRangeAt(0);
    if (!root.contains(range.commonAncestorContainer)) {
      return null;
    }
    let start = codePointOffset(root, range.startContainer, range.startOffset);
    let end = codePointOffset(root, range.endContainer, range.endOffset);
    if (start === null || end === null) {
      return null;
    }
    // The text shown may be one part of a long document, starting at offset `base` of the whole.
    const base = parseInt(root.dataset.start || "0", 10);
    const chars = Array.from(root.textContent);
    while (start < end && /\s/.test(chars[start - base])) start++;
    while (end > start && /\s/.test(chars[end - 1 - base])) end--;
    return end > start ? { start: start, end: end, text: chars.slice(start - base, end - base).join("") } : null;
  }

  function initDocument(page) {
    const actionUrl = page.dataset.actionUrl;
    const textEl = page.querySelector(".doc-text");
    const rows = Array.from(page.querySelectorAll("tr[data-entity]"));
    const status = page.querySelector("#review-status");
    const panel = page.querySelector("#add-panel");
    const editor = page.querySelector("#editor");
    let focus = Math.min(parseInt(new URLSearchParams(location.search).get("focus") || "0", 10) || 0, rows.length - 1);

    function show(message, isError) {
      status.textContent = message;
      status.className = isError ? "error" : "muted";
    }

    function post(payload) {
      return fetch(actionUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(payload),
        credentials: "same-origin",
      }).then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) {
            throw new Error(body.error || response.statusText);
          }
          return body;
        });
      });
    }

    function act(payload, after) {
      show("saving…", false);
      return post(payload)
        .then(function () {
          if (after) {
            after();
            return;
          }
          const url = new URL(location.href);
          url.searchParams.set("focus", String(focus));
          location.replace(url.toString());
        })
        .catch(function (err) {
          show(err.message, true);
        });
    }

    function setFocus(i) {
      if (!rows.length) return;
      focus = Math.max(0, Math.min(rows.length - 1, i));
      rows.forEach(function (row, n) {
        row.classList.toggle("focused", n === focus);
      });
      page.querySelectorAll("mark.ent").forEach(function (m) {
        m.classList.toggle("focused", m.dataset.entity === rows[focus].dataset.entity);
      });
      rows[focus].scrollIntoView({ block: "nearest" });
    }

    function targetIds() {
      const checked = rows.filter(function (r) {
        return r.querySelector("input.pick").checked;
      });
      const chosen = checked.length ? checked : rows.length ? [rows[focus]] : [];
      return chosen.map(function (r) {
        return r.dataset.entity; // a number, or "n<k>" for a span this reviewer added
      });
    }

    function openEditor() {
      if (!rows.length) return;
      const row = rows[focus];
      editor.hidden = false;
      editor.dataset.entity = row.dataset.entity;
      editor.querySelector("[name=label]").value = row.dataset.label;
      editor.querySelector("[name=start]").value = row.dataset.start;
      editor.querySelector("[name=end]").value = row.dataset.end;
      editor.querySelector("[name=label]").focus();
    }

    editor.addEventListener("submit", function (event) {
      event.preventDefault();
      act({
        action: "correct",
        entity: editor.dataset.entity,
        label: editor.querySelector("[name=label]").value,
        start: parseInt(editor.querySelector("[name=start]").value, 10),
        end: parseInt(editor.querySelector("[name=end]").value, 10),
      });
    });
    editor.querySelector(".use-selection").addEventListener("click", function () {
      const sel = selectionOffsets(textEl);
      if (!sel) {
        show("select the new boundaries in the text first", true);
        return;
      }
      editor.querySelector("[name=start]").value = sel.start;
      editor.querySelector("[name=end]").value = sel.end;
    });
    editor.querySelector(".cancel").addEventListener("click", function () {
      editor.hidden = true;
    });

    let pending = null;
    textEl.addEventListener("mouseup", function (event) {
      // While the editor is open a selection is for "Use text selection", not a new entity.
      const sel = editor.hidden ? selectionOffsets(textEl) : null;
      if (!sel) {
        panel.hidden = true;
        return;
      }
      pending = sel;
      panel.querySelector(".sel-text").textContent = sel.text;
      panel.style.left = event.pageX + "px";
      panel.style.top = event.pageY + 12 + "px";
      panel.hidden = false;
      panel.querySelector("select").focus();
    });
    panel.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!pending) return;
      act({ action: "add", start: pending.start, end: pending.end, label: panel.querySelector("select").value });
    });
    panel.querySelector(".cancel").addEventListener("click", function () {
      panel.hidden = true;
    });

    page.querySelectorAll("[data-action]").forEach(function (button) {
      button.addEventListener("click", function () {
        const kind = button.dataset.action;
        if (kind === "accept" || kind === "reject") act({ action: kind, entities: targetIds() });
        else if (kind === "relabel") act({ action: "relabel", entities: targetIds(), label: page.querySelector("#bulk-label").value });
        else if (kind === "edit") openEditor();
        else if (kind === "complete") complete();
        else if (kind === "resolve") act({ action: "resolve", annotation: parseInt(button.dataset.annotation, 10) });
        else if (kind === "resolve_edits") act({ action: "resolve_edits" });
        else if (kind === "undo") undo();
      });
    });
    rows.forEach(function (row, n) {
      row.addEventListener("click", function (event) {
        if (event.target.tagName !== "INPUT" && event.target.tagName !== "BUTTON") setFocus(n);
      });
    });

    function undo() {
      if (page.querySelector("#undo").disabled) {
        show("nothing of yours to undo here", true);
        return;
      }
      act({ action: "undo" });
    }

    function complete() {
      act({ action: "complete" }, function () {
        const next = page.dataset.nextUrl;
        location.assign(next || page.dataset.queueUrl);
      });
    }

    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        panel.hidden = true;
        editor.hidden = true;
        return;
      }
      if (isTyping(event) || event.ctrlKey || event.metaKey || event.altKey) return;
      const keys = {
        j: function () { setFocus(focus + 1); },
        k: function () { setFocus(focus - 1); },
        a: function () { act({ action: "accept", entities: targetIds() }); },
        r: function () { act({ action: "reject", entities: targetIds() }); },
        e: openEditor,
        x: function () {
          if (!rows.length) return;
          const box = rows[focus].querySelector("input.pick");
          box.checked = !box.checked;
        },
        d: complete,
        z: undo,
        n: function () { if (page.dataset.nextUrl) location.assign(page.dataset.nextUrl); },
        "[": function () { if (page.dataset.previousPartUrl) location.assign(page.dataset.previousPartUrl); },
        "]": function () { if (page.dataset.nextPartUrl) location.assign(page.dataset.nextPartUrl); },
        u: function () { location.assign(page.dataset.queueUrl); },
      };
      const handler = keys[event.key];
      if (handler) {
        event.preventDefault();
        handler();
      }
    });
    setFocus(focus);
  }

  function initQueue(page) {
    const rows = Array.from(page.querySelectorAll("tr[data-url]"));
    let focus = 0;
    function setFocus(i) {
      if (!rows.length) return;
      focus = Math.max(0, Math.min(rows.length - 1, i));
      rows.forEach(function (row, n) {
        row.classList.toggle("focused", n === focus);
      });
      rows[focus].scrollIntoView({ block: "nearest" });
    }
    document.addEventListener("keydown", function (event) {
      if (isTyping(event) || event.ctrlKey || event.metaKey || event.altKey || !rows.length) return;
      if (event.key === "j") setFocus(focus + 1);
      else if (event.key === "k") setFocus(focus - 1);
      else if (event.key === "Enter" || event.key === "o") location.assign(rows[focus].dataset.url);
      else if (event.key === "x") {
        const box = rows[focus].querySelector("input[type=checkbox]");
        box.checked = !box.checked;
      } else return;
      event.preventDefault();
    });
    setFocus(0);
  }

  function initRegistry(page) {
    const rows = Array.from(page.querySelectorAll("tr[data-training]"));
    rows.forEach(function (row) {
      const bar = row.querySelector(".progress > span");
      const label = row.querySelector(".progress-text");
      function poll() {
        fetch(row.dataset.statusUrl, { credentials: "same-origin" })
          .then(function (r) { return r.json(); })
          .then(function (s) {
            bar.style.width = Math.round(s.progress * 100) + "%";
            label.textContent = Math.round(s.progress * 100) + "% " + s.status + (s.error ? ": " + s.error : "");
            if (s.status === "training") setTimeout(poll, 1000);
            else location.reload();
          })
          .catch(function () { setTimeout(poll, 3000); });
      }
      poll();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const doc = document.getElementById("review-document");
    if (doc) initDocument(doc);
    const queue = document.getElementById("review-queue");
    if (queue) initQueue(queue);
    const registry = document.getElementById("registry");
    if (registry) initRegistry(registry);
  });
})();
