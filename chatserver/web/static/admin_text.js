/* The admin pages' words that are not fixed text: the server's validation messages that carry a
   number or a value (fixed ones go through t() in showErrors as they are), and language names
   from the browser's Intl in the page language. Loaded before admin.js, users.js and
   labels_admin.js. */
"use strict";

/* The server's messages with numbers or values in them, as (pattern, its text in the page
   language). A message no pattern knows passes through t(), which falls back to English. */
const SERVER_PATTERNS = [
  [/^at most (\d+) characters, got (\d+)$/,
    (m) => t("at most {limit} characters, got {count}", { limit: fmtNumber(+m[1]), count: fmtNumber(+m[2]) })],
  [/^at most (\d+) questions, got (\d+)$/,
    (m) => t("at most {limit} questions, got {count}", { limit: fmtNumber(+m[1]), count: fmtNumber(+m[2]) })],
  [/^at most (\d+) tags, got (\d+)$/,
    (m) => t("at most {limit} tags, got {count}", { limit: fmtNumber(+m[1]), count: fmtNumber(+m[2]) })],
  [/^must be a primary language tag\b/,
    () => t("must be a language code of 2-3 letters, or empty for any language")],
  [/^must be 1-40 of a-z, 0-9/,
    () => t("must be 1-40 lower-case Latin letters, digits, '_', ':' or '-'")],
  [/^(?:contains an invisible or control character \(|control character |unpaired surrogate )U\+([0-9A-F]+) at position (\d+)\)?$/,
    (m) => t("contains an invisible or control character (U+{code}) at position {position}", { code: m[1], position: fmtNumber(+m[2]) })],
  [/^this proposal was already approved$/, () => t("Someone already approved this phrasing.")],
  [/^this proposal was already rejected$/, () => t("Someone already rejected this phrasing.")],
  [/^this proposal was already expired$/, () => t("This phrasing expired.")],
  [/^entry \d+ has no version \d+$/, () => t("That version is gone.")],
  [/^no knowledge-base entry \d+$/, () => t("That entry is gone.")],
  // An import's problems (knowledge_base/formats.py), each shown after its line number.
  [/^not valid JSON: .* \(column (\d+)\)$/, (m) => t("not valid JSON (column {column})", { column: fmtNumber(+m[1]) })],
  [/^has (\d+) fields but the header has (\d+)$/,
    (m) => t("has {count} fields but the header has {header}", { count: fmtNumber(+m[1]), header: fmtNumber(+m[2]) })],
  [/^(['"])(.*)\1 is also a question of the entry at line (\d+)$/,
    (m) => t("“{question}” is also a question of the entry at line {line}", { question: m[2], line: fmtNumber(+m[3]) })],
  [/^unknown column (['"])(.*)\1; columns are (.*)$/,
    (m) => t("unknown column “{name}”; the columns are {columns}", { name: m[2], columns: m[3] })],
  [/^missing header row: the first line must name the columns, e\.g\. (.*)$/,
    (m) => t("no header row: the first line must name the columns, such as {example}", { example: m[1] })],
  [/^id (\d+) is also used by the entry at line (\d+)$/,
    (m) => t("id {id} is also used by the entry at line {line}", { id: m[1], line: fmtNumber(+m[2]) })],
];

/** The server's `message` in the page language. */
function serverText(message) {
  for (const [pattern, text] of SERVER_PATTERNS) {
    const match = pattern.exec(message || "");
    if (match) return text(match);
  }
  return t(message);
}

/** A 4xx body with its message in the page language, for showErrors(). */
function localized(data) {
  return data && data.message ? { ...data, message: serverText(data.message) } : data;
}

/** A language code's name in the page language ("fa" → «فارسی» on a Persian page). */
function languageOnly(code) {
  if (!code) return t("Any language");
  try {
    const name = new Intl.DisplayNames(LOCALE || "en", { type: "language" }).of(code);
    if (name && name !== code) return name;
  } catch (e) { /* not a language code Intl knows: show it as typed */ }
  return code;
}

for (const option of document.querySelectorAll("option[data-language-name]")) {
  // A datalist suggestion shows the code as its value and the name as its label.
  option.textContent = languageOnly(option.value);
}
