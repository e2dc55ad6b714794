// Tenant dashboard: signs in against the JSON API and renders workflows (create, edit, run and
// delete as the caller's permissions allow), usage and rate-limit state. Vanilla JS, no build
// step; all text goes through textContent (never innerHTML), widths through the CSSOM (the CSP
// allows no inline style attributes).
"use strict";

(function () {
  const body = document.body;
  const root = document.documentElement;
  const tenant = body.dataset.tenant;
  const api = body.dataset.api;
  const tenantPath = "/tenants/" + encodeURIComponent(tenant);
  const tokens = { access: null, refresh: sessionStorage.getItem("rp-refresh-" + tenant) };
  const state = { permissions: new Set(), upgrade: null, me: null, lastRuns: {}, editing: null };

  const $ = (id) => document.getElementById(id);
  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const can = (permission) => state.permissions.has(permission);

  const { formatCount, formatDuration, formatAgo, resourceAmount, meter, RESOURCE_NAMES, PERIOD_NAMES } = window.RelayPointUI;

  // --- theme ------------------------------------------------------------------------------------

  function applyTheme(mode) {
    if (mode === "dark" || mode === "light") root.dataset.theme = mode;
    else delete root.dataset.theme;
    const dark = root.dataset.theme === "dark" ||
      (!root.dataset.theme && window.matchMedia("(prefers-color-scheme: dark)").matches);
    $("theme-toggle").setAttribute("aria-pressed", String(dark));
  }
  const requested = new URLSearchParams(location.search).get("theme");
  applyTheme(requested || localStorage.getItem("rp-theme"));
  $("theme-toggle").addEventListener("click", () => {
    const next = $("theme-toggle").getAttribute("aria-pressed") === "true" ? "light" : "dark";
    localStorage.setItem("rp-theme", next);
    applyTheme(next);
  });

  // --- API --------------------------------------------------------------------------------------

  async function call(path, options = {}) {
    const headers = Object.assign({ "X-Tenant-ID": tenant, Accept: "application/json" }, options.headers || {});
    if (tokens.access) headers.Authorization = "Bearer " + tokens.access;
    let payload;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(options.json);
    }
    let response;
    try {
      response = await fetch(api + path, { method: options.method || "GET", headers, body: payload });
    } catch (error) {
      return { ok: false, status: 0, headers: new Headers(), json: async () => ({ detail: "The server cannot be reached. Check your connection and try again." }) };
    }
    if (response.status === 401 && tokens.refresh && !options.retried && path !== "/auth/refresh" && path !== "/auth/login") {
      if (await refresh()) return call(path, Object.assign({}, options, { retried: true }));
    }
    showRateLimitHeaders(response);
    if (response.status === 429 && path !== "/auth/login" && tokens.access) showThrottled(response);
    return response;
  }

  async function problemOf(response, fallback) {
    const problem = await response.json().catch(() => ({}));
    return problem.detail || problem.title || fallback;
  }

  function retryAfter(response) {
    const header = response.headers.get("Retry-After");
    const seconds = header === null ? NaN : Number(header);
    return isFinite(seconds) ? seconds : null;
  }

  function remember(payload) {
    tokens.access = payload.access_token;
    tokens.refresh = payload.refresh_token;
    sessionStorage.setItem("rp-refresh-" + tenant, tokens.refresh);
    document.dispatchEvent(new CustomEvent("relaypoint:token", { detail: tokens.access }));  // dashboard-live.js
  }

  function forget() {
    tokens.access = null;
    tokens.refresh = null;
    sessionStorage.removeItem("rp-refresh-" + tenant);
    document.dispatchEvent(new CustomEvent("relaypoint:token", { detail: null }));
  }

  // Live updates (dashboard-live.js): another user's change shows without a reload.
  document.addEventListener("relaypoint:live", (event) => {
    if (event.detail.event.startsWith("workflow.")) loadWorkflows();
    else if (event.detail.event === "usage.updated") loadUsage();
  });

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
    const remaining = Number(response.headers.get("X-RateLimit-Remaining"));
    const reset = Number(response.headers.get("X-RateLimit-Reset"));
    const tier = response.headers.get("X-RateLimit-Tier");
    $("rate-limit-headers").textContent =
      "Last response: " + formatCount(remaining) + " of " + formatCount(Number(limit)) + " requests left" +
      (tier ? " on " + tier : "") + (isFinite(reset) ? ", resets in " + formatDuration(reset) : "") + ".";
  }

  // --- sign-in ----------------------------------------------------------------------------------

  function show(signedIn) {
    $("login-panel").hidden = signedIn;
    $("app-panel").hidden = !signedIn;
    $("logout").hidden = !signedIn;
    $("user-chip").hidden = !signedIn;
  }

  let loginCountdown = null;
  function loginError(message, seconds) {
    const box = $("login-error");
    box.hidden = false;
    clearInterval(loginCountdown);
    if (seconds === null || seconds === undefined) {
      box.textContent = message;
      $("login-button").disabled = false;
      return;
    }
    let left = Math.ceil(seconds);
    const tick = () => {
      if (left <= 0) {
        clearInterval(loginCountdown);
        box.textContent = "You can try again now.";
        $("login-button").disabled = false;
        return;
      }
      box.textContent = message + " Try again in " + formatDuration(left) + ".";
      left -= 1;
    };
    $("login-button").disabled = true;
    tick();
    loginCountdown = setInterval(tick, 1000);
  }

  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("login-error").hidden = true;
    const email = $("email").value.trim();
    const password = $("password").value;
    if (!email || !password) {
      loginError("Enter your email and your password.");
      (email ? $("password") : $("email")).focus();
      return;
    }
    $("login-button").disabled = true;
    $("login-button").textContent = "Signing in…";
    const response = await call("/auth/login", { method: "POST", json: { email, password } });
    $("login-button").textContent = "Sign in";
    $("login-button").disabled = false;
    if (response.status === 429) {
      loginError("Too many sign-in attempts.", retryAfter(response) ?? 60);
      return;
    }
    if (!response.ok) {
      const fallback = response.status === 401 ? "The email or password is not correct." : "Sign-in failed (" + response.status + ").";
      loginError(await problemOf(response, fallback));
      return;
    }
    remember(await response.json());
    await loadAll();
  });

  $("logout").addEventListener("click", async () => {
    await call("/auth/logout", { method: "POST", json: { refresh_token: tokens.refresh } });
    forget();
    delete body.dataset.loaded;
    state.permissions = new Set();
    show(false);
    $("email").focus();
  });

  // --- snackbar and throttling --------------------------------------------------------------------

  let snackTimer = null;
  function snack(message) {
    const bar = $("snackbar");
    bar.textContent = message;
    bar.hidden = false;
    clearTimeout(snackTimer);
    snackTimer = setTimeout(() => (bar.hidden = true), 6000);
  }

  function showThrottled(response) {
    const seconds = retryAfter(response);
    $("throttle-text").textContent =
      "Your " + (state.upgrade ? state.upgrade.current_plan : body.dataset.plan) + " plan's request budget is used up" +
      (seconds !== null ? "; it resets in " + formatDuration(seconds) + "." : ".") +
      (state.upgrade && state.upgrade.next_plan ? " " + state.upgrade.next_plan + " raises the limit." : "");
    const button = $("upgrade-button");
    const upgrade = state.upgrade;
    button.hidden = !upgrade || !upgrade.next_plan;
    if (button.hidden) {
      // nothing to offer (top plan, or not known yet)
    } else if (!can("billing:read") || upgrade.mode === "contact") {
      button.textContent = "Ask your administrator";
      button.dataset.action = "contact";
    } else if (upgrade.mode === "change") {
      button.textContent = "Upgrade to " + upgrade.next_plan;
      button.dataset.action = "change";
    } else {
      button.textContent = "Request " + upgrade.next_plan + " upgrade";
      button.dataset.action = "request";
    }
    $("throttle-banner").hidden = false;
  }

  $("upgrade-button").addEventListener("click", async () => {
    const button = $("upgrade-button");
    if (button.dataset.action === "contact") {
      location.href = $("support-email").href + "?subject=" + encodeURIComponent("Please upgrade our " + tenant + " plan");
      return;
    }
    button.disabled = true;
    const response = await call("/billing/upgrade", { method: "POST", json: { plan_tier: state.upgrade.next_plan } });
    button.disabled = false;
    const result = $("upgrade-result");
    if (!response.ok) {
      result.className = "banner banner-error";
      result.textContent = await problemOf(response, "The upgrade did not go through (" + response.status + ").");
    } else {
      const outcome = await response.json();
      result.className = "banner banner-success";
      result.textContent = outcome.status === "changed"
        ? "Your plan is now " + outcome.plan_tier + ". The new limits apply right away."
        : outcome.detail;
      $("throttle-banner").hidden = true;
      if (outcome.status === "changed") {
        $("plan-badge").textContent = outcome.plan_tier + " plan";
        await loadAll();
      }
    }
    result.hidden = false;
  });

  // --- workflows ----------------------------------------------------------------------------------

  const STATUS_BADGE = { active: "badge-success", draft: "badge-neutral", paused: "badge-warning", archived: "badge-neutral" };

  function actionButton(label, className, handler, accessibleName) {
    const button = el("button", "btn btn-sm " + className, label);
    button.type = "button";
    if (accessibleName) button.setAttribute("aria-label", accessibleName);
    button.addEventListener("click", handler);
    return button;
  }

  async function loadWorkflows() {
    const response = await call(tenantPath + "/workflows?fields=id,name,description,status,run_count,updated_at&limit=50");
    if (!response.ok) return;
    const page = await response.json();
    const rows = $("workflows").querySelector("tbody");
    rows.replaceChildren();
    for (const workflow of page.items) {
      const row = el("tr", "workflow");
      row.dataset.id = workflow.id;
      const name = el("td");
      name.append(el("span", "wf-name", workflow.name));
      if (workflow.description) name.append(el("span", "wf-desc", workflow.description));
      const lastRun = state.lastRuns[workflow.id];
      if (lastRun) name.append(el("span", "wf-run", "Last run " + lastRun.status + " · " + formatAgo(lastRun.finished_at)));
      row.append(name);
      const status = el("td");
      status.append(el("span", "badge badge-soft " + (STATUS_BADGE[workflow.status] || "badge-neutral"), workflow.status));
      row.append(status);
      row.append(el("td", "wf-runs", formatCount(workflow.run_count || 0)));
      row.append(el("td", "", formatAgo(workflow.updated_at)));
      const actions = el("td");
      const group = el("div", "actions");
      if (can("workflow:execute")) group.append(actionButton("Run", "btn-outlined run", () => execute(workflow), "Run " + workflow.name));
      if (can("workflow:update")) group.append(actionButton("Edit", "btn-text edit", () => openEditor(workflow), "Edit " + workflow.name));
      if (can("workflow:delete")) group.append(actionButton("Delete", "btn-text btn-danger delete", () => remove(workflow), "Delete " + workflow.name));
      actions.append(group);
      row.append(actions);
      rows.append(row);
    }
    $("workflows-empty").hidden = page.items.length > 0;
  }

  async function execute(workflow) {
    const response = await call(tenantPath + "/workflows/" + encodeURIComponent(workflow.id) + "/execute", { method: "POST" });
    if (!response.ok) {
      if (response.status !== 429) snack(await problemOf(response, "The run failed (" + response.status + ")."));
      return;
    }
    const run = await response.json();
    state.lastRuns[workflow.id] = run;
    const millis = Math.max(0, new Date(run.finished_at) - new Date(run.started_at));
    snack("Ran “" + workflow.name + "”: " + run.status + " in " + (millis < 1000 ? millis + " ms" : formatDuration(millis / 1000)) + ".");
    await loadWorkflows();
    await loadUsage();
  }

  async function remove(workflow) {
    if (!window.confirm("Delete “" + workflow.name + "”? This cannot be undone.")) return;
    const response = await call(tenantPath + "/workflows/" + encodeURIComponent(workflow.id), { method: "DELETE" });
    if (!response.ok) {
      snack(await problemOf(response, "Could not delete (" + response.status + ")."));
      return;
    }
    snack("Deleted “" + workflow.name + "”.");
    await loadWorkflows();
    await loadUsage();
  }

  function openEditor(workflow) {
    state.editing = workflow || null;
    $("dialog-title").textContent = workflow ? "Edit workflow" : "New workflow";
    $("wf-name").value = workflow ? workflow.name : "";
    $("wf-description").value = workflow ? workflow.description || "" : "";
    $("wf-status").value = workflow ? workflow.status : "active";
    $("dialog-error").hidden = true;
    $("workflow-dialog").showModal();
    $("wf-name").focus();
  }

  $("create-workflow").addEventListener("click", () => openEditor(null));
  $("dialog-cancel").addEventListener("click", () => $("workflow-dialog").close());
  $("workflow-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("wf-name").value.trim();
    if (!name) {
      $("dialog-error").textContent = "Give the workflow a name.";
      $("dialog-error").hidden = false;
      $("wf-name").focus();
      return;
    }
    const fields = { name, description: $("wf-description").value, status: $("wf-status").value };
    const editing = state.editing;
    const response = editing
      ? await call(tenantPath + "/workflows/" + encodeURIComponent(editing.id), { method: "PATCH", json: fields })
      : await call(tenantPath + "/workflows", {
          method: "POST",
          json: Object.assign(fields, { steps: [{ name: "greet", action: "uppercase", input: "hello from " + name }] }),
        });
    if (!response.ok) {
      $("dialog-error").textContent = await problemOf(response, "Could not save (" + response.status + ").");
      $("dialog-error").hidden = false;
      return;
    }
    $("workflow-dialog").close();
    snack(editing ? "Saved “" + name + "”." : "Created “" + name + "”.");
    await loadWorkflows();
    await loadUsage();
  });

  // --- usage and rate limits ------------------------------------------------------------------------

  async function loadUsage() {
    if (!can("analytics:read")) return;
    const response = await call(tenantPath + "/usage");
    if (!response.ok) return;
    const usage = await response.json();
    const list = $("usage");
    list.replaceChildren();
    for (const item of usage.resources) {
      const label = RESOURCE_NAMES[item.resource] || item.resource.replace(/_/g, " ");
      const period = PERIOD_NAMES[item.period] ?? "";
      const used = resourceAmount(item.resource, item.used);
      const text = item.limit === null
        ? used + " used" + (period ? " " + period : "") + " · unlimited"
        : used + " of " + resourceAmount(item.resource, item.limit) + (period ? " " + period : "");
      const node = meter(label, item.used, item.limit, text, (ratio, usedValue, limit) => {
        if (ratio > 1) return "Over the plan limit by " + resourceAmount(item.resource, usedValue - limit) + ".";
        if (ratio === 1) return "At the plan limit: upgrade for more.";
        if (ratio > 0.8) return Math.round(ratio * 100) + "% of the plan limit used.";
        return null;
      });
      node.dataset.resource = item.resource;
      list.append(node);
    }
  }

  async function loadRateLimit() {
    if (!can("analytics:read")) return;
    const response = await call(tenantPath + "/rate-limit");
    if (!response.ok) return;
    const limits = await response.json();
    const list = $("rate-limit");
    list.replaceChildren();
    for (const window of limits.windows) {
      const label = (window.scope === "tenant" ? "Whole tenant" : "You") + " · per " + window.window;
      const text = formatCount(window.used) + " of " + formatCount(window.limit) + " · resets in " + formatDuration(window.reset_seconds);
      list.append(meter(label, window.used, window.limit, text, (ratio) =>
        ratio >= 1 ? "Limit reached: further requests wait for the reset." : ratio > 0.8 ? "Close to the limit." : null));
    }
  }

  // --- start ----------------------------------------------------------------------------------------

  async function enterThrottled(refused) {
    // Signed in but over budget: say so (and when it resets) instead of dropping back to the
    // sign-in form; the upgrade route is exempt from the budget, so the call-to-action works.
    show(true);
    const upgrade = await call("/billing/upgrade");
    if (upgrade.ok) {
      state.upgrade = await upgrade.json();
      state.permissions.add("billing:read");
    } else {
      state.upgrade = { current_plan: body.dataset.plan, next_plan: "a higher plan", mode: "contact" };
    }
    const email = $("email").value.trim();
    $("whoami").textContent = "Signed in as " + email + ". Workflows and usage return when the limit resets.";
    $("user-email").textContent = email;
    $("avatar").textContent = email.slice(0, 2).toUpperCase();
    body.dataset.throttled = "true";
    showThrottled(refused);
    body.dataset.loaded = "true";
  }

  async function loadAll() {
    const me = await call("/auth/me");
    if (me.status === 429) return enterThrottled(me);
    if (!me.ok) {
      forget();
      show(false);
      return;
    }
    const capabilities = await call(tenantPath + "/capabilities");
    if (capabilities.status === 429) return enterThrottled(capabilities);
    if (!capabilities.ok) {
      forget();
      show(false);
      loginError(await problemOf(capabilities, "Your account cannot open this dashboard."));
      return;
    }
    const granted = await capabilities.json();
    state.permissions = new Set(granted.permissions);
    state.upgrade = granted.upgrade;
    const who = await me.json();
    state.me = who;
    delete body.dataset.throttled;
    const role = (who.roles[0] || "member").replace(/_/g, " ");
    $("whoami").textContent = "Signed in as " + who.email + " (" + who.roles.join(", ") + ")";
    $("user-email").textContent = who.email;
    $("user-role").textContent = role;
    $("avatar").textContent = who.email.slice(0, 2).toUpperCase();
    $("create-workflow").hidden = !can("workflow:create");
    const readOnly = !can("workflow:create") && !can("workflow:execute") && !can("workflow:update");
    $("readonly-note").hidden = !readOnly;
    $("readonly-note").textContent = readOnly ? "View only: your role (" + role + ") can see workflows but not change or run them." : "";
    show(true);
    $("main").focus();
    await loadWorkflows();
    await loadUsage();
    await loadRateLimit();
    body.dataset.loaded = "true";
  }

  if (tokens.refresh) {
    refresh().then((ok) => (ok ? loadAll() : show(false)));
  }
})();
