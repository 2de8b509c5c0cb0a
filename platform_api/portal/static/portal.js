// The portal's own script (progressive enhancement only: every page works without it).
// Counts down every <time data-countdown datetime="..."> element once a second.
(function () {
  "use strict";
  function left(ms) {
    if (ms <= 0) { return "expired"; }
    var s = Math.floor(ms / 1000), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600),
        m = Math.floor(s % 3600 / 60);
    return "in " + (d ? d + "d " : "") + h + "h " + m + "m " + (s % 60) + "s";
  }
  function tick() {
    var els = document.querySelectorAll("time[data-countdown]");
    for (var i = 0; i < els.length; i++) {
      var at = Date.parse(els[i].getAttribute("datetime"));
      if (!isNaN(at)) { els[i].textContent = els[i].getAttribute("datetime") + " (" + left(at - Date.now()) + ")"; }
    }
  }
  document.addEventListener("DOMContentLoaded", function () { tick(); setInterval(tick, 1000); });
})();
