// The okrstream OKR board: a plain ES module, no dependencies, nothing fetched from elsewhere.
//
// Views (the location's hash): #/ the objectives of a period, #/?as_of=<instant> the same as they
// stood then, #/kr/<id> one key result, #/kpis every KPI. Scores arrive live from /board/events
// (server-sent events); a score shown is the newer of the last read and the last event received.

const STATUS = {
  achieved: { word: "Achieved", icon: "✔" },
  on_track: { word: "On track", icon: "●" },
  at_risk: { word: "At risk", icon: "▲" },
  off_track: { word: "Off track", icon: "✖" },
  partially_achieved: { word: "Partially achieved", icon: "◐" },
  missed: { word: "Missed", icon: "✖" },
};
const GRADE = {
  green: { word: "Green", icon: "●" },
  yellow: { word: "Yellow", icon: "▲" },
  red: { word: "Red", icon: "■" },
};
const CAUSE = {
  events: "new events",
  late_events: "late events",
  time: "time passing",
  definition: "its definition applied",
  cascade: "a score it reads",
};
const HEALTH = {
  healthy: { word: "Healthy", icon: "✔" },
  unhealthy: { word: "Unhealthy", icon: "✖" },
  not_judged: { word: "Not judged yet", icon: "…" },
};
const LEVELS = ["company", "department", "team"];
const WATCHDOG_MS = 40000; // the server sends a ping every 15 s: silence this long means a dead link

const state = {
  tz: "UTC",
  session: null,
  report: null, // the last /board/api/objectives read
  asOf: null, // ISO instant of a historical view, null when live
  period: null, // the period label shown
  live: { kr: new Map(), objective: new Map() }, // the newest scored events received
  view: null, // "objectives" | "kr" | "kpis"
  detail: null, // the key result open: its /board/api/key-results/{id} answer
  kpiGrain: "quarter",
  lastObjective: null, // of the last view with objectives: the period time travel moves over
};

// -- small helpers ------------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg"; // a namespace name, never fetched

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.setAttribute("class", value);
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

const main = () => document.getElementById("main");

function number(value) {
  if (value === null || value === undefined) return "–";
  const size = Math.abs(value);
  const options =
    size >= 1000
      ? { maximumFractionDigits: 0 }
      : size >= 1
        ? { maximumFractionDigits: 2 }
        : { maximumSignificantDigits: 3 };
  return new Intl.NumberFormat("en", options).format(value);
}

function withUnit(value, unit) {
  return unit ? `${number(value)} ${unit}` : number(value);
}

const percent = (value) =>
  value === null || value === undefined ? "–" : `${Math.round(value * 100)}%`;

function change(value) {
  if (value === null || value === undefined) return { text: "no comparison", icon: "–", word: "" };
  const shown = `${value > 0 ? "+" : value < 0 ? "−" : "±"}${Math.abs(value * 100).toFixed(1)}%`;
  if (value > 0) return { text: shown, icon: "▲", word: "up" };
  if (value < 0) return { text: shown, icon: "▼", word: "down" };
  return { text: shown, icon: "▶", word: "unchanged" };
}

function when(iso, style = "medium") {
  if (!iso) return "never";
  return new Intl.DateTimeFormat("en-GB", {
    timeZone: state.tz,
    dateStyle: "medium",
    timeStyle: style,
  }).format(new Date(iso));
}

function day(iso) {
  return new Intl.DateTimeFormat("en-GB", { timeZone: state.tz, day: "numeric", month: "short" }).format(
    new Date(iso),
  );
}

function timeEl(iso, style) {
  return h("time", { datetime: iso || "" }, when(iso, style));
}

// the offset of `zone` from UTC at the instant `ms`, in ms
function zoneOffset(ms, zone) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(ms));
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  const wall = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return wall - Math.floor(ms / 1000) * 1000;
}

// "2026-11-15T12:00" on the board's clock -> ms since the epoch
function fromWall(text, zone) {
  const [date, time = "00:00"] = text.split("T");
  const [y, m, d] = date.split("-").map(Number);
  const [hh, mm] = time.split(":").map(Number);
  const guess = Date.UTC(y, m - 1, d, hh, mm);
  const first = guess - zoneOffset(guess, zone);
  return guess - zoneOffset(first, zone);
}

// ms since the epoch -> "2026-11-15T12:00" on the board's clock
function toWall(ms, zone) {
  return new Date(ms + zoneOffset(ms, zone)).toISOString().slice(0, 16);
}

const millis = (iso) => (iso ? Date.parse(iso) : NaN);

// whether score a is newer than b: by the instant it describes, then by when it was recorded
function newer(a, b) {
  if (!b) return true;
  if (!a) return false;
  const [asA, asB] = [millis(a.as_of), millis(b.as_of)];
  if (asA !== asB) return asA > asB;
  return millis(a.scored_at) >= millis(b.scored_at);
}

function badge(kind, key, table, prefix = "") {
  const entry = table[key];
  if (!entry) return h("span", { class: "badge badge-none" }, "Not scored");
  return h(
    "span",
    { class: `badge ${kind}-${key}`, "data-value": key },
    h("span", { class: "icon", "aria-hidden": "true" }, entry.icon),
    ` ${prefix}${entry.word}`,
  );
}

function announce(text) {
  const el = document.getElementById("announcer");
  el.textContent = "";
  window.setTimeout(() => {
    el.textContent = text;
  }, 50);
}

class SignedOut extends Error {}

async function api(path) {
  const response = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (response.status === 401) {
    window.location.assign("/board/login");
    throw new SignedOut("signed out");
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `the server answered ${response.status}`);
  return body;
}

function showError(error) {
  if (error instanceof SignedOut) return;
  main().replaceChildren(
    h("p", { class: "error", role: "alert" }, `The board could not be read: ${error.message}`),
  );
}

// -- live: server-sent events ---------------------------------------------------------------------

const live = {
  source: null,
  watchdog: null,
  retryMs: 1000,
  connected: false,
  everConnected: false,
};

