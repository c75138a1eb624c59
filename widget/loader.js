// The embed: <script src="https://HOST/widget.js" data-site="…" async></script>
// Defines the one global, `ChatWidget`, queues calls made before the widget has loaded, and
// imports the modules from the same host. Loading this script twice still makes one widget.
(function () {
  "use strict";
  if (window.ChatWidget) return;
  var script = document.currentScript
    || document.querySelector('script[src*="/widget.js"]');
  var base = new URL("/widget/", script ? script.src : location.href).href;
  var queue = [];
  var api = { _q: queue };
  ["open", "close", "identify", "setLanguage", "on", "off"].forEach(function (name) {
    api[name] = function () {
      queue.push([name, Array.prototype.slice.call(arguments)]);
    };
  });
  window.ChatWidget = api;
  function go() {
    import(base + "app.js").then(function (m) {
      m.boot({ script: script, api: api, base: base });
    });
  }
  // The widget attaches to <body>; an async script in <head> can run before it exists.
  if (document.body) go();
  else document.addEventListener("DOMContentLoaded", go);
})();
