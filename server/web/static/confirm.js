/* A form with a data-confirm question asks it before it is sent (revoking a device).
 * The pages allow no inline script (Content-Security-Policy), so this replaces
 * onsubmit="return confirm(...)"; without JavaScript the form is sent as it is. */
document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});
