// Starts Swagger UI from the offline bundle (no inline script: the page's CSP forbids it).
window.addEventListener("load", function () {
  "use strict";
  var el = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({ url: el.getAttribute("data-openapi-url"), dom_id: "#swagger-ui", deepLinking: true });
});
