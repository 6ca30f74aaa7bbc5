// Referflow web chat: one visitor's conversation with the bot. Everything shown is set as text, never as HTML.
(() => {
  "use strict";
  const TEXT_LIMIT = 1000;
  const SECRET_KEY = "referflow.webchat.visitor";
  const NAME_KEY = "referflow.webchat.name";
  const storage = openStorage();
  const visitor = visitorSecret();
  const address = location.href;
  const eventNonce = pageNonce();
  const params = new URLSearchParams(location.search);

  const list = document.getElementById("messages");
  const status = document.getElementById("status");
  const nameForm = document.getElementById("name-form");
  const nameInput = document.getElementById("name-input");
  const composer = document.getElementById("composer");
  const textBox = document.getElementById("text");
  const sendButton = document.getElementById("send");
  const counter = document.getElementById("counter");

  const shown = new Set();
  let socket = null;
  let opened = false;
  let retryDelay = 500;
  let pingTimer = null;

  connect();

  // --- the websocket: history first, then every message the bot sends ------------------------------------------

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}/webchat/ws`);
    socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "hello", visitor })));
    socket.addEventListener("message", (event) => receive(JSON.parse(event.data)));
    socket.addEventListener("close", (event) => {
      clearInterval(pingTimer);
      if (event.code === 1008 || event.code === 1009) {
        setStatus("Disconnected");
        notice(event.reason || "The chat was closed.");
        return;
      }
      setStatus("Reconnecting…");
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    });
  }

  function receive(data) {
    if (data.type === "history") {
      retryDelay = 500;
      setStatus("Online");
      if (data.bot) {
        document.getElementById("bot-name").textContent = data.bot;
        document.getElementById("avatar").textContent = Array.from(data.bot.trim())[0] || "";
        document.title = data.bot;
      }
      list.replaceChildren();
      shown.clear();
      data.messages.forEach(show);
      pingTimer = setInterval(() => socket.readyState === 1 && socket.send('{"type":"ping"}'), 25000);
      if (!opened) start(data.messages.length > 0);
    } else if (data.type === "message") {
      show(data.message);
    }
  }

  // --- opening the chat's address: one open of the entry point ------------------------------------------------

  function start(returning) {
    const name = (params.get("name") || storage.get(NAME_KEY) || "").trim();
    if (name || returning) {
      open(name);
      return;
    }
    nameForm.hidden = false;
    nameInput.focus();
    nameForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const given = nameInput.value.trim();
      if (!given) return;
      storage.set(NAME_KEY, given);
      nameForm.hidden = true;
      open(given);
    }, { once: true });
  }

  async function open(name) {
    opened = true;
    const answer = await post("api/open", { visitor, name, address, event: eventNonce });
    if (answer.ok) {
      composer.hidden = false;
      textBox.focus();
    } else {
      notice(answer.error);
      if (answer.retry) opened = false;
    }
  }

  // --- replies: typed text and pressed buttons ----------------------------------------------------------------

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = textBox.value.trim();
    if (!text) return;
    if (text.length > TEXT_LIMIT) {
      notice(`Messages can be at most ${TEXT_LIMIT.toLocaleString("en")} characters; yours has `
        + `${text.length.toLocaleString("en")}. Shorten it and send it again.`);
      return;
    }
    textBox.value = "";
    updateCounter();
    reply(text);
  });
  textBox.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  textBox.addEventListener("input", updateCounter);

  async function reply(text) {
    const bubble = addBubble({ direction: "in", text, buttons: [] });
    bubble.classList.add("sending");
    const answer = await post("api/reply", { visitor, text });
    bubble.classList.remove("sending");
    if (!answer.ok) {
      bubble.classList.add("failed");
      notice(answer.error);
    }
  }

  function updateCounter() {
    const length = textBox.value.length;
    counter.textContent = length > TEXT_LIMIT * 0.8 ? `${length.toLocaleString("en")} / ${TEXT_LIMIT.toLocaleString("en")}` : "";
    counter.classList.toggle("over", length > TEXT_LIMIT);
    sendButton.disabled = length > TEXT_LIMIT;
  }

  // --- drawing ------------------------------------------------------------------------------------------------

  function show(message) {
    if (message.id != null) {
      if (shown.has(message.id)) return;
      shown.add(message.id);
    }
    addBubble(message);
  }

  function addBubble(message) {
    const item = document.createElement("li");
    item.className = `bubble ${message.direction === "in" ? "in" : "out"}`;
    item.dataset.testid = message.direction === "in" ? "visitor-message" : "bot-message";
    appendText(item, message.text || "");
    if (message.direction !== "in" && message.buttons && message.buttons.length) {
      const row = document.createElement("div");
      row.className = "buttons";
      for (const title of message.buttons) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = title;
        button.addEventListener("click", () => {
          row.querySelectorAll("button").forEach((b) => { b.disabled = true; });
          reply(title);
        });
        row.append(button);
      }
      item.append(row);
    }
    list.append(item);
    list.scrollTop = list.scrollHeight;
    return item;
  }

  function appendText(parent, text) {
    // Web addresses become links (http and https only); everything else stays text.
    for (const part of text.split(/(https?:\/\/[^\s<>"]+)/)) {
      if (!part) continue;
      const link = /^https?:\/\//.test(part) ? safeUrl(part) : null;
      if (link) {
        const anchor = document.createElement("a");
        anchor.href = link;
        anchor.textContent = part;
        anchor.target = "_blank";
        anchor.rel = "noopener noreferrer";
        parent.append(anchor);
      } else {
        parent.append(document.createTextNode(part));
      }
    }
  }

  function safeUrl(text) {
    try {
      const url = new URL(text);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch {
      return null;
    }
  }

  function notice(text) {
    const item = document.createElement("li");
    item.className = "notice";
    item.dataset.testid = "notice";
    item.textContent = text;
    list.append(item);
    list.scrollTop = list.scrollHeight;
  }

  function setStatus(text) {
    status.textContent = text;
  }

  async function post(path, body) {
    try {
      const response = await fetch(path, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
        credentials: "omit",
      });
      const data = await response.json().catch(() => ({}));
      if (response.ok) return { ok: true };
      return { ok: false, error: data.error || `The chat could not answer (${response.status}); try again.`,
               retry: response.status >= 500 };
    } catch {
      return { ok: false, error: "You seem to be offline; check your connection and try again.", retry: true };
    }
  }

  // --- who this browser is --------------------------------------------------------------------------------------

  function visitorSecret() {
    let secret = storage.get(SECRET_KEY);
    if (!secret || !/^[A-Za-z0-9_-]{32,128}$/.test(secret)) {
      secret = randomToken(32);
      storage.set(SECRET_KEY, secret);
    }
    return secret;
  }

  function pageNonce() {
    // A reload of the same address in the same tab is the same open (the server changes nothing the second time).
    const key = `referflow.webchat.open:${location.search}`;
    let nonce = null;
    try { nonce = sessionStorage.getItem(key); } catch { /* storage blocked */ }
    if (!nonce) {
      nonce = randomToken(16);
      try { sessionStorage.setItem(key, nonce); } catch { /* storage blocked */ }
    }
    return nonce;
  }

  function randomToken(bytes) {
    const data = crypto.getRandomValues(new Uint8Array(bytes));
    return btoa(String.fromCharCode(...data)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function openStorage() {
    const memory = new Map();
    try {
      localStorage.setItem("referflow.webchat.probe", "1");
      localStorage.removeItem("referflow.webchat.probe");
      return { get: (key) => localStorage.getItem(key), set: (key, value) => localStorage.setItem(key, value) };
    } catch {
      return { get: (key) => memory.get(key) || null, set: (key, value) => memory.set(key, value) };
    }
  }
})();
