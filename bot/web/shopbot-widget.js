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
 * shop's own words (data-greeting-zh, data-placeholder-zh: the same in Chinese); the defaults name no
 * kind of product. data-languages: the languages the shop offers, first the default ("en,zh", the
 * default); the widget's own labels exist in English and Chinese. The shopper picks one in the header:
 * the widget's labels change, the assistant is asked to reply in it, and the widget's element gets its
 * lang attribute, so the browser writes each script with the right fonts and line breaks; a message or
 * title with Han characters is marked Chinese whatever the widget's language. A shopper who switches
 * by writing in another language gets the labels of the language the assistant replies in (each
 * reply names it).
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
  const LANGUAGE_KEY = "shopbot:language";
  const HISTORY_LIMIT = 200;       // messages kept per session
  const REPLY_TIMEOUT_MS = 90000;  // the typing indicator gives up after this long
  // The widget's own words, per language; {n}, {server}: filled in where used.
  const TEXTS = {
    en: {
      name: "English", lang: "en", greeting: "Hi! Tell me what you\u2019re looking for: a kind of product, a brand, a budget, or all three.",
      placeholder: "What are you looking for?", launcher: "Chat with our assistant",
      launcherCart: "Chat with our assistant ({n} in cart)", panel: "Shopping assistant", title: "Shopping assistant",
      cart: "Cart: ", close: "Close the chat", log: "Conversation", typing: "The assistant is typing",
      input: "Your message", send: "Send", language: "Language", details: "Details", priceUnknown: "price unknown",
      total: "Total: ", noAnswer: "The assistant did not answer. Please try again.",
      notSent: "Not connected to the assistant ({server}); your message was not sent. Retrying\u2026",
      connecting: "Connecting to the assistant\u2026 Your message will be sent as soon as it answers.",
      unreachable: "Cannot reach the shopping assistant at {server}. Retrying\u2026",
      refused: "The shopping assistant did not accept this page\u2019s sign-in. Please reload the page.",
      lost: "Connection to the assistant lost. Reconnecting\u2026", noClient: "The chat could not load its socket.io client.",
    },
    zh: {
      name: "\u4e2d\u6587", lang: "zh-Hans", greeting: "\u60a8\u597d\uff01\u8bf7\u544a\u8bc9\u6211\u60a8\u60f3\u627e\u4ec0\u4e48\uff1a\u5546\u54c1\u79cd\u7c7b\u3001\u54c1\u724c\u3001\u9884\u7b97\uff0c\u6216\u8005\u4e09\u8005\u90fd\u8bf4\u3002",
      placeholder: "\u60a8\u60f3\u627e\u4ec0\u4e48\uff1f", launcher: "\u54a8\u8be2\u8d2d\u7269\u52a9\u624b",
      launcherCart: "\u54a8\u8be2\u8d2d\u7269\u52a9\u624b\uff08\u8d2d\u7269\u8f66\u91cc\u6709 {n} \u4ef6\uff09",
      panel: "\u8d2d\u7269\u52a9\u624b", title: "\u8d2d\u7269\u52a9\u624b", cart: "\u8d2d\u7269\u8f66\uff1a",
      close: "\u5173\u95ed\u804a\u5929", log: "\u5bf9\u8bdd", typing: "\u52a9\u624b\u6b63\u5728\u8f93\u5165",
      input: "\u60a8\u7684\u6d88\u606f", send: "\u53d1\u9001", language: "\u8bed\u8a00", details: "\u8be6\u60c5",
      priceUnknown: "\u4ef7\u683c\u672a\u77e5", total: "\u5408\u8ba1\uff1a",
      noAnswer: "\u52a9\u624b\u6ca1\u6709\u56de\u590d\uff0c\u8bf7\u518d\u8bd5\u4e00\u6b21\u3002",
      notSent: "\u672a\u8fde\u63a5\u5230\u52a9\u624b\uff08{server}\uff09\uff0c\u6d88\u606f\u672a\u53d1\u9001\u3002\u6b63\u5728\u91cd\u8bd5\u2026",
      connecting: "\u6b63\u5728\u8fde\u63a5\u52a9\u624b\u2026\u2026\u8fde\u63a5\u6210\u529f\u540e\u5c06\u53d1\u9001\u60a8\u7684\u6d88\u606f\u3002",
      unreachable: "\u65e0\u6cd5\u8fde\u63a5\u5230\u8d2d\u7269\u52a9\u624b\uff08{server}\uff09\u3002\u6b63\u5728\u91cd\u8bd5\u2026",
      refused: "\u8d2d\u7269\u52a9\u624b\u672a\u63a5\u53d7\u672c\u9875\u7684\u767b\u5f55\u4fe1\u606f\uff0c\u8bf7\u5237\u65b0\u9875\u9762\u3002",
      lost: "\u4e0e\u52a9\u624b\u7684\u8fde\u63a5\u5df2\u65ad\u5f00\uff0c\u6b63\u5728\u91cd\u65b0\u8fde\u63a5\u2026",
      noClient: "\u804a\u5929\u65e0\u6cd5\u52a0\u8f7d socket.io \u5ba2\u6237\u7aef\u3002",
    },
  };
  const offered = (script.dataset.languages || "en,zh").split(",").map((code) => code.trim()).filter((code) => TEXTS[code]);
  if (!offered.length) offered.push("en");

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

  /** The widget's text ``key`` in the shopper's language, {name}s filled from ``values``. */
  function t(key, values = {}) {
    return TEXTS[language][key].replace(/\{(\w+)\}/g, (_, name) => String(values[name]));
  }

  /** The lang attribute of a text: Chinese when it has Han characters, else none (the widget's). */
  function langOf(text) {
    return /\p{Script=Han}/u.test(String(text || "")) ? TEXTS.zh.lang : null;
  }

  // The shopper's last pick, else the browser's first language the shop offers, else the shop's first.
  const preferred = (navigator.languages || [navigator.language || ""]).map((tag) => String(tag).slice(0, 2));
  let language = [storageGet(LANGUAGE_KEY, null), ...preferred].find((code) => offered.includes(code)) || offered[0];

  // ---- the widget's elements --------------------------------------------------------------------
  const root = el("div", "shopbot");
  root.id = "shopbot";
  const launcher = el("button", "shopbot-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-controls", "shopbot-panel");
  launcher.setAttribute("aria-expanded", "false");
  const launcherLabel = el("span", "shopbot-launcher-label");
  launcher.append(launcherLabel);
  const launcherBadge = el("span", "shopbot-badge shopbot-cart-count", "0");
  launcherBadge.hidden = true;
  launcher.append(launcherBadge);

  const panel = el("section", "shopbot-panel");
  panel.id = "shopbot-panel";
  panel.hidden = true;
  const header = el("header", "shopbot-header");
  const title = el("h2", "shopbot-title");
  header.append(title);
  const languages = el("select", "shopbot-language");
  offered.forEach((code) => {
    const option = el("option", "", TEXTS[code].name);
    option.value = code;
    option.lang = TEXTS[code].lang;
    languages.append(option);
  });
  languages.hidden = offered.length < 2;
  header.append(languages);
  const cartInfo = el("span", "shopbot-cart");
  const cartLabel = el("span", "");
  cartInfo.append(cartLabel);
  const cartCount = el("span", "shopbot-cart-count", "0");
  cartCount.setAttribute("data-testid", "cart-count");
  cartInfo.append(cartCount);
  header.append(cartInfo);
  const close = el("button", "shopbot-close", "\u00d7");
  close.type = "button";
  header.append(close);
  const status = el("p", "shopbot-status");
  status.setAttribute("role", "status");
  status.hidden = true;
  const log = el("ol", "shopbot-log");
  log.setAttribute("aria-live", "polite");
  const typing = el("p", "shopbot-typing");
  typing.append(el("span"), el("span"), el("span"));
  typing.hidden = true;
  const form = el("form", "shopbot-form");
  const label = el("label", "shopbot-visually-hidden");
  label.htmlFor = "shopbot-input";
  const input = el("input", "shopbot-input");
  input.id = "shopbot-input";
  input.type = "text";
  input.autocomplete = "off";
  input.maxLength = 500;
  const send = el("button", "shopbot-send");
  send.type = "submit";
  form.append(label, input, send);
  panel.append(header, status, log, typing, form);
  root.append(panel, launcher);

  /** Write the widget's own labels in ``code`` and mark the widget as written in it. */
  function useLanguage(code) {
    language = code;
    const texts = TEXTS[code];
    root.lang = texts.lang;
    languages.value = code;
    languages.setAttribute("aria-label", t("language"));
    launcherLabel.textContent = t("launcher");
    panel.setAttribute("aria-label", t("panel"));
    title.textContent = t("title");
    cartLabel.textContent = t("cart");
    close.setAttribute("aria-label", t("close"));
    log.setAttribute("aria-label", t("log"));
    typing.setAttribute("aria-label", t("typing"));
    label.textContent = t("input");
    input.placeholder = shopText("placeholder");
    send.textContent = t("send");
    setCartCount(cartCount.textContent);
  }

  /** The shop's own words for ``key`` in the widget's language (data-greeting, data-greeting-zh), else
   * the widget's. */
  function shopText(key) {
    const attribute = language === "en" ? key : `${key}${language[0].toUpperCase()}${language.slice(1)}`;
    return script.dataset[attribute] || t(key);
  }

  // ---- rendering ----------------------------------------------------------------------------------
  function setCartCount(count) {
    const n = Number(count) || 0;
    cartCount.textContent = String(n);
    launcherBadge.textContent = String(n);
    launcherBadge.hidden = n === 0;
    launcher.setAttribute("aria-label", n ? t("launcherCart", { n }) : t("launcher"));
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
    const cardTitle = el("p", "shopbot-card-title", card.title);
    if (langOf(card.title)) cardTitle.lang = langOf(card.title);
    item.append(cardTitle);
    const rating = typeof card.rating === "number" ? `\u2605 ${card.rating.toFixed(1)}` : null;
    const facts = [card.brand, card.category, rating].filter(Boolean).join(" \u00b7 ");
    if (facts) item.append(el("p", "shopbot-card-facts", facts));
    if (Array.isArray(card.facets) && card.facets.length) {
      const labels = el("ul", "shopbot-card-facets");
      labels.setAttribute("aria-label", t("details"));
      card.facets.filter((f) => f && f.value).forEach((f) => {
        const label = el("li", "shopbot-facet", f.value);
        if (f.name) label.title = String(f.name);
        labels.append(label);
      });
      item.append(labels);
    }
    // The price as the assistant words it; a chat stored before cards had price_text has the number only.
    const price = card.price_text || money(card.price, card.currency);
    item.append(el("p", "shopbot-card-price", price || t("priceUnknown")));
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

  /** A paragraph of message text, marked with its script's language ("zh-Hans" for Chinese). */
  function text(words) {
    const node = el("p", "shopbot-text", words);
    const lang = langOf(words);
    if (lang) node.lang = lang;
    return node;
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
      const total = money(line.line_total, line.currency) || t("priceUnknown");
      lines.append(el("li", "", `${line.quantity} \u00d7 ${line.title} \u2014 ${total}`));
    });
    const total = money(Number(cart.total) || 0, ((cart.lines || [])[0] || {}).currency);
    box.append(lines, el("p", "shopbot-cart-total", t("total") + total));
    return box;
  }

  /** The elements of one bot message: text, quick replies, or one of our custom payloads. */
  function botContent(msg) {
    const parts = [];
    if (typeof msg.text === "string" && msg.text) parts.push(text(msg.text));
    if (Array.isArray(msg.quick_replies) && msg.quick_replies.length) {
      const row = el("div", "shopbot-quick-replies");
      msg.quick_replies.forEach((b) => row.append(actionButton(b, b.title, "shopbot-button shopbot-quick-reply")));
      parts.push(row);
    }
    if (Array.isArray(msg.products) && msg.products.length) parts.push(cardList(msg.products));
    if (msg.product && typeof msg.product === "object") parts.push(cardList([msg.product]));
    if (Array.isArray(msg.comparison)) {
      parts.push(cardList(msg.comparison));
      if (msg.verdict) parts.push(text(msg.verdict));
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
      item.append(text(entry.text));
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
  let pending = null;  // the message awaiting its reply, {message, message_id}: sent (again) once connected
  let unkept = null;  // the shopper's message shown before their session was known: kept once it is
  let keep = true;  // false once the assistant forgot this shopper: this visit's chat is not stored

  function remember(entry, drawn = false) {
    if (!drawn) render(entry);
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
        showStatus(t("noAnswer"));
      }, REPLY_TIMEOUT_MS);
    }
  }

  function showStatus(text) {
    status.textContent = text || "";
    status.hidden = !text;
  }

  let socket = null;
  let confirmed = false;  // the server confirmed this connection's session: messages can be sent

  /** A new id for one message: 32 random hex digits (getRandomValues works on plain http too). */
  function newMessageId() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function sendMessage(text, shownAs) {
    const message = text.trim();
    if (!message) return false;
    const entry = { from: "user", text: shownAs || message };
    if (!socket || !socket.connected || !confirmed) {  // not connected yet: one message waits, sent on connection
      if (pending) {
        showStatus(t("notSent", { server }));
        return false;
      }
      if (!sessionId) unkept = entry;
      remember(entry);
      pending = { message, message_id: newMessageId() };
      showStatus(t("connecting"));
      return true;
    }
    remember(entry);
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
  languages.addEventListener("change", () => {  // the labels at once; the replies once the assistant has it
    const code = languages.value;
    useLanguage(code);
    storageSet(LANGUAGE_KEY, code);
    sendMessage(`/set_language${JSON.stringify({ language: code })}`, TEXTS[code].name);
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
    });
    socket.on("session_confirm", (session) => {
      const id = typeof session === "object" && session ? session.session_id : session;
      if (id && id !== sessionId) {  // a new shopper (or, after forgetting, a new sign-in): keep their chat
        keep = true;
        sessionId = String(id);
        history = storageGet(`shopbot:history:${sessionId}`, []);
        storageSet(SESSION_KEY, sessionId);
        if (unkept) remember(unkept, true);
      }
      unkept = null;
      confirmed = true;
      root.dataset.session = sessionId;
      if (pending) {  // written before the connection, or reconnected before its reply: the same id
        showStatus("");
        socket.emit("user_uttered", pending);
        setTyping(true);
      }
    });
    socket.on("bot_uttered", (message) => {
      pending = null;
      setTyping(false);
      const written = message && message.language;  // a shopper who switched by writing: the labels follow
      if (offered.includes(written) && written !== language) {
        useLanguage(written);
        storageSet(LANGUAGE_KEY, written);
      }
      remember({ from: "bot", message });
      if (message && message.forgotten === true) forgetLocally();
    });
    socket.on("connect_error", () => {
      setTyping(false);
      if (socket.active) {  // a network error: socket.io retries by itself
        showStatus(t("unreachable", { server }));
      } else if (refusals++ < 1) {  // the server refused the token (expired, or a new key): get a new one
        freshToken = true;
        socket.connect();
      } else {
        showStatus(t("refused"));
      }
    });
    socket.on("disconnect", () => {
      confirmed = false;
      showStatus(t("lost"));
    });
  }

  /** Show the widget once its stylesheet is in (no unstyled flash), then connect. */
  function show() {
    useLanguage(language);
    render({ from: "bot", message: { text: shopText("greeting") } });
    history.forEach(render);  // before the log is on the page, so screen readers do not read it all again
    document.body.append(root);
    setOpen(storageGet(OPEN_KEY, false), false);
    const client = document.createElement("script");
    client.src = new URL("vendor/socket.io.min.js", base).href;
    client.addEventListener("load", connect);
    client.addEventListener("error", () => showStatus(t("noClient")));
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
