// Presentation helpers of the tenant dashboard: human-readable numbers, bytes and durations, and
// the usage/rate-limit meter (warning past 80%, error past 100%). Loaded before dashboard.js.
"use strict";

window.RelayPointUI = (function () {
  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  const numberFormat = new Intl.NumberFormat(undefined);
  const compactFormat = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });

  function formatCount(value) {
    return value >= 100000 ? compactFormat.format(value) : numberFormat.format(value);
  }

  function formatBytes(value) {
    const units = ["B", "KB", "MB", "GB", "TB", "PB"];
    let index = 0;
    let amount = value;
    while (amount >= 1024 && index < units.length - 1) {
      amount /= 1024;
      index += 1;
    }
    const digits = amount >= 10 || index === 0 ? 0 : 1;
    return amount.toFixed(digits).replace(/\.0$/, "") + " " + units[index];
  }

  function formatDuration(seconds) {
    seconds = Math.max(0, Math.ceil(seconds));
    if (seconds < 60) return seconds + " s";
    const parts = [];
    const days = Math.floor(seconds / 86400);
    const hours = Math.floor((seconds % 86400) / 3600);
    const minutes = Math.floor((seconds % 3600) / 60);
    const rest = seconds % 60;
    if (days) parts.push(days + " d");
    if (hours) parts.push(hours + " h");
    if (minutes && !days) parts.push(minutes + " min");
    if (rest && !days && !hours) parts.push(rest + " s");
    return parts.join(" ");
  }

  function formatAgo(iso) {
    const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
    if (!isFinite(seconds)) return "";
    if (seconds < 45) return "just now";
    return formatDuration(seconds).split(" ").slice(0, 2).join(" ") + " ago";
  }

  const RESOURCE_NAMES = { workflows: "Workflows", users: "Users", storage_bytes: "Storage", api_calls: "API calls" };
  const PERIOD_NAMES = { month: "this month", day: "today", hour: "this hour", total: "" };

  function resourceAmount(resource, value) {
    return resource === "storage_bytes" ? formatBytes(value) : formatCount(value);
  }

  function meter(label, used, limit, valueText, note) {
    const item = el("li", "meter");
    const head = el("div", "meter-head");
    head.append(el("span", "meter-label", label), el("span", "meter-value", valueText));
    item.append(head);
    if (limit !== null && limit !== undefined) {
      const ratio = limit > 0 ? used / limit : used > 0 ? Infinity : 0;
      const bar = el("div", "bar");
      bar.setAttribute("role", "progressbar");
      bar.setAttribute("aria-label", label);
      bar.setAttribute("aria-valuemin", "0");
      bar.setAttribute("aria-valuemax", String(limit));
      bar.setAttribute("aria-valuenow", String(Math.min(used, limit)));
      bar.setAttribute("aria-valuetext", valueText);
      const fill = el("span");
      fill.style.width = Math.min(100, ratio * 100).toFixed(1) + "%";
      bar.append(fill);
      item.append(bar);
      let level = "ok";
      if (ratio > 1) level = "error";
      else if (ratio > 0.8) level = "warning";
      item.classList.add("meter-" + level);
      item.dataset.level = level;
      const text = note ? note(ratio, used, limit) : null;
      if (text) item.append(el("p", "meter-note", text));
    }
    return item;
  }

  return { el, formatCount, formatBytes, formatDuration, formatAgo, resourceAmount, meter, RESOURCE_NAMES, PERIOD_NAMES };
})();
