/* The audit log's times and numbers in the page language (the server writes them in UTC and
   plain digits; Persian readers get the Persian calendar and digits). */
"use strict";

for (const time of document.querySelectorAll("#audit-table time[data-ms]")) {
  const ms = Number(time.dataset.ms);
  time.textContent = new Date(ms).toLocaleString(LOCALE, { year: "numeric", month: "short",
    day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}
for (const number of document.querySelectorAll("#audit-table data.num")) {
  number.textContent = fmtNumber(Number(number.value), { useGrouping: !number.classList.contains("id") });
}
