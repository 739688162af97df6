// The contacts of simulated client `index` among `total`: `count` others, fixed by the index
// (a small deterministic generator), so every process and the parent agree on who watches whom.
export function contactsOf(index, total, count) {
  const wanted = Math.min(count, total - 1);
  const contacts = new Set();
  let state = (index * 2654435761 + 1) >>> 0;
  while (contacts.size < wanted) {
    state = (state * 1664525 + 1013904223) >>> 0;
    const other = state % total;
    if (other !== index) contacts.add(other);
  }
  return [...contacts];
}

/** How many of the `total` clients hold `index` among their contacts. */
export function watchersOf(index, total, count) {
  let watchers = 0;
  for (let i = 0; i < total; i++)
    if (i !== index && contactsOf(i, total, count).includes(index)) watchers++;
  return watchers;
}