function connect() {
  if (live.source) live.source.close();
  const source = new EventSource("/board/events");
  live.source = source;
  const alive = () => {
    window.clearTimeout(live.watchdog);
    live.watchdog = window.setTimeout(() => dropped("no word from the server"), WATCHDOG_MS);
  };
  source.addEventListener("ready", (event) => {
    alive();
    live.connected = true;
    live.retryMs = 1000;
    const body = JSON.parse(event.data);
    if (body.live) connection(null);
    else connection("Live updates wait for the event log: reconnecting…");
    document.body.dataset.live = body.live ? "connected" : "waiting";
    if (live.everConnected || body.live) refreshSoon();
    live.everConnected = true;
  });
  source.addEventListener("ping", alive);
  source.addEventListener("key_result.scored", (event) => {
    alive();
    received("kr", JSON.parse(event.data));
  });
  source.addEventListener("objective.scored", (event) => {
    alive();
    received("objective", JSON.parse(event.data));
  });
  source.addEventListener("resync", () => {
    alive();
    refreshSoon();
  });
  source.addEventListener("logout", () => window.location.assign("/board/login"));
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) dropped("the connection was refused");
    else connection("The connection to the server dropped: reconnecting…");
  };
}

function dropped(why) {
  window.clearTimeout(live.watchdog);
  live.connected = false;
  document.body.dataset.live = "disconnected";
  if (live.source) live.source.close();
  live.source = null;
  connection(`The connection to the server dropped (${why}): reconnecting…`);
  const delay = live.retryMs;
  live.retryMs = Math.min(live.retryMs * 2, 10000);
  window.setTimeout(async () => {
    try {
      await api("/board/api/session"); // signed out meanwhile: this goes to the login page
    } catch (error) {
      if (error instanceof SignedOut) return;
    }
    connect();
  }, delay);
}

function connection(message) {
  const banner = document.getElementById("connection");
  if (message === null) {
    banner.hidden = true;
    banner.replaceChildren();
    document.body.dataset.live = "connected";
    return;
  }
  document.body.dataset.live = "disconnected";
  banner.replaceChildren(h("span", { class: "icon", "aria-hidden": "true" }, "⚠"), ` ${message}`);
  banner.hidden = false;
}

let refreshTimer = null;
function refreshSoon() {
  window.clearTimeout(refreshTimer);
  refreshTimer = window.setTimeout(() => {
    if (state.view === "objectives" && !state.asOf) loadObjectives(true).catch(showError);
    if (state.view === "kr" && state.detail) loadKeyResult(state.detail.key_result.id, true).catch(showError);
  }, 150);
}

function received(kind, event) {
  const id = kind === "kr" ? event.key_result : event.objective;
  const known = state.live[kind].get(id);
  if (known && !newer(event, known)) return;
  state.live[kind].set(id, event);
  if (state.view === "objectives" && !state.asOf) {
    if (kind === "kr") paintKeyResultById(id, true);
    else paintObjectiveById(id, true);
    paintPeriod();
  } else if (state.view === "kr" && state.detail) {
    if (kind === "kr" && id === state.detail.key_result.id) {
      const history = state.detail.history;
      if (!history.some((row) => row.as_of === event.as_of && row.scored_at === event.scored_at)) {
        history.push({ ...event, scored: true });
      }
      renderKeyResultLive();
    }
  }
}

// -- the objectives ---------------------------------------------------------------------------

function objectivesInPeriod(report, label) {
  return report.objectives.filter((o) => o.period === label);
}

function choosePeriod(report, wanted) {
  const labels = [...new Set(report.objectives.map((o) => o.period))];
  if (wanted && labels.includes(wanted)) return wanted;
  const now = millis(report.as_of || report.now);
  const current = report.objectives.find(
    (o) => millis(o.period_start) <= now && now < millis(o.period_end),
  );
  if (current) return current.period;
  const latest = [...report.objectives].sort((a, b) => millis(b.period_start) - millis(a.period_start))[0];
  return latest ? latest.period : null;
}

// what a key result or objective shows: the newer of the last read and the last live event
function shownScore(kind, item) {
  const read = item.scored ? { ...item, scored_at: item.updated_at } : null;
  if (state.asOf) return read;
  const event = state.live[kind].get(item.id);
  return event && newer(event, read) ? { ...event, scored: true } : read;
}

function unitOf(kr) {
  const metric = kr.definition && kr.definition.metric;
  if (metric && state.report && state.report.kpis[metric.kpi]) return state.report.kpis[metric.kpi].unit || "";
  if (kr.kind === "milestone") return "milestones";
  return "";
}

async function loadObjectives(soft = false) {
  const query = new URLSearchParams();
  if (state.asOf) query.set("as_of", state.asOf);
  const report = await api(`/board/api/objectives${query.toString() ? `?${query}` : ""}`);
  if (state.view !== "objectives") return;
  const before = state.report;
  state.report = report;
  const period = choosePeriod(report, state.period);
  const sameShape = soft && before && period === state.period && shape(before) === shape(report);
  state.period = period;
  if (sameShape) {
    paintAll();
  } else {
    renderObjectives();
  }
}

function shape(report) {
  return report.objectives.map((o) => `${o.id}:${o.key_results.map((k) => k.id).join(",")}`).join(";");
}

function showObjectives(asOf, period) {
  state.view = "objectives";
  state.asOf = asOf || null;
  state.period = period || state.period;
  historyMark();
  main().replaceChildren(h("p", { class: "loading" }, "Loading the objectives…"));
  return loadObjectives().catch(showError);
}

function historyMark() {
  const mark = document.getElementById("history-mark");
  document.body.classList.toggle("historical", Boolean(state.asOf));
  if (!state.asOf || state.view !== "objectives") {
    mark.hidden = true;
    mark.replaceChildren();
    return;
  }
  mark.replaceChildren(
    clockIcon(),
    " Historical view: the board as it stood at ",
    h("strong", {}, timeEl(state.asOf)),
    ` (${state.tz}), recomputed from the events that had landed by then. Live updates are paused. `,
    h("a", { href: `#/?period=${encodeURIComponent(state.period || "")}`, id: "back-to-live" }, "Back to live"),
  );
  mark.hidden = false;
}

