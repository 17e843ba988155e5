/* Tomoni attendee pages: small enhancements. Every page works without this file. */
(function () {
  "use strict";

  // Start at the error summary after a form came back with errors, so keyboard and
  // screen-reader users hear what to fix (it is also role="alert").
  var summary = document.querySelector(".error-summary");
  if (summary) {
    summary.focus();
  }

  // On a slow network a second tap would only send the same form again (it carries an
  // idempotency key, so nothing is registered twice); show that it is on its way instead.
  // After a while the button works again, in case the first attempt was lost.
  var RETRY_AFTER_MS = 8000;
  var forms = document.querySelectorAll("form[data-sending]");

  function reset(form) {
    form.removeAttribute("data-sent");
    var button = form.querySelector("button[type=submit]");
    if (button && button.getAttribute("data-label") !== null) {
      button.innerHTML = button.getAttribute("data-label");
      button.removeAttribute("aria-disabled");
    }
  }

  Array.prototype.forEach.call(forms, function (form) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-sent")) {
        event.preventDefault();
        return;
      }
      form.setAttribute("data-sent", "1");
      var button = form.querySelector("button[type=submit]");
      if (button) {
        button.setAttribute("data-label", button.innerHTML);
        button.textContent = form.getAttribute("data-sending");
        button.setAttribute("aria-disabled", "true");
      }
      window.setTimeout(function () { reset(form); }, RETRY_AFTER_MS);
    });
  });

  // Coming back with the browser's Back button shows the page as it was left.
  window.addEventListener("pageshow", function () {
    Array.prototype.forEach.call(forms, reset);
  });
})();
