// Tomoni organizer console: small comforts on top of pages that work without JavaScript.
// Loaded as an external file because the CSP allows no inline script.
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    // The print button only makes sense with a script behind it.
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        window.print();
      });
    });

    // After a failed submit, take keyboard and screen reader users to the list of errors.
    var summary = document.querySelector("[data-focus-first]");
    if (summary) summary.focus();

    // One click per form: a second click while the page loads would send it again.
    var posts = document.querySelectorAll("form[method='post']");
    posts.forEach(function (form) {
      form.addEventListener("submit", function () {
        window.setTimeout(function () {
          form.querySelectorAll("button[type='submit']").forEach(function (b) {
            b.disabled = true;
          });
        }, 0);
      });
    });
    // Coming back with the browser's Back button restores the page as it was left.
    window.addEventListener("pageshow", function () {
      posts.forEach(function (form) {
        form.querySelectorAll("button[type='submit']").forEach(function (b) {
          b.disabled = false;
        });
      });
    });
  });
})();
