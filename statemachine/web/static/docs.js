// Starts Swagger UI on the service's own OpenAPI document. /docs allows no inline script
// (its content security policy), so the page names the document in a data attribute and
// this file, served by the service, reads it.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi"),
    domNode: root,
    deepLinking: true,
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    // Never ask a validator on another origin to judge the document.
    validatorUrl: null,
  });
})();