function clockIcon() {
  return s(
    "svg",
    { class: "icon-svg", viewBox: "0 0 16 16", width: 16, height: 16, "aria-hidden": "true", focusable: "false" },
    s("circle", { cx: 8, cy: 8, r: 6.5, fill: "none", stroke: "currentColor", "stroke-width": 1.8 }),
    s("path", { d: "M8 4v4l3 2", fill: "none", stroke: "currentColor", "stroke-width": 1.8 }),
  );
}

function renderObjectives() {
  const report = state.report;
  const root = main();
  const children = [];
  if (!report.objectives.length) {
    // as of an instant before anything was applied: say why, and keep the way back in time
    const known = state.asOf && state.lastObjective;
    root.replaceChildren(
      h("h1", {}, "Objectives"),
      h("p", { class: "hint", role: "note", id: "hint" }, report.hint || "No objective is in force yet: okrstream okr apply FILE."),
      known ? timeTravel(state.lastObjective) : "",
    );
    return;
  }
  const labels = [...new Set(report.objectives.map((o) => o.period))].sort();
  const objectives = objectivesInPeriod(report, state.period);
  const first = objectives[0];
  state.lastObjective = first;
  children.push(
    h(
      "div",
      { class: "heading-row" },
      h("h1", {}, "Objectives ", h("span", { class: "period-label" }, state.period)),
      labels.length > 1
        ? h(
            "label",
            { class: "period-select" },
            "Period ",
            h(
              "select",
              {
                id: "period",
                onchange: (event) => {
                  const query = new URLSearchParams({ period: event.target.value });
                  if (state.asOf) query.set("as_of", state.asOf);
                  window.location.hash = `#/?${query}`;
                },
              },
              labels.map((label) => h("option", { value: label, selected: label === state.period }, label)),
            ),
          )
        : null,
    ),
  );
  children.push(periodSummary());
  if (report.hint) children.push(h("p", { class: "hint", role: "note", id: "hint" }, report.hint));
  children.push(timeTravel(first));
  children.push(legend());
  children.push(h("ul", { class: "tree", "aria-label": `Objectives of ${state.period}` }, tree(objectives)));
  root.replaceChildren(...children);
  paintAll();
}

function periodSummary() {
  return h(
    "section",
    { class: "period card", id: "period-summary", "aria-labelledby": "period-title" },
    h("h2", { id: "period-title" }, "The period at a glance"),
    h(
      "dl",
      { class: "facts" },
      h("div", {}, h("dt", {}, "Period score"), h("dd", { id: "period-score" }, "–")),
      h("div", {}, h("dt", {}, "Grade"), h("dd", { id: "period-grade" }, "–")),
      h("div", {}, h("dt", {}, "Key results"), h("dd", { id: "period-counts" }, "–")),
    ),
  );
}

function paintPeriod() {
  const report = state.report;
  if (!report || state.view !== "objectives") return;
  const scoreEl = document.getElementById("period-score");
  const gradeEl = document.getElementById("period-grade");
  const countsEl = document.getElementById("period-counts");
  if (!scoreEl) return;
  // as the server weighs them: the period's top-level objectives, each by its weight, graded
  // against the success point they weigh in with (1.0 committed, 0.7 aspirational)
  let total = 0;
  let weights = 0;
  let success = 0;
  for (const objective of objectivesInPeriod(report, state.period)) {
    const shown = objective.parent ? null : shownScore("objective", objective);
    if (shown && shown.score !== null && shown.score !== undefined) {
      total += shown.score * objective.weight;
      success += objective.success * objective.weight;
      weights += objective.weight;
    }
  }
  const score = weights > 0 ? total / weights : null;
  const grade = score === null ? null : gradeOf(score, success / weights);
  scoreEl.textContent = score === null ? "not scored yet" : score.toFixed(2);
  scoreEl.dataset.value = score ?? "";
  gradeEl.replaceChildren(grade ? badge("grade", grade, GRADE) : "–");
  const counts = {};
  for (const objective of objectivesInPeriod(report, state.period)) {
    for (const kr of objective.key_results) {
      const shown = shownScore("kr", kr);
      const status = shown ? shown.status : "unscored";
      counts[status] = (counts[status] || 0) + 1;
    }
  }
  countsEl.replaceChildren(
    ...Object.entries(counts).map(([status, n]) =>
      h(
        "span",
        { class: `count status-${status}` },
        STATUS[status] ? h("span", { class: "icon", "aria-hidden": "true" }, STATUS[status].icon) : null,
        ` ${n} ${STATUS[status] ? STATUS[status].word.toLowerCase() : "not scored"}`,
      ),
    ),
  );
}

function gradeOf(score, success) {
  if (score >= success - 1e-9) return "green";
  return score >= success - 0.3 - 1e-9 ? "yellow" : "red";
}

function legend() {
  return h(
    "p",
    { class: "legend" },
    h("span", { class: "legend-bar", "aria-hidden": "true" }, h("span", { class: "legend-fill" }), h("span", { class: "legend-marker" })),
    " The bar is the progress (the score); the upright mark is where the plan expects it by now. ",
    "Each status and grade is named beside its colour.",
  );
}

