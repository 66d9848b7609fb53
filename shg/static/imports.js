/* Import pages: send the check / import form with fetch and show the request's streamed
   progress (one JSON object a line: {"done": n, "total": N}, then {"next": url}).
   Without this script the forms post normally and the page comes back when done. */
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box || !window.fetch || !window.TextDecoder) { return; }
  var bar = box.querySelector(".progress-bar");
  var note = box.querySelector("p");

  function show(done, total) {
    var share = total ? Math.floor(100 * done / total) : 0;
    bar.style.width = share + "%";
    bar.parentNode.setAttribute("aria-valuenow", String(share));
    note.textContent = note.dataset.text.replace("%(done)s", done.toLocaleString())
      .replace("%(total)s", total.toLocaleString());
  }

  function failed() {
    note.textContent = note.dataset.failed;
    bar.classList.remove("bg-success");
    bar.classList.add("bg-danger");
  }

  function send(form) {
    var buttons = document.querySelectorAll("form[data-import-progress] button");
    buttons.forEach(function (b) { b.disabled = true; });
    box.classList.remove("d-none");
    bar.style.width = "0%";
    note.textContent = note.dataset.waiting;
    fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin",
                        headers: {"X-Import-Progress": "1"}})
      .then(function (response) {
        if (!response.ok || !response.body) { throw new Error(String(response.status)); }
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        var pending = "";
        var next = null;
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) {
              if (next) { window.location.assign(next); } else { failed(); }
              return;
            }
            pending += decoder.decode(chunk.value, {stream: true});
            var lines = pending.split("\n");
            pending = lines.pop();
            lines.forEach(function (line) {
              if (!line) { return; }
              var message = JSON.parse(line);
              if (message.next) { next = message.next; }
              if (typeof message.total === "number") { show(message.done, message.total); }
            });
            return pump();
          });
        }
        return pump();
      })
      .catch(failed);
  }

  document.querySelectorAll("form[data-import-progress]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      send(form);
    });
  });
}());
