// The console, enhanced. Without this file every form posts and comes back (the server
// filters the feed too); with it: the live parts arrive over ONE server-sent-events stream
// (the walls' mechanism), actions post in the background with the session's CSRF token in a
// header, the feed is filtered as you type, and the keyboard works the feed:
// j / k move, x selects, s stars, h hides, v shows (the selected ones, else the current one).
(function () {
  "use strict";
  var main = document.getElementById("console");
  var notice = document.getElementById("notice");
  var offline = document.getElementById("offline");
  if (!main) {
    return;
  }
  var csrf = main.getAttribute("data-csrf");
  var current = null;  // the id of the input the keys act on

  function say(text) {
    if (!notice || !text) {
      return;
    }
    notice.textContent = text;
    notice.hidden = false;
  }

  // -- filters ---------------------------------------------------------------------------
  function value(id) {
    var field = document.getElementById(id);
    return field ? field.value : "";
  }

  function applyFilters() {
    var table = value("filter-table");
    var prompt = value("filter-prompt");
    var text = value("filter-text").toLowerCase();
    var items = main.querySelectorAll(".item");
    for (var i = 0; i < items.length; i++) {
      var item = items[i];
      var shown = (!table || item.getAttribute("data-table") === table) &&
        (!prompt || item.getAttribute("data-prompt") === prompt) &&
        (!text || (item.getAttribute("data-text") || "").indexOf(text) !== -1);
      item.classList.toggle("filtered-out", !shown);
    }
  }

  var filters = document.querySelector(".filters");
  if (filters) {
    filters.addEventListener("input", applyFilters);
    filters.addEventListener("change", applyFilters);
    filters.addEventListener("submit", function (event) {
      event.preventDefault();
      applyFilters();
    });
  }

  // -- live parts ------------------------------------------------------------------------
  function swap(html) {
    var checked = {};
    var boxes = main.querySelectorAll(".item input[type=checkbox]:checked");
    for (var i = 0; i < boxes.length; i++) {
      checked[boxes[i].value] = true;
    }
    var focused = document.activeElement && document.activeElement.closest ?
      document.activeElement.closest(".item") : null;
    var incoming = document.createElement("div");
    incoming.innerHTML = html;  // server-rendered and escaped by the templates
    var parts = incoming.querySelectorAll("[data-part]");
    for (var j = 0; j < parts.length; j++) {
      var name = parts[j].getAttribute("data-part");
      var place = document.getElementById("part-" + name);
      // A part that did not change is left alone: focus, scroll and clicks stay where they are.
      if (place && place.innerHTML !== parts[j].innerHTML) {
        place.innerHTML = parts[j].innerHTML;
      }
    }
    var again = main.querySelectorAll(".item input[type=checkbox]");
    for (var k = 0; k < again.length; k++) {
      again[k].checked = !!checked[again[k].value];
    }
    applyFilters();
    mark(current, focused !== null);
  }

  var live = main.getAttribute("data-live");
  if (live && window.EventSource) {
    var source = new EventSource(live);
    source.addEventListener("state", function (message) {
      swap(message.data);
    });
    source.addEventListener("gone", function () {
      source.close();
      window.location.reload();  // the session ended: the server says so in words
    });
    source.addEventListener("open", function () {
      offline.hidden = true;
      document.documentElement.setAttribute("data-live", "open");
    });
    source.addEventListener("error", function () {
      offline.hidden = false;
      document.documentElement.setAttribute("data-live", "retrying");
    });
  }

  // -- actions without reload --------------------------------------------------------------
  function post(form, submitter) {
    var body = new FormData(form);
    if (submitter && submitter.name) {
      body.append(submitter.name, submitter.value);
    }
    // Attributes, not form.id or form.action: a form's controls named so would shadow them.
    var moderating = form.getAttribute("id") === "moderate";
    if (moderating && !(submitter && submitter.name === "one")) {
      // The checkboxes belong to the form (form="moderate"): FormData has them already.
      var boxes = main.querySelectorAll(".item input[type=checkbox]:checked");
      for (var i = 0; i < boxes.length; i++) {
        boxes[i].checked = false;
      }
    }
    return fetch(form.getAttribute("action"), {
      method: "POST",
      body: new URLSearchParams(body),  // URL-encoded, as the form itself posts
      credentials: "same-origin",
      headers: {"X-CSRF-Token": csrf, "Accept": "application/json"}
    }).then(function (answer) {
      if (answer.status === 401 || answer.status === 403) {
        window.location.reload();
        return null;
      }
      return answer.json();
    }).then(function (result) {
      if (result) {
        say(result.notice);
      }
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-enhance") || !window.fetch) {
      return;
    }
    event.preventDefault();
    post(form, event.submitter).then(function () {
      if (form.getAttribute("id") !== "moderate" && form.querySelector("textarea")) {
        form.reset();
      }
    });
  });

  // -- the keyboard ------------------------------------------------------------------------
  function visibleItems() {
    return Array.prototype.filter.call(main.querySelectorAll(".item"), function (item) {
      return !item.classList.contains("filtered-out");
    });
  }

  function mark(id, focus) {
    var items = main.querySelectorAll(".item");
    for (var i = 0; i < items.length; i++) {
      var on = items[i].getAttribute("data-id") === id;
      items[i].classList.toggle("current", on);
      if (on && focus) {
        items[i].focus();
      }
    }
  }

  function move(step) {
    var items = visibleItems();
    if (!items.length) {
      return;
    }
    var index = items.findIndex(function (item) {
      return item.getAttribute("data-id") === current;
    });
    index = index === -1 ? 0 : Math.max(0, Math.min(items.length - 1, index + step));
    current = items[index].getAttribute("data-id");
    mark(current, true);
  }

  function act(action) {
    var form = document.getElementById("moderate");
    if (!form) {
      return;
    }
    var selected = main.querySelectorAll(".item input[type=checkbox]:checked");
    if (selected.length) {
      post(form, {name: "action", value: action});
    } else if (current) {
      post(form, {name: "one", value: action + ":" + current});
    }
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey ||
        (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) && target.type !== "checkbox")) {
      return;
    }
    var key = event.key;
    if (key === "j" || key === "k") {
      move(key === "j" ? 1 : -1);
    } else if (key === "x" && current) {
      var box = main.querySelector("#input-" + current + " input[type=checkbox]");
      if (box) {
        box.checked = !box.checked;
      }
    } else if (key === "s") {
      act("star");
    } else if (key === "h") {
      act("hide");
    } else if (key === "v") {
      act("show");
    } else {
      return;
    }
    event.preventDefault();
  });

  main.addEventListener("focusin", function (event) {
    var item = event.target.closest ? event.target.closest(".item") : null;
    if (item) {
      current = item.getAttribute("data-id");
      mark(current, false);
    }
  });

  applyFilters();
}());