function timeTravel(objective) {
  const report = state.report;
  const start = millis(objective.period_start);
  const end = millis(objective.period_end) + report.freeze_after_days * 86400000;
  const now = millis(report.now);
  const max = Math.max(start, Math.min(now, end));
  const at = state.asOf ? Math.min(Math.max(millis(state.asOf), start), max) : max;
  const step = 15 * 60000;
  const last = Math.ceil((max - start) / step); // the last step reaches max (instant() clamps): live
  const go = (ms) => {
    const query = new URLSearchParams({ period: state.period });
    if (ms < max) query.set("as_of", new Date(ms).toISOString().replace(".000Z", "Z"));
    window.location.hash = `#/?${query}`;
  };
  let pending = null;
  const range = h("input", {
    type: "range",
    id: "time-travel",
    min: 0,
    max: last,
    step: 1,
    value: state.asOf ? Math.min(Math.round((at - start) / step), last) : last,
    "aria-valuetext": when(new Date(at).toISOString(), "short"),
    "aria-describedby": "time-travel-help",
  });
  const shown = h("output", { for: "time-travel", id: "time-travel-at" }, when(new Date(at).toISOString(), "short"));
  const instant = () => Math.min(start + Number(range.value) * step, max);
  range.addEventListener("input", () => {
    const text = when(new Date(instant()).toISOString(), "short");
    shown.textContent = text;
    range.setAttribute("aria-valuetext", text);
  });
  range.addEventListener("change", () => {
    window.clearTimeout(pending);
    pending = window.setTimeout(() => go(instant()), 400);
  });
  const picker = h("input", {
    type: "datetime-local",
    id: "time-travel-date",
    min: toWall(start, state.tz),
    max: toWall(max, state.tz),
    value: toWall(at, state.tz),
  });
  picker.addEventListener("change", () => {
    if (picker.value) go(Math.min(Math.max(fromWall(picker.value, state.tz), start), max));
  });
  return h(
    "section",
    { class: "time-travel card", "aria-labelledby": "time-travel-title" },
    h("h2", { id: "time-travel-title" }, "Time travel"),
    h(
      "div",
      { class: "time-travel-controls" },
      h("label", { for: "time-travel" }, "The board as of"),
      range,
      shown,
      h("label", { for: "time-travel-date", class: "visually-hidden" }, `Date and time (${state.tz})`),
      picker,
      h("button", { type: "button", id: "time-travel-live", onclick: () => go(max), disabled: !state.asOf }, "Live"),
    ),
    h(
      "p",
      { id: "time-travel-help", class: "help" },
      `From the start of ${state.period} to now, in steps of 15 minutes (times in ${state.tz}). `,
      "Past instants are recomputed from the events that had landed by then.",
    ),
  );
}

function tree(objectives) {
  const ids = new Set(objectives.map((o) => o.id));
  const roots = objectives.filter((o) => !o.parent || !ids.has(o.parent));
  const node = (objective, depth) => {
    const children = objectives.filter((o) => o.parent === objective.id);
    return h(
      "li",
      { class: `node depth-${Math.min(depth, 3)}` },
      objectiveCard(objective, depth),
      children.length
        ? h("ul", { class: "tree", "aria-label": `Objectives under ${objective.title}` }, children.map((c) => node(c, depth + 1)))
        : null,
    );
  };
  return roots.map((o) => node(o, 0));
}

function objectiveCard(objective, depth) {
  const level = LEVELS[depth] || `level ${depth + 1}`;
  const heading = `h${Math.min(depth + 2, 6)}`;
  return h(
    "section",
    { class: "objective card", "data-objective": objective.id, "aria-labelledby": `objective-${objective.id}` },
    h(
      "div",
      { class: "objective-head" },
      h(heading, { id: `objective-${objective.id}`, class: "objective-title" }, objective.title),
      h(
        "p",
        { class: "meta" },
        h("span", { class: "level" }, level),
        " · owner ",
        h("strong", {}, objective.owner),
        " · ",
        h("span", { class: `kind kind-${objective.kind}` }, objective.kind),
        objective.kind === "aspirational" ? " (success at 0.7)" : "",
      ),
    ),
    h(
      "p",
      { class: "objective-score" },
      h("span", { class: "score-label" }, "Score "),
      h("span", { class: "score", "data-role": "score" }, "–"),
      " ",
      h("span", { "data-role": "grade" }),
      " ",
      h("span", { "data-role": "status" }),
      " ",
      h("span", { "data-role": "short" }),
      " ",
      h("span", { class: "scored-when", "data-role": "when" }),
    ),
    h(
      "ul",
      { class: "key-results", "aria-label": `Key results of ${objective.title}` },
      objective.key_results.map((kr) => keyResultRow(kr)),
    ),
  );
}

function keyResultRow(kr) {
  const titleId = `kr-${kr.id}`;
  return h(
    "li",
    { class: "kr", "data-kr": kr.id, "aria-labelledby": titleId },
    h(
      "div",
      { class: "kr-head" },
      h("a", { href: `#/kr/${encodeURIComponent(kr.id)}`, id: titleId, class: "kr-title" }, kr.title),
      h("span", { "data-role": "status" }),
      h("span", { "data-role": "short" }),
    ),
    progressBar(kr),
    h(
      "p",
      { class: "kr-numbers" },
      h("span", { "data-role": "numbers" }),
      h("span", { class: "scored-when", "data-role": "when" }),
    ),
  );
}

function progressBar(kr) {
  return h(
    "div",
    {
      class: "bar",
      role: "progressbar",
      "aria-valuemin": 0,
      "aria-valuemax": 100,
      "aria-labelledby": `kr-${kr.id}`,
      "data-role": "bar",
    },
    h("span", { class: "bar-fill", "data-role": "fill" }),
    h("span", { class: "bar-expected", "data-role": "expected", title: "expected by now" }),
  );
}

function paintAll() {
  for (const objective of objectivesInPeriod(state.report, state.period)) {
    paintObjectiveById(objective.id, false);
    for (const kr of objective.key_results) paintKeyResultById(kr.id, false);
  }
  paintPeriod();
}

function findKeyResult(id) {
  for (const objective of state.report.objectives) {
    const kr = objective.key_results.find((k) => k.id === id);
    if (kr) return kr;
  }
  return null;
}

function paintKeyResultById(id, moved) {
  const kr = state.report && findKeyResult(id);
  if (!kr) {
    if (moved) refreshSoon(); // a key result the board does not know yet: read it again
    return;
  }
  for (const el of document.querySelectorAll(`[data-kr="${CSS.escape(id)}"]`)) {
    const before = el.dataset.status;
    paintKeyResult(el, kr, shownScore("kr", kr));
    if (moved) {
      flash(el);
      if (before && before !== el.dataset.status && STATUS[el.dataset.status]) {
        announce(`${kr.title}: now ${STATUS[el.dataset.status].word}`);
      }
    }
  }
}

