/* Customer page: new agent replies appear without reloading; Ctrl+Enter sends. */
(function () {
  "use strict";
  const root = document.getElementById("customer");
  if (!root) return;
  const box = document.getElementById("customer-messages");
  const textarea = document.getElementById("customer-text");
  const form = document.getElementById("customer-form");

  function lastId() {
    const items = box.querySelectorAll("[data-message-id]");
    return items.length ? items[items.length - 1].dataset.messageId : "0";
  }

  async function poll() {
    try {
      const response = await fetch(`${root.dataset.pollUrl}?after=${lastId()}`, { headers: { Accept: "application/json" } });
      const data = await response.json();
      if (data.html && data.html.trim()) {
        box.insertAdjacentHTML("beforeend", data.html);
        box.scrollTop = box.scrollHeight;
      }
    } catch (err) {
      /* try again on the next tick */
    }
  }

  textarea.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  box.scrollTop = box.scrollHeight;
  setInterval(() => {
    if (!document.hidden) poll();
  }, 2000);
})();
