/*
 * Shopbot chat widget: a shopping-assistant chat for any web page, talking to Rasa's socket.io channel.
 *
 * Paste into a page (the files next to this one are loaded from the same folder):
 *   <script src="https://YOUR-HOST/shopbot-widget.js" data-server="https://YOUR-RASA-SERVER"
 *           data-token-url="/YOUR-TOKEN-ENDPOINT" defer></script>
 *
 * data-token-url is an endpoint of the shop's own site that answers a POST with {"token": ...}: a JWT
 * signed with the assistant's SHOPBOT_JWT_KEY whose subject is the shopper. The assistant takes the
 * shopper from that token only, so nobody can talk as someone else by naming their session.
 * Optional: data-greeting (the first message shown) and data-placeholder (the input's hint), in the
 * shop's own words; the defaults name no kind of product.
 *
 * Every piece of catalog or user text is put into the page with textContent, never parsed as HTML.
 * The token, the session id and the conversation are kept in localStorage, so a reload continues the
 * same conversation; when the shopper asks the assistant to forget them, the widget forgets them too.
 * Each message carries an id the widget makes for it; when the connection drops before its reply, the
 * widget sends it again with the same id, and the assistant changes the cart for it only once.
 */
(function () {
  "use strict";

  const script = document.currentScript;
  const base = new URL(".", script.src);
  const server = script.dataset.server || base.origin;
  const tokenUrl = script.dataset.tokenUrl || null;
  const TOKEN_KEY = "shopbot:token";
  const SESSION_KEY = "shopbot:session";
  const OPEN_KEY = "shopbot:open";
  const HISTORY_LIMIT = 200;       // messages kept per session
  const REPLY_TIMEOUT_MS = 90000;  // the typing indicator gives up after this long
  const greeting = script.dataset.greeting ||
    "Hi! Tell me what you\u2019re looking for: a kind of product, a brand, a budget, or all three.";
  const placeholder = script.dataset.placeholder || "What are you looking for?";

  /** An amount as the assistant writes it, in the payload's currency (ISO code; USD in payloads from
   * before currencies): "$20", "\u20ac12.99", "\u20b91,299"; null when there is no amount. */
  function money(value, currency) {
    if (typeof value !== "number") return null;
    const code = typeof currency === "string" && /^[A-Z]{3}$/.test(currency) ? currency : "USD";
    const digits = Number.isInteger(value) ? 0 : 2;
    return new Intl.NumberFormat("en", { style: "currency", currency: code, minimumFractionDigits: digits,
                                         maximumFractionDigits: digits }).format(value);
  }

  /** Create an element with a class and, optionally, text (as text, never HTML). */
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function storageGet(key, fallback) {
    try {
      const value = localStorage.getItem(key);
      return value === null ? fallback : JSON.parse(value);
    } catch (e) {
      return fallback;
    }
  }

  function storageSet(key, value) {
    try {
      localStorage.setItem(key, JSON.stringify(value));
    } catch (e) { /* storage full or disabled: the chat still works, without history */ }
  }

  // ---- the widget's elements --------------------------------------------------------------------
  const root = el("div", "shopbot");
  root.id = "shopbot";
  const launcher = el("button", "shopbot-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-controls", "shopbot-panel");
  launcher.setAttribute("aria-expanded", "false");
  launcher.append(el("span", "shopbot-launcher-label", "Chat with our assistant"));
  const launcherBadge = el("span", "shopbot-badge shopbot-cart-count", "0");
  launcherBadge.hidden = true;
  launcher.append(launcherBadge);

  const panel = el("section", "shopbot-panel");
  panel.id = "shopbot-panel";
  panel.setAttribute("aria-label", "Shopping assistant");
  panel.hidden = true;
  const header = el("header", "shopbot-header");
  header.append(el("h2", "shopbot-title", "Shopping assistant"));
  const cartInfo = el("span", "shopbot-cart");
  cartInfo.append(el("span", "", "Cart: "));
  const cartCount = el("span", "shopbot-cart-count", "0");
  cartCount.setAttribute("data-testid", "cart-count");
  cartInfo.append(cartCount);
  header.append(cartInfo);
  const close = el("button", "shopbot-close", "\u00d7");
  close.type = "button";
  close.setAttribute("aria-label", "Close the chat");
  header.append(close);
  const status = el("p", "shopbot-status");
  status.setAttribute("role", "status");
  status.hidden = true;
  const log = el("ol", "shopbot-log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", "Conversation");
  const typing = el("p", "shopbot-typing");
  typing.setAttribute("aria-label", "The assistant is typing");
  typing.append(el("span"), el("span"), el("span"));
  typing.hidden = true;
  const form = el("form", "shopbot-form");
  const label = el("label", "shopbot-visually-hidden", "Your message");
  label.htmlFor = "shopbot-input";
  const input = el("input", "shopbot-input");
  input.id = "shopbot-input";
  input.type = "text";
  input.autocomplete = "off";
  input.maxLength = 500;
  input.placeholder = placeholder;
  const send = el("button", "shopbot-send", "Send");
  send.type = "submit";
  form.append(label, input, send);
  panel.append(header, status, log, typing, form);
  root.append(panel, launcher);

  // ---- rendering ----------------------------------------------------------------------------------
  function setCartCount(count) {
    const n = Number(count) || 0;
    cartCount.textContent = String(n);
    launcherBadge.textContent = String(n);
    launcherBadge.hidden = n === 0;
    launcher.setAttribute("aria-label", n ? `Chat with our assistant (${n} in cart)` : "Chat with our assistant");
  }

  function actionButton(button, shownAs, className) {
    const node = el("button", className, button.title);
    node.type = "button";
    node.addEventListener("click", () => sendMessage(String(button.payload), shownAs || button.title));
    return node;
  }

  function productCard(card) {
    const item = el("li", "shopbot-card");
    item.dataset.productId = String(card.id);
    item.append(el("p", "shopbot-card-title", card.title));
    const rating = typeof card.rating === "number" ? `\u2605 ${card.rating.toFixed(1)}` : null;
    const facts = [card.brand, card.category, rating].filter(Boolean).join(" \u00b7 ");
    if (facts) item.append(el("p", "shopbot-card-facts", facts));
    if (Array.isArray(card.facets) && card.facets.length) {
      const labels = el("ul", "shopbot-card-facets");
      labels.setAttribute("aria-label", "Details");
      card.facets.filter((f) => f && f.value).forEach((f) => {
        const label = el("li", "shopbot-facet", f.value);
        if (f.name) label.title = String(f.name);
        labels.append(label);
      });
      item.append(labels);
    }
    // The price as the assistant words it; a chat stored before cards had price_text has the number only.
    const price = card.price_text || money(card.price, card.currency);
    item.append(el("p", "shopbot-card-price", price || "price unknown"));
    if (Array.isArray(card.reasons) && card.reasons.length) {
      const reasons = el("ul", "shopbot-card-reasons");
      card.reasons.forEach((reason) => reasons.append(el("li", "", reason)));
      item.append(reasons);
    }
    if (Array.isArray(card.buttons) && card.buttons.length) {
      const row = el("div", "shopbot-card-buttons");
      card.buttons.forEach((b) => row.append(actionButton(b, `${b.title}: ${card.title}`, "shopbot-button")));
      item.append(row);
    }
    return item;
  }

  function cardList(cards) {
    const list = el("ul", "shopbot-cards");
    cards.forEach((card) => list.append(productCard(card)));
    return list;
  }

  function cartSummary(cart) {
    const box = el("div", "shopbot-cart-summary");
    const lines = el("ul", "shopbot-cart-lines");
    (cart.lines || []).forEach((line) => {
      const total = money(line.line_total, line.currency) || "price unknown";
      lines.append(el("li", "", `${line.quantity} \u00d7 ${line.title} \u2014 ${total}`));
    });
    const total = money(Number(cart.total) || 0, ((cart.lines || [])[0] || {}).currency);
    box.append(lines, el("p", "shopbot-cart-total", `Total: ${total}`));
    return box;
  }

  /** The elements of one bot message: text, quick replies, or one of our custom payloads. */
  function botContent(msg) {
    const parts = [];
    if (typeof msg.text === "string" && msg.text) parts.push(el("p", "shopbot-text", msg.text));
    if (Array.isArray(msg.quick_replies) && msg.quick_replies.length) {
      const row = el("div", "shopbot-quick-replies");
      msg.quick_replies.forEach((b) => row.append(actionButton(b, b.title, "shopbot-button shopbot-quick-reply")));
      parts.push(row);
    }
    if (Array.isArray(msg.products) && msg.products.length) parts.push(cardList(msg.products));
    if (msg.product && typeof msg.product === "object") parts.push(cardList([msg.product]));
    if (Array.isArray(msg.comparison)) {
      parts.push(cardList(msg.comparison));
      if (msg.verdict) parts.push(el("p", "shopbot-text", msg.verdict));
    }
    if (msg.cart && typeof msg.cart === "object") {
      setCartCount(msg.cart.count);
      if (Array.isArray(msg.cart.lines) && msg.cart.lines.length) parts.push(cartSummary(msg.cart));
    }
    if (msg.order && typeof msg.order === "object") setCartCount(0);
    if (msg.forgotten === true) setCartCount(0);
    return parts;
  }

  function render(entry) {
    const item = el("li", `shopbot-message shopbot-from-${entry.from}`);
    if (entry.from === "user") {
      item.append(el("p", "shopbot-text", entry.text));
    } else {
      const parts = botContent(entry.message || {});
      if (!parts.length) return;
      item.append(...parts);
    }
    log.append(item);
    log.scrollTop = log.scrollHeight;
  }

  // ---- conversation state ---------------------------------------------------------------------------
  let sessionId = storageGet(SESSION_KEY, null);
  let history = sessionId ? storageGet(`shopbot:history:${sessionId}`, []) : [];
  let replyTimer = null;
  let pending = null;  // the message awaiting its reply, {message, message_id}: sent again after a reconnect
  let keep = true;  // false once the assistant forgot this shopper: this visit's chat is not stored

  function remember(entry) {
    render(entry);
    if (!sessionId || !keep) return;
    history.push(entry);
    history = history.slice(-HISTORY_LIMIT);
    storageSet(`shopbot:history:${sessionId}`, history);
  }

  /** The assistant forgot this shopper: drop the stored chat and sign-in too. The page still shows
   * this visit's chat; the next visit starts afresh as a new anonymous shopper. */
  function forgetLocally() {
    try {
      Object.keys(localStorage).filter((key) => key.startsWith("shopbot:")).forEach((key) => localStorage.removeItem(key));
    } catch (e) { /* storage disabled: nothing was kept */ }
    history = [];
    keep = false;
  }

  function setTyping(on) {
    typing.hidden = !on;
    clearTimeout(replyTimer);
    if (on) {
      log.scrollTop = log.scrollHeight;
      replyTimer = setTimeout(() => {
        typing.hidden = true;
        showStatus("The assistant did not answer. Please try again.");
      }, REPLY_TIMEOUT_MS);
    }
  }

  function showStatus(text) {
    status.textContent = text || "";
    status.hidden = !text;
  }

  let socket = null;

  /** A new id for one message: 32 random hex digits (getRandomValues works on plain http too). */
  function newMessageId() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function sendMessage(text, shownAs) {
    const message = text.trim();
    if (!message) return false;
    if (!socket || !socket.connected || !sessionId) {
      showStatus(`Not connected to the assistant (${server}); your message was not sent. Retrying\u2026`);
      return false;
    }
    remember({ from: "user", text: shownAs || message });
    pending = { message, message_id: newMessageId() };
    socket.emit("user_uttered", pending);
    setTyping(true);
    return true;
  }

  function setOpen(open, focus = true) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    root.classList.toggle("shopbot-open", open);
    storageSet(OPEN_KEY, open);
    if (open) {
      log.scrollTop = log.scrollHeight;
      if (focus) input.focus();
    }
  }

  launcher.addEventListener("click", () => setOpen(panel.hidden));
  close.addEventListener("click", () => { setOpen(false); launcher.focus(); });
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { setOpen(false); launcher.focus(); }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (sendMessage(input.value)) input.value = "";
  });

  // ---- connection -------------------------------------------------------------------------------------
  let freshToken = false;  // true: the server refused the stored token; ask the shop's site for a new one

  /** This visitor's signed token: the stored one, or a new one from the shop's site. */
  async function visitorToken() {
    const stored = freshToken ? null : storageGet(TOKEN_KEY, null);
    if (stored || !tokenUrl) return stored;
    const response = await fetch(tokenUrl, { method: "POST", credentials: "same-origin" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const issued = (await response.json()).token;
    storageSet(TOKEN_KEY, issued);
    return issued;
  }

  function connect() {
    // Long-polling only: Rasa 3.6 runs on Sanic 21.12, whose WebSocket code fails on Python 3.11
    // ("Passing coroutines is forbidden"), so an upgrade to WebSocket would break the connection.
    socket = window.io(server, {
      path: "/socket.io",
      transports: ["polling"],
      auth: (send) => visitorToken().then((token) => send({ token }), () => send({})),
    });
    let refusals = 0;
    socket.on("connect", () => {
      showStatus("");
      freshToken = false;
      refusals = 0;
      socket.emit("session_request", {});
      if (pending) {  // reconnected before the reply came: the same message, with the same id
        socket.emit("user_uttered", pending);
        setTyping(true);
      }
    });
    socket.on("session_confirm", (confirmed) => {
      const id = typeof confirmed === "object" && confirmed ? confirmed.session_id : confirmed;
      if (id && id !== sessionId) {  // a new shopper (or, after forgetting, a new sign-in): keep their chat
        keep = true;
        sessionId = String(id);
        history = storageGet(`shopbot:history:${sessionId}`, []);
        storageSet(SESSION_KEY, sessionId);
      }
      root.dataset.session = sessionId;
    });
    socket.on("bot_uttered", (message) => {
      pending = null;
      setTyping(false);
      remember({ from: "bot", message });
      if (message && message.forgotten === true) forgetLocally();
    });
    socket.on("connect_error", () => {
      setTyping(false);
      if (socket.active) {  // a network error: socket.io retries by itself
        showStatus(`Cannot reach the shopping assistant at ${server}. Retrying\u2026`);
      } else if (refusals++ < 1) {  // the server refused the token (expired, or a new key): get a new one
        freshToken = true;
        socket.connect();
      } else {
        showStatus("The shopping assistant did not accept this page's sign-in. Please reload the page.");
      }
    });
    socket.on("disconnect", () => showStatus("Connection to the assistant lost. Reconnecting\u2026"));
  }

  /** Show the widget once its stylesheet is in (no unstyled flash), then connect. */
  function show() {
    render({ from: "bot", message: { text: greeting } });
    history.forEach(render);  // before the log is on the page, so screen readers do not read it all again
    document.body.append(root);
    setOpen(storageGet(OPEN_KEY, false), false);
    const client = document.createElement("script");
    client.src = new URL("vendor/socket.io.min.js", base).href;
    client.addEventListener("load", connect);
    client.addEventListener("error", () => showStatus("The chat could not load its socket.io client."));
    document.head.append(client);
  }

  function start() {
    const css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = new URL("shopbot-widget.css", base).href;
    css.addEventListener("load", show, { once: true });
    css.addEventListener("error", show, { once: true });
    document.head.append(css);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
