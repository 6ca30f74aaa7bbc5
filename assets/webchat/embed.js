// Referflow web chat on any website: a floating button that opens the chat in a frame.
// <script src="https://YOUR-REFERFLOW/webchat/embed.js" data-referflow-chat="CHAT LINK" async></script>
(() => {
  "use strict";
  const script = document.currentScript;
  const chatUrl = script && script.dataset.referflowChat;
  if (!chatUrl || !/^https?:\/\//.test(chatUrl)) return;

  const CHAT_ICON = "M6 4h12a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z";
  const CLOSE_ICON = "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z";
  const host = document.createElement("div");
  host.setAttribute("data-referflow-embed", "");
  const shadow = host.attachShadow({ mode: "open" });
  const style = document.createElement("style");
  style.textContent = `
    .launcher { position: fixed; right: 20px; bottom: 20px; width: 58px; height: 58px; border-radius: 50%;
      border: 0; background: #4f46e5; color: #fff; cursor: pointer; z-index: 2147483646;
      display: grid; place-items: center;
      box-shadow: 0 6px 20px rgb(15 23 42 / 0.3); }
    .panel { position: fixed; right: 20px; bottom: 92px; width: min(380px, calc(100vw - 24px));
      height: min(600px, calc(100vh - 120px)); border: 0; border-radius: 16px; background: #fff;
      box-shadow: 0 12px 40px rgb(15 23 42 / 0.35); z-index: 2147483647; }
    @media (max-width: 480px) { .panel { right: 12px; bottom: 84px; } }
  `;
  const launcher = document.createElement("button");
  launcher.className = "launcher";
  launcher.type = "button";
  launcher.title = "Chat with us";
  launcher.setAttribute("aria-label", "Chat with us");
  launcher.setAttribute("aria-expanded", "false");
  launcher.append(icon(CHAT_ICON));
  let frame = null;

  launcher.addEventListener("click", () => {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.className = "panel";
      frame.title = "Chat";
      frame.src = chatUrl;
      frame.setAttribute("allow", "clipboard-write");
      shadow.append(frame);
    } else {
      frame.hidden = !frame.hidden;
    }
    const open = !frame.hidden;
    launcher.replaceChildren(icon(open ? CLOSE_ICON : CHAT_ICON));
    launcher.setAttribute("aria-expanded", String(open));
  });
  shadow.append(style, launcher);
  (document.body || document.documentElement).append(host);

  function icon(path) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "28");
    svg.setAttribute("height", "28");
    svg.setAttribute("aria-hidden", "true");
    const shape = document.createElementNS("http://www.w3.org/2000/svg", "path");
    shape.setAttribute("d", path);
    shape.setAttribute("fill", "currentColor");
    svg.append(shape);
    return svg;
  }
})();
