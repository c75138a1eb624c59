// UI strings per language, and picking the language. No DOM, no storage.
//
// English is here; each other language is a module of its own (i18n-fa.js, …) that
// loadStrings() imports for the visitor who reads it: one language each instead of all four at
// start, which were a sixth of the widget's 15 KB.

// of LANGUAGES, those written right to left
const RTL = ["fa", "ar"];
export const LANGUAGES = ["en", "fa", "ar", "zh"];

export const STRINGS = {
  en: {
    title: "Chat with us", close: "Close chat", send: "Send",
    consent: "Before we chat, please accept how we handle your data.", privacy: "Privacy notice",
    accept: "Accept",
    placeholder: "Type your message…", human: "Talk to a person", you: "You", bot: "Bot",
    queue: "You are number {p} in line", eta: "about {m} min", eta_unknown: "waiting for an agent",
    connecting: "Connecting you to an agent…",
    joined: "{a} joined the chat", typing: "{a} is typing…", ended: "The chat has ended",
    read: "Read", sent: "Sent", sending: "Sending", failed: "Not sent",
    offline: "Reconnecting…",
    name: "Name", email: "Email", topic: "Topic", start: "Start chat", skip: "Skip",
    message: "Message", transcript: "Download transcript", new_chat: "New chat",
    end: "End chat", attach: "Attach a file",
    unread: "Chat with us, {n} new message|Chat with us, {n} new messages",
  },
};

/** The first supported primary language among the candidates ("fa-IR" → "fa"), else English. */
export function pickLanguage(...candidates) {
  for (const tag of candidates.flat()) {
    const primary = String(tag || "").toLowerCase().split(/[-_]/)[0];
    if (LANGUAGES.includes(primary)) return primary;
  }
  return "en";
}

export const isRtl = (lang) => RTL.includes(lang);

// A language file that hangs keeps the launcher away this long at most (3 s), then English.
const WAIT_MS = 3000;
let tries = 0;

/** Make `lang`'s strings available to t(); resolves to the language whose strings there are:
 * English should its file fail or hang (the chat still works). A new URL after a failure:
 * browsers may remember a failed module fetch for the page's life. */
export const loadStrings = (lang) => STRINGS[lang] ? Promise.resolve(lang) : Promise.race([
  import(`./i18n-${lang}.js${tries ? "?" + tries : ""}`).then((m) => {
    STRINGS[lang] = m.default;
    return lang;
  }, () => (tries++, "en")), new Promise((r) => setTimeout(r, WAIT_MS, "en"))]);

/** The string `key` in `lang` with {placeholders} filled; English when a key is missing. */
export function t(lang, key, vars) {
  const text = (STRINGS[lang] || STRINGS.en)[key] || STRINGS.en[key] || key;
  return text.replace(/\{(\w+)\}/g, (_, k) => (vars && k in vars ? vars[k] : ""));
}
