// Progressive enhancement of the order form: as the dealer and lines change, ask the console
// for the price preview (the orders API's quote, the credit and stock answer) and show it.
// Without script, the form's "preview" button renders the same preview server-side.
(function () {
  var form = document.getElementById("order-form");
  var target = document.getElementById("preview");
  if (!form || !target || !window.fetch) return;
  var timer = null;
  var asked = 0;

  function refresh() {
    var mine = ++asked;
    var body = new URLSearchParams(new FormData(form));
    body.delete("action");
    fetch(form.dataset.preview, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    })
      .then(function (response) {
        if (response.redirected) {
          window.location = response.url; // signed out: the sign-in page
          return null;
        }
        return response.text();
      })
      .then(function (html) {
        // Only the answer to the latest change is shown.
        if (html !== null && mine === asked) target.innerHTML = html;
      })
      .catch(function () {
        /* the preview button still works */
      });
  }

  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  });
})();