function paintKeyResult(el, kr, score) {
  const part = (role) => el.querySelector(`[data-role="${role}"]`);
  const status = score ? score.status : "unscored";
  el.className = el.className.replace(/\bstatus-\S+/g, "").trim() + ` status-${status}`;
  el.dataset.status = status;
  part("status").replaceChildren(badge("status", status, STATUS));
  part("short").replaceChildren(
    score && score.falls_short
      ? h("span", { class: "falls-short" }, h("span", { class: "icon", "aria-hidden": "true" }, "⚠"), " Falls short")
      : "",
  );
  const bar = part("bar");
  const progress = score ? score.progress : 0;
  const expected = score ? score.expected : null;
  bar.setAttribute("aria-valuenow", String(Math.round(progress * 100)));
  bar.setAttribute(
    "aria-valuetext",
    score
      ? `${percent(progress)} done, ${percent(expected)} expected by now, ${STATUS[status] ? STATUS[status].word : status}`
      : "not scored yet",
  );
  bar.dataset.progress = String(progress);
  part("fill").style.width = `${Math.max(0, Math.min(1, progress)) * 100}%`;
  const marker = part("expected");
  marker.hidden = expected === null || expected === undefined;
  marker.style.left = `${Math.max(0, Math.min(1, expected ?? 0)) * 100}%`;
  const unit = unitOf(kr);
  const numbers = part("numbers");
  numbers.dataset.value = score && score.value !== null && score.value !== undefined ? String(score.value) : "";
  if (!score) {
    numbers.textContent = kr.kind === "unlinked" ? "Not measured: no metric, milestone or rollup" : "Not scored yet";
  } else if (kr.kind === "rollup") {
    numbers.textContent = `${percent(progress)} of the objectives it reads (value ${number(score.value)})`;
  } else {
    numbers.replaceChildren(
      h("strong", { class: "value" }, withUnit(score.value, unit)),
      ` of target ${withUnit(score.target, unit)}`,
      score.start !== null && score.start !== undefined ? ` · start ${withUnit(score.start, unit)}` : "",
      ` · ${percent(progress)} done, ${percent(expected)} expected`,
    );
  }
  part("when").replaceChildren(...scoredWhen(kr, score));
}

function scoredWhen(item, score) {
  if (state.asOf) {
    const recorded = item.recorded;
    if (!recorded || !recorded.scored) return [" · nothing recorded by then"];
    return [" · last recorded ", timeEl(recorded.scored_at), ` after ${CAUSE[recorded.cause] || recorded.cause}`];
  }
  if (!score || !score.scored_at) return [];
  return [" · scored ", timeEl(score.scored_at), ` after ${CAUSE[score.cause] || score.cause || "a recomputation"}`];
}

function paintObjectiveById(id, moved) {
  const objective = state.report && state.report.objectives.find((o) => o.id === id);
  if (!objective) {
    if (moved) refreshSoon();
    return;
  }
  const el = document.querySelector(`[data-objective="${CSS.escape(id)}"]`);
  if (!el) return;
  const score = shownScore("objective", objective);
  const part = (role) => el.querySelector(`.objective-score [data-role="${role}"]`);
  const status = score ? score.status : "unscored";
  el.dataset.status = status;
  part("score").textContent = score ? score.score.toFixed(2) : "not scored yet";
  part("score").dataset.value = score ? String(score.score) : "";
  part("grade").replaceChildren(score ? badge("grade", score.grade, GRADE) : "");
  part("status").replaceChildren(badge("status", status, STATUS));
  part("short").replaceChildren(
    score && score.falls_short
      ? h("span", { class: "falls-short" }, h("span", { class: "icon", "aria-hidden": "true" }, "⚠"), " Falls short")
      : "",
  );
  part("when").replaceChildren(...(state.asOf ? [] : scoredWhen(objective, score)));
  if (moved) flash(el.querySelector(".objective-score"));
}

function flash(el) {
  if (!el) return;
  el.classList.remove("updated");
  void el.offsetWidth; // restart the animation
  el.classList.add("updated");
}

// -- one key result ---------------------------------------------------------------------------

async function loadKeyResult(id, soft = false) {
  const body = await api(`/board/api/key-results/${encodeURIComponent(id)}`);
  if (state.view !== "kr") return;
  state.detail = body;
  if (!state.report) {
    state.report = await api("/board/api/objectives");
  }
  renderKeyResult(soft);
}

function showKeyResult(id) {
  state.view = "kr";
  state.detail = null;
  state.asOf = null;
  historyMark();
  main().replaceChildren(h("p", { class: "loading" }, "Loading the key result…"));
  return loadKeyResult(id).catch(showError);
}

function detailScore() {
  const kr = state.detail.key_result;
  const rows = state.detail.history;
  const last = rows.length ? rows[rows.length - 1] : null;
  const event = state.live.kr.get(kr.id);
  return event && newer(event, last) ? { ...event, scored: true } : last;
}

function renderKeyResult(soft) {
  const { key_result: kr, objective } = state.detail;
  const root = main();
  const focused = soft && document.activeElement && document.activeElement.id;
  const row = keyResultRow(kr);
  row.querySelector(".kr-title").replaceWith(h("span", { id: `kr-${kr.id}`, class: "kr-title" }, "Now"));
  const children = [
    h("p", { class: "crumbs" }, h("a", { href: "#/" }, "← Objectives"), " / ", objective.title),
    h("h1", { id: "kr-detail-title" }, kr.title),
    h(
      "p",
      { class: "meta" },
      `Key result of “${objective.title}” · owner ${objective.owner} · ${objective.kind} · ${objective.period} · `,
      describe(kr),
    ),
    h("ul", { class: "key-results single", "aria-label": "Its score now" }, row),
    h(
      "section",
      { class: "card", "aria-labelledby": "history-title" },
      h("h2", { id: "history-title" }, "Score history"),
      h("div", { id: "history-chart" }),
      h("details", {}, h("summary", {}, "The score history as a table"), h("div", { id: "history-table" })),
    ),
  ];
  if (state.detail.kpi) children.push(kpiSection(state.detail.kpi, objective));
  if (state.detail.milestones) children.push(milestoneSection(state.detail.milestones));
  root.replaceChildren(...children);
  renderKeyResultLive();
  if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
}

