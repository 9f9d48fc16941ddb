// Live updates for a wall. The page works without this file (it is rendered on the server);
// this only swaps in the state the server sends over ONE server-sent-events stream per page,
// and counts the minutes down. EventSource reconnects by itself after a network drop or a
// bot restart; on (re)connecting the server sends the current state, not a replay.
(function () {
  "use strict";
  var main = document.getElementById("wall");
  var offline = document.getElementById("offline");
  if (!main || !window.EventSource) {
    return;
  }
  var leftWords = main.getAttribute("data-left") || "{minutes}";
  var skew = 0;  // the bot's clock minus this screen's (a rehearsal runs on its own clock)

  function learnSkew() {
    var span = main.querySelector("[data-now]");
    var now = span ? Date.parse(span.getAttribute("data-now")) : NaN;
    skew = isNaN(now) ? 0 : now - Date.now();
  }

  function countDown() {
    var spans = main.querySelectorAll("[data-ends]");
    for (var i = 0; i < spans.length; i++) {
      var ends = Date.parse(spans[i].getAttribute("data-ends"));
      if (isNaN(ends)) {
        continue;
      }
      var minutes = Math.max(0, Math.ceil((ends - Date.now() - skew) / 60000));
      spans[i].textContent = leftWords.replace("{minutes}", String(minutes));
    }
  }

  var source = new EventSource(main.getAttribute("data-live"));
  source.addEventListener("state", function (message) {
    main.innerHTML = message.data;  // server-rendered and escaped by the templates
    offline.hidden = true;
    learnSkew();
    countDown();
  });
  source.addEventListener("gone", function () {
    // The link was rotated: this page's token is no longer valid.
    source.close();
    window.location.reload();
  });
  // The stream's state, for the offline notice and for whoever inspects the page.
  source.addEventListener("open", function () {
    offline.hidden = true;
    document.documentElement.setAttribute("data-live", "open");
  });
  source.addEventListener("error", function () {
    offline.hidden = false;
    document.documentElement.setAttribute("data-live", "retrying");
  });
  learnSkew();
  window.setInterval(countDown, 5000);
}());
