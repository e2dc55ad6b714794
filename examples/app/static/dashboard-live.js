// Live updates for the dashboard: a minimal Socket.IO (Engine.IO v4, WebSocket only) client.
// dashboard.js hands over its access token with a "relaypoint:token" event; every server event
// (workflow.updated, workflow.executed, usage.updated, auth.*) is re-dispatched on the document
// as "relaypoint:live" {event, data}, and dashboard.js decides what to reload.
"use strict";

(function () {
  let socket = null;
  let token = null;

  function dispatch(event, data) {
    document.dispatchEvent(new CustomEvent("relaypoint:live", { detail: { event, data } }));
  }

  function send(event, data) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send("42" + JSON.stringify([event, data]));
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + "/socket.io/?EIO=4&transport=websocket");
    socket = ws;
    ws.onmessage = (message) => {
      const packet = String(message.data);
      if (packet[0] === "0") ws.send("40" + JSON.stringify({ token }));  // Engine.IO open
      else if (packet === "2") ws.send("3");  // ping -> pong
      else if (packet.startsWith("42")) {
        const [event, data] = JSON.parse(packet.slice(2));
        // The token expired: answer with the one dashboard.js holds now (it refreshes on 401).
        if (event === "auth.expired" || event === "auth.revoked") send("auth.refresh", { token });
        dispatch(event, data);
      } else if (packet.startsWith("44")) dispatch("connect_error", JSON.parse(packet.slice(2)));
      else if (packet.startsWith("40")) document.body.dataset.live = "true";
    };
    ws.onclose = () => {
      document.body.dataset.live = "false";
      if (socket === ws && token) setTimeout(() => socket === ws && token && connect(), 3000);
    };
  }

  document.addEventListener("relaypoint:token", (event) => {
    const next = event.detail;
    if (!next) {
      token = null;
      if (socket) socket.close();
      socket = null;
    } else if (socket && socket.readyState === WebSocket.OPEN) {
      token = next;
      send("auth.refresh", { token });
    } else {
      token = next;
      if (!socket) connect();
    }
  });
})();