function describe(kr) {
  const d = kr.definition || {};
  if (d.metric) {
    const m = d.metric;
    const filters = Object.entries(m.filters || {}).map(([k, v]) => `${k} = ${v}`);
    return `measured by the KPI ${m.kpi}${filters.length ? ` (${filters.join(", ")})` : ""}, ${String(m.direction).replaceAll("_", " ")}, over ${m.window === "period" || !m.window ? "the period to date" : `the last ${m.window}`}`;
  }
  if (d.milestone) return `measured by milestones reached (${d.milestone.milestones.length})`;
  if (d.rollup) return "measured by the scores of other objectives and key results";
  return "not measured";
}

function renderKeyResultLive() {
  if (!state.detail) return;
  const kr = state.detail.key_result;
  const row = document.querySelector(`[data-kr="${CSS.escape(kr.id)}"]`);
  if (!row) return;
  const before = row.dataset.status;
  const score = detailScore();
  if (state.report) {
    paintKeyResult(row, kr, score);
  }
  if (before && before !== row.dataset.status && STATUS[row.dataset.status]) {
    announce(`${kr.title}: now ${STATUS[row.dataset.status].word}`);
  }
  const history = state.detail.history;
  const objective = state.detail.objective;
  document.getElementById("history-chart").replaceChildren(historyChart(history, objective));
  document.getElementById("history-table").replaceChildren(historyTable(history));
}

function historyTable(rows) {
  return h(
    "table",
    {},
    h("caption", { class: "visually-hidden" }, "Every recorded score, oldest first"),
    h(
      "thead",
      {},
      h("tr", {}, ["Scored", "Value", "Progress", "Expected", "Status", "Cause"].map((c) => h("th", { scope: "col" }, c))),
    ),
    h(
      "tbody",
      {},
      rows
        .slice()
        .reverse()
        .slice(0, 200)
        .map((row) =>
          h(
            "tr",
            {},
            h("td", {}, timeEl(row.scored_at)),
            h("td", {}, number(row.value)),
            h("td", {}, percent(row.progress)),
            h("td", {}, percent(row.expected)),
            h("td", {}, badge("status", row.status, STATUS)),
            h("td", {}, CAUSE[row.cause] || row.cause || ""),
          ),
        ),
    ),
  );
}

const CHART = { width: 720, height: 240, left: 56, right: 16, top: 16, bottom: 32 };

function scale(domain, range) {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 || 1;
  return (value) => r0 + ((value - d0) / span) * (r1 - r0);
}

function axes(x, y, xTicks, yTicks) {
  const { width, height, left, right, top, bottom } = CHART;
  const group = s("g", { class: "axes", "aria-hidden": "true" });
  for (const [value, label] of yTicks) {
    group.append(
      s("line", { x1: left, x2: width - right, y1: y(value), y2: y(value), class: "grid" }),
      s("text", { x: left - 6, y: y(value) + 4, "text-anchor": "end" }, label),
    );
  }
  for (const [value, label] of xTicks) {
    group.append(s("text", { x: x(value), y: height - bottom + 18, "text-anchor": "middle" }, label));
  }
  group.append(s("line", { x1: left, x2: width - right, y1: height - bottom, y2: height - bottom, class: "axis" }));
  group.append(s("line", { x1: left, x2: left, y1: top, y2: height - bottom, class: "axis" }));
  return group;
}

function path(points) {
  let d = "";
  let pen = false;
  for (const [px, py] of points) {
    if (py === null || Number.isNaN(py)) {
      pen = false;
      continue;
    }
    d += `${pen ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`;
    pen = true;
  }
  return d;
}

function timeTicks(start, end, count = 6) {
  const ticks = [];
  for (let i = 0; i <= count; i += 1) {
    const at = start + ((end - start) * i) / count;
    ticks.push([at, day(new Date(at).toISOString())]);
  }
  return ticks;
}

function historyChart(rows, objective) {
  const { width, height, left, right, top, bottom } = CHART;
  const start = millis(objective.period_start);
  const end = millis(objective.period_end);
  const x = scale([start, end], [left, width - right]);
  const y = scale([0, 1], [height - bottom, top]);
  const clampX = (ms) => x(Math.max(start, Math.min(end, ms)));
  const points = rows.filter((r) => r.scored);
  const stepped = [];
  for (const [i, row] of points.entries()) {
    const at = millis(row.as_of);
    if (i > 0) stepped.push([clampX(at), y(points[i - 1].progress)]);
    stepped.push([clampX(at), y(row.progress)]);
  }
  const now = Math.min(Date.now(), end);
  if (points.length) stepped.push([clampX(now), y(points[points.length - 1].progress)]);
  const expected = [[x(start), y(0)], ...points.map((r) => [clampX(millis(r.as_of)), y(r.expected)])];
  const last = points[points.length - 1];
  const label = last
    ? `Score history: ${points.length} scores; progress now ${percent(last.progress)}, expected ${percent(last.expected)}.`
    : "Score history: no score recorded yet.";
  return s(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": label },
    s("title", {}, label),
    axes(x, y, timeTicks(start, end), [0, 0.25, 0.5, 0.75, 1].map((v) => [v, percent(v)])),
    s("path", { d: path(expected), class: "line expected" }),
    s("path", { d: path(stepped), class: "line progress" }),
    points.map((row) =>
      s(
        "circle",
        { cx: clampX(millis(row.as_of)), cy: y(row.progress), r: 3, class: `dot status-${row.status}` },
        s("title", {}, `${when(row.scored_at)}: ${percent(row.progress)} (${STATUS[row.status] ? STATUS[row.status].word : row.status})`),
      ),
    ),
    s("line", { x1: clampX(now), x2: clampX(now), y1: top, y2: height - bottom, class: "now" }),
    chartLegend([
      ["progress", "progress (the score)"],
      ["expected", "expected by the plan"],
    ]),
  );
}

