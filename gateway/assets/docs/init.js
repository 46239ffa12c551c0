// Starts Swagger UI on the gateway's live document. A separate file rather than an inline
// script, so the page works under a Content-Security-Policy of `script-src 'self'`.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  // Bearer tokens entered under "Authorize" survive a reload of the page.
  persistAuthorization: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
