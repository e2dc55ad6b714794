// Tenant dashboard: signs in against the JSON API and renders workflows, usage and rate-limit
// state. Vanilla JS, no build step; all text goes through textContent (never innerHTML).
"use strict";

(function () {
  const body = document.body;
  const tenant = body.dataset.tenant;
  const api = body.dataset.api;
  const tokens = { access: null, refresh: sessionStorage.getItem("rp-refresh-" + tenant) };

  const $ = (id) => document.getElementById(id);

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function show(signedIn) {
    $("login-panel").hidden = signedIn;
    $("app-panel").hidden = !signedIn;
    $("logout").hidden = !signedIn;
  }

  async function call(path, options = {}) {
    const headers = Object.assign({ "X-Tenant-ID": tenant, Accept: "application/json" }, options.headers || {});
    if (tokens.access) headers.Authorization = "Bearer " + tokens.access;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(options.json);
    }
    let response = await fetch(api + path, { method: options.method || "GET", headers, body: options.body });
    if (response.status === 401 && tokens.refresh && !options.retried && path !== "/auth/refresh") {
      if (await refresh()) return call(path, Object.assign({}, options, { retried: true }));
    }
    showRateLimitHeaders(response);
    return response;
  }

  function remember(payload) {
    tokens.access = payload.access_token;
    tokens.refresh = payload.refresh_token;
    sessionStorage.setItem("rp-refresh-" + tenant, tokens.refresh);
  }

  function forget() {
    tokens.access = null;
    tokens.refresh = null;
    sessionStorage.removeItem("rp-refresh-" + tenant);
  }

  async function refresh() {
    const response = await call("/auth/refresh", { method: "POST", json: { refresh_token: tokens.refresh } });
    if (!response.ok) {
      forget();
      return false;
    }
    remember(await response.json());
    return true;
  }

  function showRateLimitHeaders(response) {
    const limit = response.headers.get("X-RateLimit-Limit");
    if (limit === null) return;
    $("rate-limit-headers").textContent =
      "Last response: " + response.headers.get("X-RateLimit-Remaining") + " of " + limit +
      " left (" + (response.headers.get("X-RateLimit-Tier") || "") + "), resets in " +
      response.headers.get("X-RateLimit-Reset") + " s";
  }

  async function loadWorkflows() {
    const response = await call("/tenants/" + encodeURIComponent(tenant) + "/workflows?fields=id,name,status,updated_at");
    if (!response.ok) return;
    const page = await response.json();
    const rows = $("workflows").querySelector("tbody");
    rows.replaceChildren();
    for (const workflow of page.items) {
      const row = document.createElement("tr");
      row.className = "workflow";
      cell(row, workflow.name);
      cell(row, workflow.status);
      cell(row, new Date(workflow.updated_at).toLocaleString());
      rows.appendChild(row);
    }
    $("workflows-empty").hidden = page.items.length > 0;
  }

  async function loadUsage() {
    const response = await call("/tenants/" + encodeURIComponent(tenant) + "/usage");
    if (!response.ok) return;
    const usage = await response.json();
    const rows = $("usage").querySelector("tbody");
    rows.replaceChildren();
    for (const item of usage.resources) {
      const row = document.createElement("tr");
      cell(row, item.resource);
      cell(row, String(item.used));
      cell(row, item.limit === null ? "unlimited" : String(item.limit));
      const meterCell = cell(row, "");
      if (item.limit !== null) {
        const meter = document.createElement("meter");
        meter.min = 0;
        meter.max = item.limit;
        meter.value = Math.min(item.used, item.limit);
        meterCell.appendChild(meter);
      }
      rows.appendChild(row);
    }
  }

  async function loadRateLimit() {
    const response = await call("/tenants/" + encodeURIComponent(tenant) + "/rate-limit");
    if (!response.ok) return;
    const state = await response.json();
    const rows = $("rate-limit").querySelector("tbody");
    rows.replaceChildren();
    for (const window of state.windows) {
      const row = document.createElement("tr");
      cell(row, window.scope + " / " + window.window);
      cell(row, String(window.used));
      cell(row, String(window.remaining));
      cell(row, String(window.limit));
      cell(row, window.reset_seconds + " s");
      rows.appendChild(row);
    }
  }

  async function loadAll() {
    const me = await call("/auth/me");
    if (!me.ok) {
      forget();
      show(false);
      return;
    }
    const who = await me.json();
    $("whoami").textContent = "Signed in as " + who.email + " (" + who.roles.join(", ") + ")";
    show(true);
    await loadWorkflows();
    await loadUsage();
    await loadRateLimit();
    body.dataset.loaded = "true";
  }

  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("login-error").hidden = true;
    const response = await call("/auth/login", {
      method: "POST",
      json: { email: $("email").value, password: $("password").value },
    });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      $("login-error").textContent = problem.detail || "Sign-in failed";
      $("login-error").hidden = false;
      return;
    }
    remember(await response.json());
    await loadAll();
  });

  $("logout").addEventListener("click", async () => {
    await call("/auth/logout", { method: "POST", json: { refresh_token: tokens.refresh } });
    forget();
    delete body.dataset.loaded;
    show(false);
  });

  if (tokens.refresh) {
    refresh().then((ok) => (ok ? loadAll() : show(false)));
  }
})();
