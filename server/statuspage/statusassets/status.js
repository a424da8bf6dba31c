// Refreshes the status page every 5 s without reloading it: fetch the page
// again and swap in its <main>. All markup comes from the server's
// html/template, so no data from etcd is ever turned into HTML here.
(function () {
  "use strict";
  var live = document.getElementById("live");
  var last = Date.now();
  var busy = false;

  function refresh() {
    if (busy || document.hidden) {
      return;
    }
    busy = true;
    fetch(location.href, { cache: "no-store", headers: { Accept: "text/html" } })
      .then(function (r) {
        if (!r.ok) {
          throw new Error("HTTP " + r.status);
        }
        return r.text();
      })
      .then(function (text) {
        var next = new DOMParser().parseFromString(text, "text/html").getElementById("main");
        if (!next) {
          throw new Error("no status in the reply");
        }
        document.getElementById("main").replaceWith(document.adoptNode(next));
        last = Date.now();
        live.className = "";
        live.textContent = "auto-refresh every 5 s · updated " + new Date(last).toLocaleTimeString();
      })
      .catch(function (err) {
        live.className = "bad";
        live.textContent = "update failed (" + err.message + "): showing the status of " +
          Math.round((Date.now() - last) / 1000) + " s ago";
      })
      .finally(function () {
        busy = false;
      });
  }

  setInterval(refresh, 5000);
  document.addEventListener("visibilitychange", refresh);
})();