function chartLegend(entries) {
  const group = s("g", { class: "chart-legend", "aria-hidden": "true" });
  entries.forEach(([cls, text], i) => {
    const gx = CHART.left + 8 + i * 190;
    group.append(
      s("line", { x1: gx, x2: gx + 24, y1: CHART.top + 4, y2: CHART.top + 4, class: `line ${cls}` }),
      s("text", { x: gx + 30, y: CHART.top + 8 }, text),
    );
  });
  return group;
}

function kpiSection(kpi, objective) {
  const band = kpi.band;
  const health = kpi.health;
  return h(
    "section",
    { class: "card", "aria-labelledby": "kpi-title" },
    h("h2", { id: "kpi-title" }, `KPI: ${kpi.title}${kpi.unit ? ` (${kpi.unit})` : ""}`),
    h(
      "p",
      { class: "meta" },
      `Per day over ${objective.period}, beside the period before (${day(kpi.previous_period.start)} – ${day(kpi.previous_period.end)}) and the year before.`,
      Object.keys(kpi.filters).length
        ? ` Only events with ${Object.entries(kpi.filters).map(([k, v]) => `${k} = ${v}`).join(", ")}.`
        : "",
    ),
    band
      ? h(
          "p",
          { class: "health-line" },
          badge("health", health.verdict, HEALTH),
          ` Health band: ${bandText(band, kpi.unit)}, judged per ${band.grain}`,
          health.judged ? ` (${health.unhealthy} of ${health.judged} ${band.grain}s unhealthy so far)` : "",
          band.grain === "day" ? "; the shaded area is the band." : ".",
        )
      : h("p", { class: "meta" }, "No health band is set for this KPI."),
    kpiChart(kpi, objective),
    h("details", {}, h("summary", {}, "The KPI per day as a table"), kpiTable(kpi)),
  );
}

function bandText(band, unit) {
  if (band.between) return `between ${withUnit(band.between[0], unit)} and ${withUnit(band.between[1], unit)}`;
  if (band.at_or_above !== undefined) return `at or above ${withUnit(band.at_or_above, unit)}`;
  return `at or below ${withUnit(band.at_or_below, unit)}`;
}

function kpiChart(kpi, objective) {
  const { width, height, left, right, top, bottom } = CHART;
  const days = kpi.days;
  const values = days.flatMap((d) => [d.value, d.previous, d.year_ago]).filter((v) => v !== null && v !== undefined);
  const band = kpi.band && kpi.band.grain === "day" ? kpi.band : null;
  const bandValues = band ? [band.at_or_above, band.at_or_below, ...(band.between || [])].filter((v) => v !== undefined) : [];
  let low = Math.min(0, ...values, ...bandValues);
  let high = Math.max(...values, ...bandValues, low + 1);
  high += (high - low) * 0.05;
  if (low < 0) low -= (high - low) * 0.05;
  const x = scale([0, Math.max(1, days.length - 1)], [left, width - right]);
  const y = scale([low, high], [height - bottom, top]);
  const series = (key) => days.map((d, i) => [x(i), d[key] === null || d[key] === undefined ? null : y(d[key])]);
  const ticks = [];
  const stride = Math.max(1, Math.round(days.length / 6));
  for (let i = 0; i < days.length; i += stride) ticks.push([i, day(days[i].day)]);
  const yTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const v = low + (high - low) * f;
    return [v, number(v)];
  });
  let bandRect = null;
  if (band) {
    const [from, to] = band.between ? band.between : band.at_or_above !== undefined ? [band.at_or_above, high] : [low, band.at_or_below];
    bandRect = s("rect", { x: left, width: width - right - left, y: y(to), height: Math.max(0, y(from) - y(to)), class: "band" });
  }
  const shown = days.filter((d) => d.value !== null && d.value !== undefined);
  const label = `${kpi.title} per day: ${shown.length} days so far${shown.length ? `, the last ${withUnit(shown[shown.length - 1].value, kpi.unit)}` : ""}.`;
  return s(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": label },
    s("title", {}, label),
    bandRect,
    axes(x, y, ticks, yTicks),
    s("path", { d: path(series("year_ago")), class: "line year-ago" }),
    s("path", { d: path(series("previous")), class: "line previous" }),
    s("path", { d: path(series("value")), class: "line current" }),
    days.map((d, i) =>
      d.healthy === false && d.value !== null
        ? s("rect", { x: x(i) - 3, y: y(d.value) - 3, width: 6, height: 6, class: "unhealthy-day" }, s("title", {}, `${day(d.day)}: unhealthy`))
        : null,
    ),
    chartLegend([
      ["current", objective.period],
      ["previous", "the period before"],
      ["year-ago", "the year before"],
    ]),
  );
}

