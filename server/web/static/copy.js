/* A button with data-copy="#selector" copies that element's text (a checkpoint's signed note).
 * The pages allow no inline script (Content-Security-Policy); the button stays hidden where
 * there is no clipboard (plain HTTP, old browsers): selecting the text works everywhere. */
document.addEventListener("DOMContentLoaded", function () {
  if (!navigator.clipboard) return;
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.querySelector(button.getAttribute("data-copy"));
      navigator.clipboard.writeText(source.textContent).then(function () {
        button.textContent = button.getAttribute("data-copied");
      });
    });
  });
});
