/* The alignbench judgment viewer. Vanilla JS, no network: the data is the JSON (format
 * alignbench-viewer/1) packed into #viewer-data by alignbench_utils/viewer.py: base64 of
 * gzip of long-range copies + literal UTF-16 code units (alignbench_utils/text_packing.py);
 * unpackData undoes the three with atob, DecompressionStream and copyWithin. The long text
 * columns (answers, critiques, ...) are packed apart in #viewer-texts: the table is usable
 * before they are read (loadTexts, right after); search, an opened item and export await them.
 *
 * Scale: rows are virtualised (only the visible ones are in the DOM); numeric columns are
 * typed arrays; search runs over the lowercase text of each distinct question, answer and
 * critique (computed once), narrowing the last hits when the query only grows; the sorted
 * order is cached per sort key, so a filter change is one pass over the rows.
 * The filter state lives in the URL query (history.replaceState), so a link reopens it. */
"use strict";
function base64Bytes(text) {
  if (Uint8Array.fromBase64) return Uint8Array.fromBase64(text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let k = 0; k < binary.length; k++) bytes[k] = binary.charCodeAt(k);
  return bytes;
}
async function unpackData(element) {
  const bytes = base64Bytes(element.textContent);
  const gunzipped = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  const payload = await new Response(gunzipped).arrayBuffer();
  const [total, copies, literals] = new Uint32Array(payload, 0, 3);
  const before = new Uint32Array(payload, 12, copies);
  const distance = new Uint32Array(payload, 12 + 4 * copies, copies);
  const length = new Uint32Array(payload, 12 + 8 * copies, copies);
  const literal = new Uint16Array(payload, 12 + 12 * copies, literals);
  const out = new Uint16Array(total);
  let at = 0, used = 0;
  for (let k = 0; k < copies; k++) {
    out.set(literal.subarray(used, used + before[k]), at);
    at += before[k];
    used += before[k];
    out.copyWithin(at, at - distance[k], at - distance[k] + length[k]);
    at += length[k];
  }
  out.set(literal.subarray(used), at);
  return JSON.parse(new TextDecoder("utf-16le").decode(out));
}
(async () => {
  if (typeof DecompressionStream === "undefined") {
    document.getElementById("count").textContent =
      "This browser cannot unpack the data (no DecompressionStream): open the page in a current Chrome, Edge, Firefox or Safari.";
    return;
  }
  const DATA = await unpackData(document.getElementById("viewer-data"));
  performance.mark("viewer:data");
  const N = DATA.n;
  const ROW_H = 28;
  const OVERSCAN = 12;
  const NONE = "(none)";
  const FACETS = ["kind", "model", "judge", "category", "subcategory", "status"];
  const SEARCHED = ["question", "answer", "judgment", "output_1", "output_2"];
  // Identity of a row per kind: the item key in the URL (?item=...) and the side-by-side pairs.
  const KINDS = { pointwise: { key: ["judge", "model", "question_id"] },
                  pairwise: { key: ["judge", "protocol", "pair_id", "order"] } };
  // Shown in their own sections of an opened item, so left out of its "record" table.
  const SHOWN = new Set(["kind", "model", "judge", "category", "subcategory", "question_id",
    "question", "reference", "answer", "judgment", "status", "score", "error",
    "judgment_history", "reasks", "reask_strategy", "parse_method", "request", "prompt_sha256",
    "template_sha256", "pair_id", "order", "protocol", "verdict", "verdict_shown", "input",
    "output_1", "output_2", "model_a", "model_b"]);
  const VERDICTS = { 0: "tie", 1: "output 1", 2: "output 2" };
  // fit: as wide as its longest text (never cut); vs: shown while a second judge is chosen.
  const TABLE = [
    { key: "model", label: "model", width: "100px", fit: true },
    { key: "judge", label: "judge", width: "90px", fit: true },
    { key: "category", label: "category", width: "80px" },
    { key: "subcategory", label: "subcategory", width: "100px" },
    { key: "question_id", label: "question", width: "74px", num: true },
    { key: "status", label: "status", width: "96px" },
    { key: "score", label: "score", width: "56px", num: true },
    { key: "vs_score", label: "vs score", width: "64px", num: true, vs: true },
    { key: "gap", label: "gap", width: "48px", num: true, vs: true },
    { key: "verdict", label: "verdict", width: "64px", fit: true },
    { key: "dimensions", label: "dimensions", width: "minmax(220px, 2.2fr)" },
    { key: "question", label: "question text", width: "minmax(200px, 3fr)" },
  ];
  const $ = (id) => document.getElementById(id);
  const collator = new Intl.Collator("zh", { numeric: true });

  // ---------- columns ----------
  const identity = (n) => { const a = new Int32Array(n); for (let i = 0; i < n; i++) a[i] = i; return a; };
  function decode(encoded) {
    if (!encoded || encoded.numbers) {
      const out = new Float64Array(N).fill(NaN);
      if (encoded) encoded.numbers.forEach((v, i) => { if (v !== null) out[i] = v; });
      return { numbers: out };
    }
    return { values: encoded.values, codes: encoded.codes ? Int32Array.from(encoded.codes) : identity(N),
             json: !!encoded.json };
  }
  const COLS = {};
  let textsLoaded = false, textsPromise = null;
  const loadTexts = () => textsPromise || (textsPromise = unpackData(document.getElementById("viewer-texts"))
    .then((columns) => { Object.assign(DATA.columns, columns); textsLoaded = true; performance.mark("viewer:texts"); }));
  const LATER = new Set(DATA.text_columns);  // the columns in #viewer-texts
  function col(name) {  // a text column asked for before the texts are read is not kept
    if (COLS[name]) return COLS[name];
    const c = decode(DATA.columns[name]);
    if (textsLoaded || !LATER.has(name)) COLS[name] = c;
    return c;
  }
  const fmt = (v) => (Number.isNaN(v) ? "" : String(Math.round(v * 100) / 100));
  function value(name, i) {  // display text of a cell
    const c = col(name);
    if (c.numbers) return fmt(c.numbers[i]);
    const v = c.values[c.codes[i]];
    return v === null ? "" : v;
  }
  function parsed(name, i) {  // a JSON column's value as data
    const c = col(name);
    if (c.numbers) return Number.isNaN(c.numbers[i]) ? null : c.numbers[i];
    const v = c.values[c.codes[i]];
    return c.json && v !== null ? JSON.parse(v) : v;
  }
  function facetColumn(name) {  // every facet as a dictionary column (an all-null one too)
    const c = col(name);
    if (c.values) return c;
    return (COLS["facet:" + name] = COLS["facet:" + name] || { values: [null], codes: new Int32Array(N) });
  }
  const label = (v) => (v === null ? NONE : v);
  const DIM_NAMES = DATA.dimensions.names;
  const DIMS = new Map(DIM_NAMES.map((name, k) => [name, decode({ numbers: DATA.dimensions.numbers[k] }).numbers]));

  // Lowercase text of every distinct searched value: computed once, right after the first
  // render (or by the first search, if that comes sooner).
  let HAY = null;
  const haystacks = () => HAY || (HAY = SEARCHED.map((name) =>
    (col(name).values || []).map((v) => (v ? v.toLowerCase() : ""))));
  const searchCache = SEARCHED.map(() => ({ query: "", hits: null }));
  function hitsFor(k, query) {
    const hay = haystacks()[k];
    const cache = searchCache[k];
    const hits = new Uint8Array(hay.length);
    if (cache.hits && cache.query && query.includes(cache.query)) {
      const prev = cache.hits;  // a longer query only matches where the shorter one did
      for (let j = 0; j < hay.length; j++) if (prev[j] && hay[j].includes(query)) hits[j] = 1;
    } else {
      for (let j = 0; j < hay.length; j++) if (hay[j].includes(query)) hits[j] = 1;
    }
    cache.query = query;
    cache.hits = hits;
    return hits;
  }

  // ---------- row identity, partners ----------
  const kindOf = (i) => value("kind", i) || "pointwise";
  // A repeated judgment (sample > 0) adds its number, so sample 0 keeps the older links.
  const keyOf = (i) => KINDS[kindOf(i)].key.map((name) => value(name, i))
    .concat(value("sample", i) > 0 ? [value("sample", i)] : []).join("|");
  let rowByKey = null;
  function findRow(key) {
    if (!rowByKey) { rowByKey = new Map(); for (let i = 0; i < N; i++) rowByKey.set(keyOf(i), i); }
    const i = rowByKey.get(key);
    return i === undefined ? -1 : i;
  }
  let rowsByQuestion = null;  // kind + question_id (pairwise: pair_id) → rows (for side by side)
  function sameQuestion(i) {
    const q = (j) => kindOf(j) + "|" + value(kindOf(j) === "pairwise" ? "pair_id" : "question_id", j);
    if (!rowsByQuestion) {
      rowsByQuestion = new Map();
      for (let j = 0; j < N; j++) {
        const k = q(j);
        if (!rowsByQuestion.has(k)) rowsByQuestion.set(k, []);
        rowsByQuestion.get(k).push(j);
      }
    }
    return rowsByQuestion.get(q(i)) || [];
  }
  let itemIds = null;  // the item (kind, model, question) of every row, as a small integer
  function items() {
    if (itemIds) return itemIds;
    const ids = new Map();
    itemIds = new Int32Array(N);
    for (let i = 0; i < N; i++) {
      const item = kindOf(i) + "|" + value("model", i) + "|" + value("question_id", i);
      let id = ids.get(item);
      if (id === undefined) ids.set(item, (id = ids.size));
      itemIds[i] = id;
    }
    itemIds.count = ids.size;
    return itemIds;
  }
  const partnerCache = new Map();  // judge → Int32Array: the row of the same item by that judge
  function partnersBy(judge) {
    if (partnerCache.has(judge)) return partnerCache.get(judge);
    const ids = items();
    const judges = facetColumn("judge");
    const code = judges.values.indexOf(judge);
    const byItem = new Int32Array(ids.count).fill(-1);
    for (let i = 0; i < N; i++) if (judges.codes[i] === code) byItem[ids[i]] = i;
    const out = new Int32Array(N);
    for (let i = 0; i < N; i++) out[i] = byItem[ids[i]];
    partnerCache.set(judge, out);
    return out;
  }
  const versusCache = new Map();  // judge → that judge's score of each row's item, and the gap
  function versus(judge) {  // (pointwise rows only: a pairwise verdict has no score to compare)
    if (versusCache.has(judge)) return versusCache.get(judge);
    const partner = partnersBy(judge).map((j, i) => (kindOf(i) === "pairwise" ? -1 : j));
    const score = col("score").numbers;
    const scores = new Float64Array(N).fill(NaN), gap = new Float64Array(N).fill(NaN);
    for (let i = 0; i < N; i++) {
      const j = partner[i];
      if (j >= 0) { scores[i] = score[j]; gap[i] = Math.abs(score[i] - score[j]); }
    }
    const out = { partner, scores, gap, code: facetColumn("judge").values.indexOf(judge) };
    versusCache.set(judge, out);
    return out;
  }
  const VERSUS = new Set(["vs_score", "gap"]);  // columns of the second judge (state.vs)
  const versusValues = (key) => versus(state.vs)[key === "gap" ? "gap" : "scores"];

  // ---------- state <-> URL ----------
  const RANGES = { score: ["score_min", "score_max"], dim: ["dim_min", "dim_max"], vs: ["vs_min", "vs_max"],
                   gap: ["gap_min", "gap_max"] };
  const state = { facets: {}, q: "", dim: "", vs: "", sort: "", desc: false, item: "", side: "",
                  score_min: NaN, score_max: NaN, dim_min: NaN, dim_max: NaN, vs_min: NaN, vs_max: NaN,
                  gap_min: NaN, gap_max: NaN };
  const number = (text) => (text === null || text === "" ? NaN : Number(text));
  function readUrl() {
    const p = new URLSearchParams(location.search);
    for (const f of FACETS) state.facets[f] = new Set(p.getAll(f));
    for (const name of ["q", "dim", "vs", "item", "side"]) state[name] = p.get(name) || "";
    state.vs = state.vs || p.get("vs_judge") || "";  // the older name of vs
    for (const pair of Object.values(RANGES)) for (const name of pair) state[name] = number(p.get(name));
    const sort = p.get("sort") || "";
    state.desc = sort.startsWith("-");
    state.sort = state.desc ? sort.slice(1) : sort;
  }
  function writeUrl() {
    const p = new URLSearchParams();
    for (const f of FACETS) for (const v of state.facets[f]) p.append(f, v);
    for (const name of ["q", "dim", "vs"]) if (state[name]) p.set(name, state[name]);
    for (const pair of Object.values(RANGES)) for (const name of pair) if (!Number.isNaN(state[name])) p.set(name, state[name]);
    if (state.sort) p.set("sort", (state.desc ? "-" : "") + state.sort);
    if (state.item) p.set("item", state.item);
    if (state.item && state.side) p.set("side", state.side);
    const query = p.toString();
    history.replaceState(null, "", query ? "?" + query : location.pathname);
  }

  // ---------- sorting ----------
  const orderCache = new Map();
  function sortKeyValues(key) {  // Float64Array of numbers, or ranks of dictionary values
    if (key.startsWith("dim:")) return DIMS.get(key.slice(4)) || new Float64Array(N).fill(NaN);
    if (VERSUS.has(key)) return state.vs ? versusValues(key) : null;
    const c = key === "dimensions" ? null : col(key);
    if (!c) return null;
    if (c.numbers) return c.numbers;
    const ranks = new Float64Array(c.values.length);
    c.values.map((v, k) => [v, k]).sort((a, b) => (a[0] === null) - (b[0] === null) || collator.compare(a[0] || "", b[0] || ""))
      .forEach(([v, k], r) => { ranks[k] = v === null ? NaN : r; });
    const out = new Float64Array(N);
    for (let i = 0; i < N; i++) out[i] = ranks[c.codes[i]];
    return out;
  }
  function currentOrder() {
    const key = state.sort === "dimensions" && state.dim ? "dim:" + state.dim : state.sort;
    const id = (state.desc ? "-" : "") + key + (VERSUS.has(key) ? "@" + state.vs : "");
    if (orderCache.has(id)) return orderCache.get(id);
    const order = identity(N);
    const values = key ? sortKeyValues(key) : null;
    if (values) {
      const sign = state.desc ? -1 : 1;
      order.sort((a, b) => {
        const x = values[a], y = values[b];
        const xn = Number.isNaN(x), yn = Number.isNaN(y);
        if (xn || yn) return xn === yn ? a - b : xn ? 1 : -1;  // missing last either way
        return x === y ? a - b : (x < y ? -sign : sign);
      });
    }
    orderCache.set(id, order);
    return order;
  }

  // ---------- filtering ----------
  const VISIBLE = new Int32Array(N);
  let visibleCount = 0;
  let facetCounts = {};  // facet → Int32Array per value code: rows passing every other filter
  function allowedCodes(name) {
    const chosen = state.facets[name];
    if (!chosen || !chosen.size) return null;
    return Uint8Array.from(facetColumn(name).values, (v) => (chosen.has(label(v)) ? 1 : 0));
  }
  const inRange = (v, lo, hi) => !Number.isNaN(v) && !(v < lo) && !(v > hi);
  const hasRange = (lo, hi) => !Number.isNaN(lo) || !Number.isNaN(hi);
  // One pass: a row passing every filter is shown and counted in every facet; a row failing
  // only one facet's choice is counted in that facet (what ticking another value would add).
  function filterRows() {
    const facets = FACETS.map((name) => {
      const c = facetColumn(name);
      return { name, codes: c.codes, ok: allowedCodes(name), counts: new Int32Array(c.values.length) };
    });
    const query = state.q.trim().toLowerCase();
    const searched = query ? SEARCHED.map((name, k) => ({ codes: col(name).codes, hits: hitsFor(k, query) }))
      .filter((s) => s.codes) : null;
    const score = col("score").numbers;
    const scoreOn = hasRange(state.score_min, state.score_max);
    const dim = state.dim ? DIMS.get(state.dim) || new Float64Array(N).fill(NaN) : null;
    const other = state.vs ? versus(state.vs) : null;
    const judgeCodes = facetColumn("judge").codes;
    const vsOn = hasRange(state.vs_min, state.vs_max);
    const gapOn = hasRange(state.gap_min, state.gap_max);
    const chosen = facets.filter((f) => f.ok);
    const order = currentOrder();
    let n = 0;
    rows: for (let r = 0; r < N; r++) {
      const i = order[r];
      let missed = null;
      for (let k = 0; k < chosen.length; k++) {
        const f = chosen[k];
        if (!f.ok[f.codes[i]]) {
          if (missed) continue rows;
          missed = f;
        }
      }
      if (scoreOn && !inRange(score[i], state.score_min, state.score_max)) continue;
      if (dim && !inRange(dim[i], state.dim_min, state.dim_max)) continue;
      if (other) {  // rows of the other judge itself are what the rest is compared with
        if (other.partner[i] < 0 || judgeCodes[i] === other.code) continue;
        if (vsOn && !inRange(other.scores[i], state.vs_min, state.vs_max)) continue;
        if (gapOn && !inRange(other.gap[i], state.gap_min, state.gap_max)) continue;
      }
      if (searched) {
        let hit = false;
        for (const s of searched) if (s.hits[s.codes[i]]) { hit = true; break; }
        if (!hit) continue;
      }
      if (missed) { missed.counts[missed.codes[i]]++; continue; }
      for (let k = 0; k < facets.length; k++) facets[k].counts[facets[k].codes[i]]++;
      VISIBLE[n++] = i;
    }
    visibleCount = n;
    facetCounts = Object.fromEntries(facets.map((f) => [f.name, f.counts]));
  }

  // ---------- the table (virtualised) ----------
  const scroller = $("scroller"), rowsEl = $("rows"), canvas = $("canvas"), head = $("head");
  document.documentElement.style.setProperty("--row-h", ROW_H + "px");
  const pool = [];
  let shown = TABLE;  // the columns on screen: the vs ones only while a second judge is chosen
  const fitWidths = new Map();  // fit column → px wide enough for its longest text
  function measureFitColumns() {
    const ctx = document.createElement("canvas").getContext("2d");
    ctx.font = getComputedStyle(rowsEl).font;
    for (const c of TABLE.filter((c) => c.fit)) {
      const texts = new Set(c.key === "verdict" ? Array.from({ length: N }, (_, i) => cellText(c.key, i))
        : facetColumn(c.key).values.map((v) => v || ""));
      let widest = 0;
      for (const text of texts) widest = Math.max(widest, ctx.measureText(text).width);
      fitWidths.set(c.key, Math.max(parseInt(c.width, 10), Math.ceil(widest) + 16));  // 2 × 6px padding + slack
    }
  }
  function layoutColumns() {
    shown = TABLE.filter((c) => !c.vs || state.vs);
    document.documentElement.style.setProperty("--columns",
      shown.map((c) => (fitWidths.has(c.key) ? fitWidths.get(c.key) + "px" : c.width)).join(" "));
    if (pool.length && pool[0].children.length !== shown.length) { rowsEl.replaceChildren(); pool.length = 0; }
  }
  function dimsText(i) {
    const parts = [];
    for (const [name, values] of DIMS) if (!Number.isNaN(values[i])) parts.push(name + " " + fmt(values[i]));
    if (state.dim && DIMS.has(state.dim)) {  // the chosen dimension first
      const k = parts.findIndex((p) => p.startsWith(state.dim + " "));
      if (k > 0) parts.unshift(parts.splice(k, 1)[0]);
    }
    return parts.join(" · ");
  }
  function cellText(key, i) {
    if (key === "dimensions") return dimsText(i);
    if (key === "question") return value("question", i).slice(0, 200);
    if (key === "verdict") return verdictCell(i);
    if (VERSUS.has(key)) return fmt(versusValues(key)[i]);
    return value(key, i);
  }
  function rowElement() {
    const row = document.createElement("div");
    row.className = "row";
    row.setAttribute("role", "row");
    row.tabIndex = 0;  // Tab reaches the visible rows, Enter opens one
    for (const c of shown) {
      const cell = document.createElement("span");
      if (c.num) cell.className = "num";
      row.appendChild(cell);
    }
    row.addEventListener("click", () => openItem(Number(row.dataset.row)));
    rowsEl.appendChild(row);
    return row;
  }
  function renderRows() {
    const top = scroller.scrollTop;
    const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const last = Math.min(visibleCount, Math.ceil((top + scroller.clientHeight) / ROW_H) + OVERSCAN);
    rowsEl.style.transform = `translateY(${first * ROW_H}px)`;
    const openRow = state.item ? findRow(state.item) : -1;
    while (pool.length < last - first) pool.push(rowElement());
    pool.forEach((row, slot) => {
      const r = first + slot;
      if (r >= last) { row.hidden = true; return; }
      const i = VISIBLE[r];
      row.hidden = false;
      row.dataset.row = i;
      row.classList.toggle("open", i === openRow);
      shown.forEach((c, k) => {
        const cell = row.children[k];
        cell.textContent = cellText(c.key, i);
        if (c.key === "status") cell.className = "status-" + cell.textContent;
        if (c.key === "dimensions" || c.key === "question") cell.title = cell.textContent;
      });
    });
  }
  let scrollPending = false;
  scroller.addEventListener("scroll", () => {
    if (scrollPending) return;
    scrollPending = true;
    requestAnimationFrame(() => { scrollPending = false; renderRows(); });
  });
  window.addEventListener("resize", renderRows);

  function renderHead() {
    layoutColumns();
    head.replaceChildren(...shown.map((c) => {
      const cell = document.createElement("span");
      cell.textContent = c.label;
      if (c.num) cell.className = "num";
      if (c.key === "vs_score") cell.title = `score by ${state.vs} of the same item`;
      if (c.key === "gap") cell.title = `|score − score by ${state.vs}|`;
      const unsortable = c.key === "dimensions" && !state.dim;
      if (unsortable) { cell.classList.add("unsortable"); cell.title = "choose a dimension (left) to sort by it"; }
      if (!unsortable && state.sort === c.key) cell.setAttribute("aria-sort", state.desc ? "descending" : "ascending");
      cell.addEventListener("click", () => {
        if (unsortable) return;
        if (state.sort === c.key) {
          if (state.desc) { state.sort = ""; state.desc = false; } else state.desc = true;  // asc → desc → off
        } else { state.sort = c.key; state.desc = false; }
        renderHead();
        refresh(false);
      });
      return cell;
    }));
  }

  function refresh(toTop = true) {
    if (state.q.trim() && !textsLoaded) {  // search needs the texts: read them, then filter
      $("count").textContent = "reading the texts to search…";
      loadTexts().then(() => refresh(toTop));
      return;
    }
    filterRows();
    canvas.style.height = visibleCount * ROW_H + "px";
    if (toTop) scroller.scrollTop = 0;
    renderRows();
    $("count").textContent = `${visibleCount.toLocaleString("en")} of ${N.toLocaleString("en")} judgments`;
    for (const { name, code, span } of facetCells) {  // touch only the counts that changed
      const text = (code < 0 ? 0 : facetCounts[name][code]).toLocaleString("en");
      if (span.textContent !== text) span.textContent = text;
    }
    const empty = $("empty");
    empty.hidden = visibleCount > 0;
    empty.textContent = N ? "No judgment matches these filters." : "No judgments in this run yet.";
    writeUrl();
  }

  // ---------- filter controls ----------
  const facetCells = [];  // facet, value code (-1: a value no row has), the span of its count
  function buildFacets() {
    const box = $("facets");
    for (const name of FACETS) {
      const c = facetColumn(name);
      const present = new Set();
      for (let i = 0; i < N; i++) present.add(c.codes[i]);
      const codeOf = new Map([...present].map((code) => [label(c.values[code]), code]));
      if (name === "kind" && codeOf.size < 2) continue;
      let values = [...codeOf.keys()].sort(collator.compare);
      if (name === "status") values = [...new Set([...DATA.statuses, ...values])];
      for (const v of state.facets[name]) if (!values.includes(v)) values.push(v);  // from a link
      const set = document.createElement("fieldset");
      set.className = "facet";
      set.dataset.facet = name;
      const legend = document.createElement("legend");
      legend.textContent = name;
      const list = document.createElement("div");
      list.className = "values";
      for (const v of values) {
        const item = document.createElement("label");
        const box = document.createElement("input");
        box.type = "checkbox";
        box.value = v;
        box.checked = state.facets[name].has(v);
        const text = document.createElement("span");
        text.textContent = v;
        if (name === "status") text.className = "status-" + v;
        const n = document.createElement("span");
        n.className = "n";
        facetCells.push({ name, code: codeOf.has(v) ? codeOf.get(v) : -1, span: n });
        item.append(box, text, n);
        list.appendChild(item);
      }
      list.addEventListener("change", (event) => {
        const chosen = state.facets[name];
        if (event.target.checked) chosen.add(event.target.value); else chosen.delete(event.target.value);
        refresh();
      });
      set.append(legend, list);
      box.appendChild(set);
    }
  }
  function fillSelect(select, names) {
    for (const name of names) {
      const option = document.createElement("option");
      option.value = option.textContent = name;
      select.appendChild(option);
    }
  }
  function bindControls() {
    const search = $("search");
    search.value = state.q;
    search.addEventListener("input", () => { state.q = search.value; refresh(); });
    const judges = facetColumn("judge").values.filter((v) => v !== null).sort(collator.compare);
    fillSelect($("dim"), DIM_NAMES);
    fillSelect($("vs-judge"), judges);
    for (const [id, name] of [["dim", "dim"], ["vs-judge", "vs"]]) {
      const select = $(id);
      if (state[name] && ![...select.options].some((o) => o.value === state[name])) fillSelect(select, [state[name]]);
      select.value = state[name];
      select.addEventListener("change", () => { state[name] = select.value; renderHead(); refresh(); });
    }
    for (const name of Object.values(RANGES).flat()) {
      const input = $(name.replace("_", "-"));
      input.value = Number.isNaN(state[name]) ? "" : state[name];
      input.addEventListener("input", () => { state[name] = number(input.value); refresh(); });
    }
    $("reset").addEventListener("click", () => {  // filters only: sort and opened item stay
      for (const f of FACETS) state.facets[f] = new Set();
      state.q = state.dim = state.vs = "";
      for (const name of Object.values(RANGES).flat()) state[name] = NaN;
      for (const input of document.querySelectorAll("#filters input")) {
        if (input.type === "checkbox") input.checked = false; else input.value = "";
      }
      for (const select of document.querySelectorAll("#filters select")) select.value = "";
      renderHead();
      refresh();
    });
    $("export-csv").addEventListener("click",
      () => loadTexts().then(() => download(exportCsv(), "csv", "text/csv;charset=utf-8")));
    $("export-jsonl").addEventListener("click",
      () => loadTexts().then(() => download(exportJsonl(), "jsonl", "application/jsonl")));
  }

  // ---------- export: the rows on screen, every field, in table order ----------
  function exportRecords() {
    const names = Object.keys(DATA.columns);
    const other = state.vs ? versus(state.vs) : null;
    return Array.from(VISIBLE.subarray(0, visibleCount), (i) => {
      const record = {};
      for (const name of names) record[name] = parsed(name, i);
      const dims = {};
      for (const [name, values] of DIMS) if (!Number.isNaN(values[i])) dims[name] = values[i];
      record.dimensions = dims;
      if (other) {
        record.vs_judge = state.vs;
        record.vs_score = Number.isNaN(other.scores[i]) ? null : other.scores[i];
        record.gap = Number.isNaN(other.gap[i]) ? null : other.gap[i];
      }
      return record;
    });
  }
  const exportJsonl = () => exportRecords().map((r) => JSON.stringify(r) + "\n").join("");
  function exportCsv() {  // RFC 4180, a BOM so that spreadsheets read the Chinese as UTF-8
    const records = exportRecords();
    const names = records.length ? Object.keys(records[0])
      : [...Object.keys(DATA.columns), "dimensions", ...(state.vs ? ["vs_judge", "vs_score", "gap"] : [])];
    const cell = (v) => {
      const text = v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
      return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
    };
    return "\ufeff" + [names, ...records.map((r) => names.map((name) => r[name]))]
      .map((row) => row.map(cell).join(",") + "\r\n").join("");
  }
  function download(text, extension, type) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const link = el("a", { href: url, download: `${DATA.run || "viewer"}-judgments.${extension}` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  // ---------- an opened item ----------
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }
  const section = (title, ...content) => [el("h3", { textContent: title }), ...content];
  const textBlock = (text, className = "text") => el("div", { className, textContent: text });
  const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

  // The critique with the parsed scores highlighted: every dimension or overall-score name
  // (with the number after it, if any) is marked with its parsed value, and the final score
  // dict (the last {...} holding an overall key) is marked as a whole.
  function highlighted(text, i) {
    const parsedScore = new Map(DIM_NAMES.map((name) => [name, DIMS.get(name)[i]]));
    for (const key of DATA.overall_keys) parsedScore.set(key, col("score").numbers[i]);
    const out = el("div", { className: "text critique" });
    if (!text) { out.textContent = "(empty)"; return out; }
    const names = [...parsedScore.keys()].sort((a, b) => b.length - a.length);  // longest first
    const pattern = new RegExp(`(?:${names.map(escapeRe).join("|")})(?:["'’”]?\\s*[:：=]\\s*\\d+(?:\\.\\d+)?)?`, "g");
    const markNames = (part, into) => {
      let at = 0;
      for (const m of part.matchAll(pattern)) {
        into.append(part.slice(at, m.index));
        const name = names.find((k) => m[0].startsWith(k));
        const v = parsedScore.get(name);
        into.append(el("mark", { className: "dim", textContent: m[0],
                                 title: Number.isNaN(v) ? `${name}: no parsed score` : `${name}: parsed ${fmt(v)}` }));
        at = m.index + m[0].length;
      }
      into.append(part.slice(at));
    };
    let dictStart = -1, dictEnd = -1;
    const overallAt = Math.max(...DATA.overall_keys.map((k) => text.lastIndexOf(k)));
    if (overallAt >= 0) {
      dictStart = Math.max(text.lastIndexOf("{", overallAt), text.lastIndexOf("｛", overallAt));
      const ends = ["}", "｝"].map((b) => text.indexOf(b, overallAt)).filter((e) => e >= 0);
      dictEnd = ends.length ? Math.min(...ends) + 1 : -1;
    }
    if (dictStart >= 0 && dictEnd > dictStart) {
      markNames(text.slice(0, dictStart), out);
      const dict = el("mark", { className: "scores", title: "the score dict" });
      markNames(text.slice(dictStart, dictEnd), dict);
      out.append(dict);
      markNames(text.slice(dictEnd), out);
    } else {
      markNames(text, out);
    }
    return out;
  }
  function kvTable(pairs) {
    return el("table", { className: "kv" }, ...pairs.map(([k, v, mono]) =>
      el("tr", null, el("td", { textContent: k }), el("td", { textContent: v, className: mono ? "mono" : "" }))));
  }
  function scoresTable(i) {
    const pairs = [["overall score", value("score", i) || "—"]];
    for (const [name, values] of DIMS) if (!Number.isNaN(values[i])) pairs.push([name, fmt(values[i])]);
    return kvTable(pairs);
  }
  function rawOutputs(i) {
    const history = parsed("judgment_history", i) || [];
    const outputs = [...history, value("judgment", i)];
    const reasks = value("reasks", i);
    const notes = kvTable([["re-asks", reasks || "0"], ["re-ask strategy", value("reask_strategy", i) || "—"],
                           ["parser rule", value("parse_method", i) || "—"]]);
    const blocks = outputs.map((text, k) => [
      el("h3", { textContent: k === 0 ? "raw output 1 (first ask)" : `raw output ${k + 1} (re-ask ${k})` +
                              (k === outputs.length - 1 ? ", final" : "") }),
      textBlock(text || "(empty)")]);
    return [notes, ...blocks.flat()];
  }
  function recordFields(i) {
    const names = Object.keys(DATA.columns).filter((name) => !SHOWN.has(name));
    return kvTable(names.map((name) => [name, value(name, i), true]).filter(([, v]) => v !== ""));
  }
  function card(i) {
    const status = value("status", i);
    const request = parsed("request", i);
    return el("div", { className: "card" },
      el("div", { className: "card-head" },
        `${value("model", i)} · judged by ${value("judge", i)} · `,
        el("span", { className: "status-" + status, textContent: status }),
        status === "ok" ? ` · score ${value("score", i)}` : ""),
      ...section("answer", textBlock(value("answer", i) || "(empty)")),
      ...section("critique (parsed scores highlighted)", highlighted(value("judgment", i), i)),
      value("error", i) ? el("p", { className: "error-text", textContent: "error: " + value("error", i) }) : null,
      ...section("parsed scores", scoresTable(i)),
      ...section("request", kvTable([
        ["prompt_sha256", value("prompt_sha256", i), true], ["template_sha256", value("template_sha256", i), true]])),
      textBlock(request === null ? "(not recorded)" : JSON.stringify(request, null, 2), "text mono"),
      el("details", { className: "raw", open: status !== "ok" || value("reasks", i) > 0 },  // open when it matters
        el("summary", { textContent: "every raw output and re-ask" }), ...rawOutputs(i)),
      el("details", { className: "record" }, el("summary", { textContent: "all other record fields" }), recordFields(i)));
  }
  // ---------- a pairwise item: the two responses, then one card per judged order ----------
  const verdictText = (v) => (v === "" ? "" : VERDICTS[v] || v);
  function verdictCell(i) {  // "A: qwen2.5-7b wins" where the pair names its models
    const v = value("verdict", i);
    const model = v === "1" ? value("model_a", i) : v === "2" ? value("model_b", i) : "";
    return model ? `${v === "1" ? "A" : "B"}: ${model} wins` : verdictText(v);
  }
  function sideName(i, output) {  // "output 1 · model_a"
    const model = value(output === 1 ? "model_a" : "model_b", i);
    return `output ${output}` + (model ? ` · ${model}` : "");
  }
  function responses(i) {
    const first = value("order", i) === "ba" ? 2 : 1;
    const box = el("div", { className: "columns responses" }, ...[1, 2].map((output) =>
      el("div", { className: "card response output-" + output },
        el("div", { className: "card-head" }, sideName(i, output) +
          (output === first ? ` · shown first (order ${value("order", i)})` : ` · shown second (order ${value("order", i)})`)),
        textBlock(value("output_" + output, i) || "(not found in this run)"))));
    box.style.setProperty("--n", 2);
    return el("div", null, ...section("the two responses", box));
  }
  function pairCard(i) {
    const status = value("status", i);
    const request = parsed("request", i);
    const order = value("order", i);
    const shownFirst = order === "ba" ? 2 : 1;
    const verdict = value("verdict", i);
    const shown = value("verdict_shown", i);
    return el("div", { className: "card pair-card" },
      el("div", { className: "card-head" },
        `${value("judge", i)} · ${value("protocol", i)} · order ${order} (${sideName(i, shownFirst)} shown first) · `,
        el("span", { className: "status-" + status, textContent: status }),
        status === "ok" ? ` · verdict ${verdictCell(i)}` : ""),
      ...section("verdict", kvTable([
        ["verdict (mapped back)", verdict === "" ? "—" : verdict === "0" ? "tie" : sideName(i, Number(verdict))],
        ["verdict as shown", shown === "" ? "—" : shown === "0" ? "tie" : `${shown === "1" ? "first" : "second"} shown`],
        ["fallback verdict", value("fallback", i) || "—"]])),
      ...section("raw reply", textBlock(value("judgment", i) || "(empty)", "text reply")),
      value("error", i) ? el("p", { className: "error-text", textContent: "error: " + value("error", i) }) : null,
      ...section("request", kvTable([["request_hash", value("request_hash", i), true],
        ["prompt_sha256", value("prompt_sha256", i), true], ["template_sha256", value("template_sha256", i), true]])),
      textBlock(request === null ? "(not recorded)" : JSON.stringify(request, null, 2), "text mono"),
      el("details", { className: "record" }, el("summary", { textContent: "all other record fields" }), recordFields(i)));
  }
  function sideOptions(i) {
    const out = [];
    for (const j of sameQuestion(i)) {
      if (j === i) continue;
      if (kindOf(i) === "pairwise") out.push(["order:" + value("judge", j) + " / " + value("protocol", j) + " / " + value("order", j), j]);
      else if (value("model", j) === value("model", i)) out.push(["judge:" + value("judge", j), j]);
      else if (value("judge", j) === value("judge", i)) out.push(["model:" + value("model", j), j]);
    }
    return out.sort((a, b) => collator.compare(a[0], b[0]));
  }
  function renderDetail() {
    if (state.item && !textsLoaded) { loadTexts().then(renderDetail); return; }
    const i = state.item ? findRow(state.item) : -1;
    const panel = $("detail");
    panel.hidden = i < 0;
    if (i < 0) return;
    const options = sideOptions(i);
    const side = $("side");
    side.replaceChildren(el("option", { value: "", textContent: "(nothing)" }),
      ...options.map(([name]) => el("option", { value: name, textContent: name.replace(":", ": ") })));
    const other = options.find(([name]) => name === state.side);
    side.value = other ? state.side : "";
    const pairwise = kindOf(i) === "pairwise";
    $("detail-title").textContent = pairwise
      ? `pair ${value("pair_id", i)} · ${[value("category", i) || value("benchmark", i), value("subcategory", i) || value("subset", i)].filter(Boolean).join(" / ")}`
      : `question ${value("question_id", i)} · ${value("category", i)} / ${value("subcategory", i)}`;
    const makeCard = pairwise ? pairCard : card;
    const cards = other ? [makeCard(i), makeCard(other[1])] : [makeCard(i)];
    const columns = el("div", { className: "columns" }, ...cards);
    columns.style.setProperty("--n", cards.length);
    $("detail-body").replaceChildren(
      ...section(pairwise ? "question / instruction" : "question", textBlock(value("question", i) || "(not found in this run)")),
      ...(value("input", i) ? section("input", textBlock(value("input", i))) : []),
      ...section("reference answer", textBlock(value("reference", i) || "(none)")),
      ...(pairwise ? [responses(i)] : []),
      columns);
    $("detail-body").scrollTop = 0;
  }
  function openItem(i) {
    state.item = i < 0 ? "" : keyOf(i);
    if (i < 0) state.side = "";
    renderDetail();
    renderRows();
    writeUrl();
  }
  function step(delta) {
    const i = findRow(state.item);
    const r = VISIBLE.subarray(0, visibleCount).indexOf(i);
    const next = r + delta;
    if (r < 0 || next < 0 || next >= visibleCount) return;
    openItem(VISIBLE[next]);
    const top = next * ROW_H;
    if (top < scroller.scrollTop || top > scroller.scrollTop + scroller.clientHeight - ROW_H) scroller.scrollTop = top - ROW_H * 3;
  }
  $("close").addEventListener("click", () => openItem(-1));
  $("prev").addEventListener("click", () => step(-1));
  $("next").addEventListener("click", () => step(1));
  $("side").addEventListener("change", (event) => { state.side = event.target.value; renderDetail(); writeUrl(); });
  document.addEventListener("keydown", (event) => {
    if (event.target.closest && event.target.closest("input, select, textarea")) return;
    if (event.key === "Enter" && event.target.classList.contains("row")) openItem(Number(event.target.dataset.row));
    else if (event.key === "Escape" && state.item) openItem(-1);
    else if (event.key === "j" && state.item) step(1);
    else if (event.key === "k" && state.item) step(-1);
  });

  // ---------- start ----------
  // For tests and benchmarks: the filtered rows as item keys, in table order.
  const api = {
    count: () => visibleCount,
    textsLoaded: () => textsLoaded,
    rows: () => Array.from(VISIBLE.subarray(0, visibleCount), (i) => KINDS[kindOf(i)].key.map((name) => parsed(name, i))),
  };
  window.__viewer = api;
  readUrl();
  measureFitColumns();
  buildFacets();
  bindControls();
  renderHead();
  if (state.q.trim() || state.item) await loadTexts();  // a link that searches or opens an item
  refresh(false);
  renderDetail();
  window.__viewerReady = performance.now();
  setTimeout(() => loadTexts().then(() => { haystacks(); performance.mark("viewer:search-ready"); }), 0);
})();
