// Progressive enhancement only: every page works without this file except the streamed chat.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;  // text only: never innerHTML
    return node;
  }

  // Agenda: show elapsed time while the coach prepares it, then render the result.
  var form = document.getElementById("agenda-form");
  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var button = document.getElementById("agenda-button");
      var progress = document.getElementById("agenda-progress");
      var minutes = parseInt(document.getElementById("minutes").value, 10);
      var started = Date.now();
      button.disabled = true;
      var timer = setInterval(function () {
        progress.textContent = "Preparing the agenda… " + ((Date.now() - started) / 1000).toFixed(1) + " s";
      }, 100);
      fetch("/api/v1/pairs/" + form.dataset.pair + "/agenda", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
        body: JSON.stringify({minutes: minutes, lead: document.getElementById("lead").value || null})
      }).then(function (r) { return r.json().then(function (b) { return {ok: r.ok, body: b}; }); })
        .then(function (res) {
          clearInterval(timer);
          button.disabled = false;
          if (!res.ok) { progress.textContent = res.body.error.message; return; }
          progress.textContent = "Ready in " + ((Date.now() - started) / 1000).toFixed(1) + " s.";
          renderAgenda(res.body);
          button.textContent = "Regenerate agenda";
        }).catch(function () {
          clearInterval(timer); button.disabled = false;
          progress.textContent = "The coach did not answer. Try again.";
        });
    });
  }

  function renderAgenda(a) {
    var body = document.getElementById("agenda-body");
    body.textContent = "";
    var list = el("ol", "agenda");
    list.id = "agenda-items";
    a.items.forEach(function (item) {
      var li = el("li", "item " + item.kind);
      li.appendChild(el("span", "mins", item.minutes + " min"));
      li.appendChild(el("strong", "", " " + item.title));
      li.appendChild(el("p", "", item.details));
      if (item.sources.length) li.appendChild(el("p", "sources", "Sources: " + item.sources.join(", ")));
      list.appendChild(li);
    });
    body.appendChild(list);
    var total = a.items.reduce(function (s, i) { return s + i.minutes; }, 0);
    body.appendChild(el("p", "muted", "Total " + total + " of " + a.minutes + " minutes."));
    if (a.opening_questions.length) {
      body.appendChild(el("h3", "", "Opening questions"));
      var qs = el("ul");
      a.opening_questions.forEach(function (q) { qs.appendChild(el("li", "", q)); });
      body.appendChild(qs);
    }
    if (a.prep_notes.length) {
      body.appendChild(el("h3", "", "Prep notes"));
      var ns = el("ul");
      a.prep_notes.forEach(function (n) { ns.appendChild(el("li", "", n.note + " (" + n.source + ")")); });
      body.appendChild(ns);
    }
    var p = a.provenance;
    body.appendChild(el("p", "muted small", "Prepared by " + p.backend +
      (p.fallback ? " (checked fallback: " + p.fallback_reason + ")" : "") + "." +
      (a.lead ? " Led with what you chose." : "")));
    renderLeads(a);
  }

  // The alternatives the next agenda may be led with, the current lead selected.
  function renderLeads(a) {
    var select = document.getElementById("lead");
    select.textContent = "";
    var coach = el("option", "", "The coach's choice");
    coach.value = "";
    select.appendChild(coach);
    (a.alternatives || []).forEach(function (alt) {
      var option = el("option", "", alt.title);
      option.value = alt.lead;
      option.selected = alt.lead === a.lead;
      select.appendChild(option);
    });
    document.getElementById("lead-choice").hidden = !(a.alternatives || []).length;
  }

  // Chat: stream tokens from server-sent events over a POST.
  var chat = document.getElementById("chat-form");
  if (chat) {
    chat.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var box = document.getElementById("chat-message");
      var text = box.value.trim();
      if (!text) return;
      var log = document.getElementById("chat-log");
      var send = document.getElementById("chat-send");
      log.appendChild(el("div", "msg user")).appendChild(el("p", "", text));
      var answer = el("div", "msg assistant");
      var para = el("p", "", "");
      answer.appendChild(para);
      log.appendChild(answer);
      var status = null;  // "checking the answer…" while the model works; gone at the first text
      function settle() {
        if (status) { status.remove(); status = null; }
      }
      function fail(message) {  // never replaces text already shown: that text was checked
        settle();
        if (para.textContent) answer.appendChild(el("p", "muted small", message));
        else para.textContent = message;
      }
      box.value = "";
      send.disabled = true;
      fetch("/api/v1/pairs/" + chat.dataset.pair + "/chat", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
        body: JSON.stringify({message: text})
      }).then(function (r) {
        if (!r.ok) return r.json().then(function (b) { fail(b.error.message); });
        var reader = r.body.getReader(), decoder = new TextDecoder(), buffer = "";
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) return;
            buffer += decoder.decode(chunk.value, {stream: true});
            var parts = buffer.split("\n\n");
            buffer = parts.pop();
            parts.forEach(function (block) {
              var event = "message", data = "";
              block.split("\n").forEach(function (line) {
                if (line.indexOf("event: ") === 0) event = line.slice(7);
                if (line.indexOf("data: ") === 0) data += line.slice(6);
              });
              var payload = JSON.parse(data || "null");
              if (event === "checking") {
                if (!status) status = answer.insertBefore(
                  el("p", "muted small", "Checking the answer against the guidance…"), para);
              } else if (event === "token") { settle(); para.textContent += payload; }
              else if (event === "error") fail(payload.message);
              else if (event === "done") {
                settle();
                // the tokens add up to the answer: text shown is never replaced
                if (!para.textContent) para.textContent = payload.answer;
                if (payload.citations.length) {
                  answer.appendChild(el("p", "cites", payload.citations.map(function (c) {
                    return "[" + c.n + "] " + c.heading + " (" + (c.origin || c.source) + ")";
                  }).join(" · ")));
                }
              }
            });
            return pump();
          });
        }
        return pump();
      }).catch(function () { fail("The coach did not answer. Try again."); })
        .finally(function () { send.disabled = false; box.focus(); });
    });
  }
})();
