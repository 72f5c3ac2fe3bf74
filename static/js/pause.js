// Small progressive enhancements for the server-rendered pages. Every page works without
// this file; the strict Content-Security-Policy forbids inline scripts, so behaviour is
// attached here through data attributes.
(function () {
  "use strict";

  // <button data-copy="#input-id" data-copied="Copied">: copy the target input's value.
  function onCopy(button) {
    var target = document.querySelector(button.getAttribute("data-copy"));
    if (!target) return;
    var done = function () {
      var original = button.textContent;
      button.textContent = button.getAttribute("data-copied") || original;
      window.setTimeout(function () {
        button.textContent = original;
      }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(target.value).then(done, function () {
        target.select();
      });
    } else {
      target.select();
      try {
        document.execCommand("copy");
        done();
      } catch (e) {
        /* the text stays selected for a manual copy */
      }
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (button) {
      event.preventDefault();
      onCopy(button);
    }
  });

  // <form data-confirm="Are you sure?">: ask before submitting a destructive action.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // Close an open <details class="menu"> when clicking outside it or pressing Escape.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      var summary = menu.querySelector("summary");
      if (summary) summary.focus();
    });
  });
})();