function kpiTable(kpi) {
  return h(
    "table",
    {},
    h("caption", { class: "visually-hidden" }, `${kpi.title} per day`),
    h("thead", {}, h("tr", {}, ["Day", "This period", "The period before", "The year before", "Health"].map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      {},
      kpi.days.map((d) =>
        h(
          "tr",
          {},
          h("td", {}, day(d.day)),
          h("td", {}, number(d.value)),
          h("td", {}, number(d.previous)),
          h("td", {}, number(d.year_ago)),
          h("td", {}, d.healthy === null || d.healthy === undefined ? "" : d.healthy ? "healthy" : "unhealthy"),
        ),
      ),
    ),
  );
}

function milestoneSection(milestones) {
  const reached = milestones.filter((m) => m.reached).length;
  return h(
    "section",
    { class: "card", "aria-labelledby": "milestones-title" },
    h("h2", { id: "milestones-title" }, `Milestones: ${reached} of ${milestones.length} reached`),
    h(
      "ul",
      { class: "checklist" },
      milestones.map((m) =>
        h(
          "li",
          { class: m.reached ? "reached" : "open", "data-milestone": m.name },
          h("span", { class: "icon", "aria-hidden": "true" }, m.reached ? "☑" : "☐"),
          ` ${m.name} `,
          h("span", { class: "state" }, m.reached ? "reached" : "not reached yet"),
        ),
      ),
    ),
  );
}

// -- KPIs ---------------------------------------------------------------------------------------

async function showKpis(grain) {
  state.view = "kpis";
  state.asOf = null;
  state.kpiGrain = ["month", "quarter", "year"].includes(grain) ? grain : "quarter";
  historyMark();
  main().replaceChildren(h("p", { class: "loading" }, "Loading the KPIs…"));
  try {
    const body = await api(`/board/api/kpis?grain=${state.kpiGrain}`);
    if (state.view === "kpis") renderKpis(body);
  } catch (error) {
    showError(error);
  }
}

function renderKpis(body) {
  const grain = body.grain;
  const cards = body.kpis.map((kpi) => kpiCard(kpi, body));
  main().replaceChildren(
    h(
      "div",
      { class: "heading-row" },
      h("h1", {}, "KPIs"),
      h(
        "label",
        { class: "period-select" },
        "Current ",
        h(
          "select",
          { id: "kpi-grain", onchange: (event) => (window.location.hash = `#/kpis?grain=${event.target.value}`) },
          ["month", "quarter", "year"].map((g) => h("option", { value: g, selected: g === grain }, g)),
        ),
      ),
      h("button", { type: "button", onclick: () => showKpis(grain) }, "Refresh"),
    ),
    h(
      "p",
      { class: "meta" },
      `This ${grain} so far (${day(body.period.start)} to now), against the same stretch of the ${grain} before and of the same ${grain} a year before.`,
    ),
    body.kpis.length
      ? h("ul", { class: "kpi-grid", "aria-label": "Every KPI" }, cards)
      : h("p", { class: "hint" }, "No KPI is applied yet: okrstream kpi apply FILE."),
  );
}

function kpiCard(kpi, body) {
  const previous = change(kpi.change);
  const yearAgo = change(kpi.year_change);
  const health = kpi.band ? kpi.health : null;
  return h(
    "li",
    { class: "kpi card", "data-kpi": kpi.name, "aria-labelledby": `kpi-${kpi.name}` },
    h("h2", { id: `kpi-${kpi.name}` }, kpi.title),
    h("p", { class: "kpi-value" }, h("strong", {}, withUnit(kpi.value, kpi.unit)), ` this ${body.grain} so far`),
    sparkline(kpi),
    h(
      "p",
      { class: "kpi-health" },
      health
        ? [
            badge("health", health.verdict, HEALTH),
            health.judged ? ` ${health.unhealthy} of ${health.judged} ${kpi.band.grain}s unhealthy` : ` (per ${kpi.band.grain})`,
          ]
        : h("span", { class: "badge badge-none" }, "No health band"),
    ),
    h(
      "dl",
      { class: "changes" },
      h(
        "div",
        {},
        h("dt", {}, `vs the ${body.grain} before`),
        h("dd", { class: `change change-${previous.word || "none"}` }, h("span", { class: "icon", "aria-hidden": "true" }, previous.icon), ` ${previous.text} `, h("span", { class: "visually-hidden" }, previous.word), h("span", { class: "was" }, ` (${withUnit(kpi.previous, kpi.unit)})`)),
      ),
      h(
        "div",
        {},
        h("dt", {}, "vs a year before"),
        h("dd", { class: `change change-${yearAgo.word || "none"}` }, h("span", { class: "icon", "aria-hidden": "true" }, yearAgo.icon), ` ${yearAgo.text} `, h("span", { class: "visually-hidden" }, yearAgo.word), h("span", { class: "was" }, ` (${withUnit(kpi.year_ago, kpi.unit)})`)),
      ),
    ),
  );
}

function sparkline(kpi) {
  const width = 240;
  const height = 48;
  const values = kpi.days.map((d) => d.value);
  const known = values.filter((v) => v !== null && v !== undefined);
  const low = Math.min(0, ...known);
  const high = Math.max(low + 1e-9, ...known);
  const x = scale([0, Math.max(1, values.length - 1)], [2, width - 2]);
  const y = scale([low, high], [height - 2, 2]);
  const points = values.map((v, i) => [x(i), v === null || v === undefined ? null : y(v)]);
  const label = `${kpi.title} per day this period: ${known.length ? `from ${withUnit(Math.min(...known), kpi.unit)} to ${withUnit(Math.max(...known), kpi.unit)}` : "no value yet"}.`;
  return s(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, class: "sparkline", role: "img", "aria-label": label },
    s("title", {}, label),
    s("path", { d: path(points), class: "line current" }),
  );
}

// -- start ----------------------------------------------------------------------------------------

function route() {
  const hash = window.location.hash || "#/";
  const [where, query] = hash.slice(1).split("?");
  const params = new URLSearchParams(query || "");
  for (const link of document.querySelectorAll("nav a")) link.removeAttribute("aria-current");
  if (where.startsWith("/kr/")) {
    document.getElementById("nav-objectives").setAttribute("aria-current", "page");
    return showKeyResult(decodeURIComponent(where.slice(4)));
  }
  if (where === "/kpis") {
    document.getElementById("nav-kpis").setAttribute("aria-current", "page");
    return showKpis(params.get("grain"));
  }
  document.getElementById("nav-objectives").setAttribute("aria-current", "page");
  return showObjectives(params.get("as_of"), params.get("period"));
}

async function start() {
  try {
    state.session = await api("/board/api/session");
  } catch (error) {
    showError(error);
    return;
  }
  state.tz = state.session.timezone;
  const who = document.getElementById("who");
  if (state.session.key) who.textContent = `Signed in with ${state.session.key.name} (${state.session.key.access})`;
  if (!state.session.auth) document.getElementById("logout-form").hidden = true;
  window.addEventListener("hashchange", () => {
    route();
    main().focus({ preventScroll: true });
  });
  await route();
  if (state.session.live) connect();
  else connection("Live updates are not available from this server.");
}

start();
