// votestream review console: no build step, no dependencies. Thai first, English beside.
"use strict";

const T = {
  status: {disputed: "โต้แย้ง · disputed", provisional: "แหล่งเดียว · provisional", corroborated: "ยืนยันร่วม · corroborated", verified: "ตรวจสอบแล้ว · verified"},
  ballot: {constituency: "ส.ส. เขต · constituency", partylist: "บัญชีรายชื่อ · party-list"},
  code: {
    ARITH: "ผลรวมไม่ตรง", OVER_ELIGIBLE: "เกินผู้มีสิทธิ์", CONFLICT: "ตัวเลขขัดกัน", REGRESSION: "คะแนนลดลง",
    BALLOT_GAP: "บัตรสองใบไม่เท่ากัน", TURNOUT_OUTLIER: "ผู้มาใช้สิทธิ์ผิดปกติ", SHARE_OUTLIER: "สัดส่วนคะแนนผิดปกติ",
    NUMBER_SWAP: "สลับหมายเลข", EARLY: "นับก่อนปิดหีบ", SPREAD: "รายงานเกินขอบเขต",
    OFFICIAL_MISMATCH: "ไม่ตรงกับ กกต.", PHOTO_REUSE: "ภาพซ้ำ", BLOCK_SHIFT: "ทั้งกลุ่มเอียงไปทางเดียว",
  },
  stage: {final: "ผลสุดท้าย final", progress: "ระหว่างนับ progress"},
  role: {war_room: "ห้องปฏิบัติการ · war room", district_lead: "หัวหน้าเขต · district lead", desk: "โต๊ะประกาศผล · decision desk"},
  kind: {unsourced_figures: "ตัวเลขที่ไม่มีอาสาส่ง · figures no volunteer sent", verify_contradicts: "ยืนยันผลที่ขัดทุกแหล่ง · verify against every source",
    official_import: "นำเข้าผลทางการทั้งไฟล์ · bulk official import", retraction: "ถอนการประกาศ · retraction"},
};

const $ = (sel, el = document) => el.querySelector(sel);
const app = () => $("#app");
let me = null;            // the session
const freshQueue = () => ({items: [], sel: 0, filter: {}, next: "", total: 0, loaded: false, group: false, areas: [], areaSel: 0});
let queueState = freshQueue();
let stream = null;

function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v == null) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) {
    if (k == null || k === false) continue;
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return el;
}
const bi = (th, en) => [th, " ", h("span", {class: "en"}, en)];
const fmtTime = (s) => s ? new Date(s).toLocaleTimeString("th-TH", {timeZone: "Asia/Bangkok", hour: "2-digit", minute: "2-digit"}) + " น." : "";
const n = (x) => (x == null ? "" : Number(x).toLocaleString("th-TH"));

async function api(path, opts = {}) {
  const res = await fetch(path, {credentials: "same-origin", ...opts});
  let body = null;
  const text = await res.text();
  try { body = text ? JSON.parse(text) : null; } catch { body = {error: {code: "BAD_ANSWER", message: text}}; }
  if (res.status === 401 && path !== "/v1/session") { me = null; render(); }
  return {status: res.status, body};
}
const errText = (b) => b && b.error ? `${b.error.message} (${b.error.code})` + (b.error.lines ? "\n" + b.error.lines.join("\n") : "") : "ผิดพลาด · error";

// ---- sign in ----
function loginPage(msg) {
  const tok = h("textarea", {id: "token", rows: 4, placeholder: "vt1.…", autocomplete: "off", spellcheck: "false", "aria-label": "token"});
  const code = h("input", {id: "code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: 6, size: 8, pattern: "[0-9]{6}", placeholder: "123456", "aria-label": "code"});
  const err = h("div", {class: "error", hidden: !msg}, msg || "");
  const form = h("form", {class: "card", onsubmit: async (e) => {
    e.preventDefault();
    const r = await api("/v1/session", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({token: tok.value.trim(), code: code.value.trim()})});
    if (r.status !== 200) { err.hidden = false; err.textContent = errText(r.body); code.value = ""; code.focus(); return; }
    me = r.body; queueState = freshQueue(); stationState = null; location.hash = "#/"; render();
  }},
    h("h1", {}, bi("เข้าสู่ระบบ", "Sign in")),
    h("p", {}, "วางโทเค็นของหัวหน้าเขตหรือห้องปฏิบัติการที่ได้รับ แล้วพิมพ์รหัส 6 หลักจากแอปยืนยันตัวตน ", h("span", {class: "en"}, "Paste the token you were given, then type the 6-digit code your authenticator app shows now.")),
    h("label", {for: "token"}, bi("โทเค็น", "Token")), tok,
    h("label", {for: "code"}, bi("รหัสจากแอป (6 หลัก)", "Authenticator code (6 digits)")), code, err,
    h("p", {}, h("button", {class: "primary", type: "submit", id: "signin"}, "เข้าสู่ระบบ · Sign in")));
  app().replaceChildren(form);
  tok.focus();
}

function header() {
  const who = $("#who");
  if (!me) { who.textContent = ""; $("#logout").hidden = true; $("#live").hidden = true; return; }
  who.textContent = `${T.role[me.role] || me.role}` + (me.constituency_name ? ` · ${me.constituency_name}` : "") + ` · ${me.volunteer_id}`;
  $("#logout").hidden = false;
}

// ---- queue ----
function connectStream() {
  if (stream || !me) return;
  stream = new EventSource("/v1/queue/events");
  stream.addEventListener("queue", () => { $("#live").hidden = false; if (route().page === "queue") { loadQueue(true); loadOverrides(); } });
  stream.onerror = () => { $("#live").hidden = true; };
}

// Grouped by subdistrict: the areas first (one row per subdistrict with what is open
// there); opening one filters the queue to it.
const inAreaList = () => queueState.group && !queueState.filter.subdistrict;

async function loadAreas() {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(queueState.filter)) if (v && k !== "subdistrict") q.set(k, v);
  const r = await api("/v1/queue/areas?" + q);
  if (r.status !== 200) { queueState.error = errText(r.body); drawQueue(); return; }
  const at = queueState.areas[queueState.areaSel], key = at ? at.constituency_id + "/" + at.subdistrict : null;
  queueState.areas = r.body.areas; queueState.error = null; queueState.loaded = true;
  const i = key ? queueState.areas.findIndex((a) => a.constituency_id + "/" + a.subdistrict === key) : -1;
  queueState.areaSel = i >= 0 ? i : Math.min(queueState.areaSel, Math.max(0, queueState.areas.length - 1));
  drawQueue();
}

function setGroup(on) {
  const s = queueState;
  s.group = on; s.sel = 0;
  if (!on && s.filter.subdistrict) { delete s.filter.subdistrict; if (me.role === "war_room") delete s.filter.constituency; }
  loadQueue(false);
}

function openArea(a) {
  const s = queueState;
  s.filter.constituency = a.constituency_id; s.filter.subdistrict = a.subdistrict; s.sel = 0;
  loadQueue(false);
}

function closeArea() {
  const s = queueState;
  delete s.filter.subdistrict;
  if (me.role === "war_room") delete s.filter.constituency;
  loadQueue(false);
}

async function loadQueue(keepSel) {
  if (inAreaList()) { await loadAreas(); return; }
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(queueState.filter)) if (v) q.set(k, v);
  q.set("limit", "50");
  const r = await api("/v1/queue?" + q);
  if (r.status !== 200) { queueState.error = errText(r.body); drawQueue(); return; }
  const selKey = keepSel && queueState.items[queueState.sel] ? queueState.items[queueState.sel].key : null;
  queueState = {...queueState, items: r.body.items, next: r.body.next_cursor || "", total: r.body.total, asOf: r.body.as_of, error: null, loaded: true};
  const i = selKey ? queueState.items.findIndex((x) => x.key === selKey) : -1;
  queueState.sel = i >= 0 ? i : Math.min(queueState.sel, Math.max(0, queueState.items.length - 1));
  drawQueue();
}

async function moreQueue() {
  if (!queueState.next) return;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(queueState.filter)) if (v) q.set(k, v);
  q.set("limit", "50"); q.set("cursor", queueState.next);
  const r = await api("/v1/queue?" + q);
  if (r.status !== 200) return;
  queueState.items = queueState.items.concat(r.body.items);
  queueState.next = r.body.next_cursor || "";
  drawQueue();
}

function filterBar() {
  const f = queueState.filter;
  const sel = (name, label, opts) => h("div", {},
    h("label", {for: "f-" + name}, label),
    h("select", {id: "f-" + name, onchange: (e) => { f[name] = e.target.value; queueState.sel = 0; loadQueue(false); }},
      opts.map(([v, t]) => h("option", {value: v, selected: (f[name] || "") === v}, t))));
  const kids = [
    sel("status", "สถานะ · status", [["", "ทั้งหมด · all"], ["disputed", T.status.disputed], ["flagged", "มีธง · flagged"], ["escalated", "ส่งต่อแล้ว · escalated"]]),
    sel("ballot", "บัตร · ballot", [["", "ทั้งสองใบ · both"], ["constituency", T.ballot.constituency], ["partylist", T.ballot.partylist]]),
    sel("code", "ความผิดปกติ · anomaly", [["", "ทุกชนิด · any"], ...Object.entries(T.code).map(([c, t]) => [c, `${t} · ${c}`])]),
  ];
  kids.push(h("div", {}, h("button", {class: "act" + (queueState.group ? " on" : ""), id: "group-toggle", "aria-pressed": String(queueState.group),
    onclick: () => setGroup(!queueState.group)}, queueState.group ? "เลิกจัดกลุ่ม · ungroup (g)" : "จัดกลุ่มตามตำบล · group by subdistrict (g)")));
  if (me.role === "war_room") {
    kids.push(h("div", {}, h("label", {for: "f-constituency"}, "เขต · constituency id"),
      h("input", {id: "f-constituency", size: 10, value: f.constituency || "", onchange: (e) => { f.constituency = e.target.value.trim(); loadQueue(false); }})));
    kids.push(h("div", {}, h("label", {for: "f-province"}, "จังหวัด · province id"),
      h("input", {id: "f-province", size: 8, value: f.province || "", onchange: (e) => { f.province = e.target.value.trim(); loadQueue(false); }})));
  }
  return h("div", {class: "filters"}, kids);
}

function itemRow(it, i) {
  const li = h("li", {class: `${it.severity} ${i === queueState.sel ? "sel" : ""}`, "data-key": it.key, tabindex: "-1",
    onclick: () => { location.hash = "#/station/" + encodeURIComponent(it.station_id); }},
    h("div", {class: "prio", title: it.why.join("; ")}, it.priority, h("small", {}, "ลำดับ · priority")),
    h("div", {},
      h("div", {class: "place"}, `หน่วย ${it.station_number} · ${it.subdistrict} · ${it.constituency_name}`,
        " ", h("span", {class: "en"}, `station ${it.station_id}`)),
      h("div", {}, h("span", {class: "chip " + (it.status === "disputed" ? "hard" : "")}, T.status[it.status] || it.status),
        h("span", {class: "chip"}, T.ballot[it.ballot] || it.ballot),
        it.codes.map((c) => h("span", {class: "chip " + it.severity, title: c}, `${T.code[c] || c} · ${c}`)),
        it.escalated ? h("span", {class: "chip esc", title: it.escalated.reason}, `ส่งต่อห้องปฏิบัติการ · escalated by ${it.escalated.by}`) : null),
      h("div", {class: "meta"}, it.anomalies.length ? it.anomalies[0].message : "", " · ",
        `${it.sources.length} แหล่ง sources`, leaderNote(it))),
    h("div", {class: "right meta"}, fmtTime(it.updated_at)));
  return li;
}

// leaderNote says what the item can change: sources that name different leaders, or the
// leader the consolidated figures give.
function leaderNote(it) {
  const leaders = new Set(it.sources.map((s) => s.if_right && s.if_right.leader).filter(Boolean));
  if (leaders.size > 1) return " · แหล่งต่างกันเรื่องผู้นำ sources differ on the leader";
  if (it.status !== "disputed" && it.current && it.current.leader) return ` · นำ leader ${it.current.leader_name || it.current.leader} (ห่าง by ${n(it.current.margin)})`;
  return "";
}

function areaRow(a, i) {
  const codes = Object.entries(a.codes).sort((x, y) => y[1] - x[1]);
  return h("li", {class: `${a.disputed ? "hard" : "soft"} ${i === queueState.areaSel ? "sel" : ""}`, "data-area": a.constituency_id + "/" + a.subdistrict,
    tabindex: "-1", onclick: () => openArea(a)},
    h("div", {class: "prio", title: "ลำดับสูงสุด · the highest priority of its items"}, a.top_priority, h("small", {}, "สูงสุด · top")),
    h("div", {},
      h("div", {class: "place"}, `ตำบล ${a.subdistrict} · ${a.constituency_name}`, " ", h("span", {class: "en"}, `subdistrict · ${a.constituency_id}`)),
      h("div", {}, a.disputed ? h("span", {class: "chip hard"}, `โต้แย้ง ${a.disputed} · disputed`) : null,
        codes.map(([c, k]) => h("span", {class: "chip", title: c}, `${T.code[c] || c} · ${c} ${k}`)))),
    h("div", {class: "right"}, h("b", {class: "count"}, a.items), " ", h("span", {class: "meta"}, `รายการ items · ${a.stations} หน่วย stations`)));
}

function areaHeader(s) {
  const items = s.items, first = items[0];
  return h("div", {class: "area-head", id: "area-head"},
    h("a", {href: "#/", id: "area-back", onclick: (e) => { e.preventDefault(); closeArea(); }}, "← ทุกตำบล · all subdistricts (Esc)"), " ",
    h("b", {}, `ตำบล ${s.filter.subdistrict}`), first ? ` · ${first.constituency_name}` : "", " ",
    h("span", {class: "en"}, `${s.total} รายการ items`));
}

function drawQueue() {
  if (route().page !== "queue") return;
  const s = queueState;
  const list = inAreaList()
    ? h("ul", {class: "queue areas", id: "areas"}, s.areas.map(areaRow))
    : h("ul", {class: "queue", id: "queue"}, s.items.map(itemRow));
  const shown = inAreaList() ? s.areas.length : s.items.length;
  const kids = [
    h("div", {class: "card"},
      h("h1", {}, bi("รายการที่ต้องตรวจ", "Review queue"), " ", h("span", {class: "en", id: "count"},
        inAreaList() ? `(${s.areas.length} ตำบล subdistricts)` : `(${s.total})`)),
      filterBar(),
      h("p", {class: "keys"}, h("kbd", {}, "j"), "/", h("kbd", {}, "k"), " เลื่อน move · ", h("kbd", {}, "Enter"), " เปิด open · ",
        h("kbd", {}, "g"), " จัดกลุ่มตามตำบล group · ",
        h("kbd", {}, "r"), " โหลดใหม่ reload", s.asOf ? ` · ข้อมูลเมื่อ as of ${fmtTime(s.asOf)}` : "", " · ",
        h("a", {href: "#/log", id: "log-link"}, "บันทึกการตัดสิน · decision log"), " · ",
        h("a", {href: "#/refusals", id: "refusals-link"}, "คำขอที่ถูกปฏิเสธ · refused attempts"),
        me.role === "war_room" ? [" · ", h("a", {href: "/desk.html", id: "desk-link"}, "โต๊ะประกาศผล · decision desk")] : null)),
    s.error ? h("div", {class: "error"}, s.error) : null,
    s.group && s.filter.subdistrict ? areaHeader(s) : null,
    shown ? list : !s.loaded ? h("p", {class: "meta"}, "กำลังโหลด… loading…")
      : h("div", {class: "notice", id: "empty"}, "ไม่มีรายการค้าง · Nothing open. ", h("span", {class: "en"}, "New items appear here by themselves.")),
    s.next && !inAreaList() ? h("p", {}, h("button", {class: "act", onclick: moreQueue}, "แสดงเพิ่ม · Show more")) : null,
  ];
  if (overrideState.items.length || overrideState.msg) kids.splice(1, 0, overridesCard());
  // The CSV card stays in place while the rest is redrawn (a live update must not drop the
  // file just picked, nor the node someone is about to click).
  const card = me.role === "war_room" ? csvCard() : null;
  const shownKids = kids.filter((k) => k != null);
  if (card && card.parentNode === app()) {
    for (const c of [...app().children]) if (c !== card) c.remove();
    card.before(...shownKids);
  } else {
    app().replaceChildren(...shownKids, ...(card ? [card] : []));
  }
  const cur = $("#queue li.sel") || $("#areas li.sel");
  if (cur) cur.scrollIntoView({block: "nearest"});
}

// ---- overrides waiting for a second person ----
let overrideState = {items: [], sel: 0, msg: null};

async function loadOverrides() {
  const r = await api("/v1/overrides?state=pending");
  if (r.status !== 200) return;
  overrideState.items = r.body.overrides;
  overrideState.sel = Math.min(overrideState.sel, Math.max(0, overrideState.items.length - 1));
  drawQueue();
}

async function decideOverride(o, verb) {
  const r = await api(`/v1/overrides/${o.id}/${verb}`, {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"});
  overrideState.msg = r.status === 200 ? (verb === "approve" ? `อนุมัติแล้ว มีผลแล้ว · Approved and applied: ${o.summary}` : `ปฏิเสธแล้ว · Rejected: ${o.summary}`) : errText(r.body);
  overrideState.msgErr = r.status !== 200;
  loadOverrides();
}

function overridesCard() {
  const s = overrideState;
  return h("div", {class: "card", id: "overrides"},
    h("h2", {}, bi("รออนุมัติคนที่สอง", "Waiting for a second approver"), " ", h("span", {class: "en"}, `(${s.items.length})`)),
    h("p", {class: "meta"}, "การแก้ที่ไม่มีอาสาคนใดส่ง มีผลเมื่อสมาชิกห้องปฏิบัติการอีกคนอนุมัติเท่านั้น · Overrides take effect only once another war room member approves."),
    s.msg ? h("div", {class: s.msgErr ? "error" : "notice", id: "override-msg"}, s.msg) : null,
    h("ul", {class: "queue overrides"}, s.items.map((o, i) => h("li", {class: i === s.sel ? "sel" : "", "data-override": o.id},
      h("div", {}, h("div", {class: "place"}, T.kind[o.kind] || o.kind),
        h("div", {}, o.summary),
        h("div", {class: "meta"}, `ขอโดย requested by ${o.requested_name || o.requested_by} (${o.requested_by}) ${fmtTime(o.requested_at)} · หมดเวลา expires ${fmtTime(o.expires_at)} · “${o.reason}”`)),
      me.role === "war_room" && o.requested_by !== me.volunteer_id
        ? h("div", {class: "right"}, h("button", {class: "primary", id: "approve-" + o.id, onclick: () => decideOverride(o, "approve")}, "อนุมัติ · Approve (A)"), " ",
          h("button", {class: "act", id: "reject-" + o.id, onclick: () => decideOverride(o, "reject")}, "ปฏิเสธ · Reject (X)"))
        : h("div", {class: "right meta"}, o.requested_by === me.volunteer_id ? "คุณขอเอง รอคนอื่น · yours: another person approves" : "")))),
    h("p", {class: "keys"}, h("kbd", {}, "o"), " เลือกถัดไป next · ", h("kbd", {}, "A"), " อนุมัติ approve · ", h("kbd", {}, "X"), " ปฏิเสธ reject"));
}

// One card for the page's life: the queue redraws on every live update, and a new card would
// drop the file the war room member has just picked (and the answer to the last upload).
let csvCardEl = null;
function csvCard() {
  if (!csvCardEl) csvCardEl = makeCSVCard();
  return csvCardEl;
}

function makeCSVCard() {
  const file = h("input", {type: "file", id: "csv", accept: ".csv,text/csv"});
  const out = h("div", {id: "csv-out"});
  return h("div", {class: "card"},
    h("h2", {}, bi("นำเข้าผลทางการ (CSV)", "Upload official figures (CSV)")),
    h("p", {class: "meta"}, "หัวตาราง header: station_id,ballot,ballots_cast,invalid,no_vote,number,votes — ",
      "ถ้ามีแถวใดผิด จะไม่นำเข้าเลยแม้แต่แถวเดียว · if any row is wrong, nothing is applied."),
    h("div", {class: "row"}, file, " ", h("button", {class: "primary", id: "csv-send", onclick: async () => {
      const f = file.files[0];
      if (!f) return;
      out.replaceChildren("กำลังส่ง… sending…");
      const r = await api("/v1/official/csv?name=" + encodeURIComponent(f.name), {method: "POST", headers: {"Content-Type": "text/csv"}, body: f});
      if (r.status !== 200 && r.status !== 202) { out.replaceChildren(h("div", {class: "error"}, errText(r.body), r.body && r.body.failed ? "\n" + r.body.failed.join("\n") : "")); return; }
      const s = r.body;
      out.replaceChildren(h("div", {class: "notice", id: "csv-pending"},
        s.override ? "รออนุมัติจากคนที่สอง ยังไม่ได้ส่งแถวใด · Waiting for a second war room member: nothing is sent until then. " : `นำเข้า applied ${s.applied}/${s.rows} · `,
        `${s.rows} แถว rows · ตรงกับผลรวม match ${s.matches} · ไม่ตรง mismatch ${s.mismatches.length} · ยังไม่มีผล unreported ${s.unreported}`),
        s.mismatches.length ? h("ul", {}, s.mismatches.map((m) => h("li", {}, h("a", {href: "#/station/" + encodeURIComponent(m.station_id)}, `${m.station_id} ${T.ballot[m.ballot]}`),
          ` — ทางการ official ${n(m.official.ballots_cast)} / รวม consolidated ${n(m.result.ballots_cast)} (${T.status[m.status] || m.status})`))) : null);
    }}, "ตรวจและนำเข้า · Check and apply")), out);
}

// ---- station ----
let stationState = null;

async function loadStation(id) {
  const r = await api("/v1/stations/" + encodeURIComponent(id));
  if (r.status !== 200) {
    app().replaceChildren(h("a", {href: "#/", class: "back"}, "← กลับ · Back to the queue"), h("div", {class: "error", id: "station-error"}, errText(r.body)));
    return;
  }
  stationState = {v: r.body, ballot: null, correcting: false};
  const open = r.body.ballots.find((b) => b.open) || r.body.ballots.find((b) => b.reports.length) || r.body.ballots[0];
  stationState.ballot = open.ballot;
  drawStation();
}

function nameOf(v, ballot, no) {
  if (ballot === "constituency") { const c = v.candidates.find((x) => String(x.no) === String(no)); return c ? c.name : ""; }
  return "";
}

function photoStrip(refs) {
  if (!refs || !refs.length) return h("span", {class: "missing"}, "ไม่มีภาพ · no photo");
  return h("div", {class: "photos"}, refs.map((ref) => h("img", {src: "/v1/evidence/" + ref, alt: "ภาพหลักฐาน evidence " + ref.slice(7, 15), loading: "lazy",
    onclick: () => openZoom("/v1/evidence/" + ref), onerror: (e) => { e.target.replaceWith(h("span", {class: "missing"}, "ภาพยังไม่มา · photo not uploaded yet")); }})));
}

function ballotSection(v, b) {
  const it = b.open;
  const sources = it ? it.sources : latestPerVolunteer(b.reports);
  const nums = new Set();
  for (const s of sources) Object.keys(s.votes || {}).forEach((k) => nums.add(k));
  if (b.result) Object.keys(b.result.votes || {}).forEach((k) => nums.add(k));
  if (b.ballot === "constituency") v.candidates.forEach((c) => nums.add(String(c.no)));
  const order = [...nums].sort((a, b) => Number(a) - Number(b));
  const cols = [];
  if (b.result) cols.push({head: h("div", {class: "src-head"}, h("b", {}, "ผลรวมตอนนี้"), h("br"), "consolidated", h("br"), T.status[b.status] || b.status), fig: b.result});
  if (b.official) cols.push({head: h("div", {class: "src-head"}, h("b", {}, "กกต. ทางการ"), h("br"), "official", h("br"), b.official.entered_by), fig: b.official});
  sources.forEach((s, i) => cols.push({src: s, idx: i + 1, fig: s, head: h("div", {class: "src-head"},
    h("b", {}, `แหล่ง ${i + 1} · ${s.org}`), h("br"), `${s.volunteer_id}`, h("br"), `${T.stage[s.stage] || s.stage} · ${fmtTime(s.received_at)}`,
    h("br"), trackNote(s.track), s.in_result ? h("br") : null, s.in_result ? h("span", {class: "chip ok"}, "ใช้ในผลรวม used") : null)}));
  const correcting = stationState.correcting && stationState.ballot === b.ballot;
  const base = b.result || (sources[0] || {});
  const rows = [["ballots_cast", "บัตรที่ใช้ · cast"], ["invalid", "บัตรเสีย · invalid"], ["no_vote", "ไม่เลือกใคร · no vote"]].map(([k, label]) => ({k, label, get: (f) => f[k]}));
  order.forEach((no) => rows.push({k: "v" + no, no, label: `${no} ${nameOf(v, b.ballot, no)}`, get: (f) => (f.votes || {})[no] || 0}));
  const table = h("table", {class: "cmp", id: "cmp-" + b.ballot},
    h("thead", {}, h("tr", {}, h("th", {}, "หมายเลข · number"), cols.map((c) => h("th", {}, c.head)), correcting ? h("th", {}, h("b", {}, "แก้ไข · corrected")) : null)),
    h("tbody", {}, rows.map((r) => {
      const vals = cols.map((c) => r.get(c.fig));
      const differ = new Set(vals.map(String)).size > 1;
      return h("tr", {class: r.k === "ballots_cast" ? "total" : ""}, h("td", {}, r.label),
        vals.map((x) => h("td", {class: differ ? "diff" : ""}, n(x))),
        correcting ? h("td", {}, h("input", {type: "number", min: 0, "data-k": r.k, value: r.get(base) || 0, "aria-label": r.label})) : null);
    }),
    h("tr", {}, h("td", {}, "ภาพ · photos"), cols.map((c) => h("td", {}, c.src ? photoStrip(c.src.evidence) : "")), correcting ? h("td") : null),
    h("tr", {}, h("td", {}, "ถ้าแหล่งนี้ถูก · if right"), cols.map((c) => h("td", {}, c.src && c.src.if_right ? h("div", {class: "ifright" + (c.src.if_right.flips ? " flip" : "")},
      `นำ leader ${c.src.if_right.leader} ${c.src.if_right.leader_name || ""}`, h("br"), `ห่าง by ${n(c.src.if_right.margin)}`, c.src.if_right.flips ? " · เปลี่ยนผู้นำ flips" : "") : "")), correcting ? h("td") : null)));
  const flags = (it ? it.anomalies : b.anomalies.slice(0, 5));
  return h("section", {class: "card ballot", id: "ballot-" + b.ballot},
    h("h2", {}, T.ballot[b.ballot], " ", h("span", {class: "chip " + (b.status === "disputed" ? "hard" : b.status === "verified" ? "ok" : "")}, T.status[b.status] || "ยังไม่มีรายงาน · no report"),
      it ? h("span", {class: "chip " + it.severity}, `ลำดับ priority ${it.priority}`) : null),
    flags.length ? h("ul", {class: "flags"}, flags.map((f) => h("li", {}, h("b", {}, `${T.code[f.code] || f.code} (${f.code})`), " — ", f.message))) : null,
    it ? h("p", {class: "meta"}, it.why.join(" · ")) : null,
    it && it.escalated ? h("div", {class: "notice esc"}, `ส่งต่อห้องปฏิบัติการโดย escalated by ${it.escalated.by} ${fmtTime(it.escalated.at)}: “${it.escalated.reason}”`) : null,
    h("div", {style: "overflow-x:auto"}, table),
    actions(v, b, sources, correcting),
    b.decisions.length ? h("div", {class: "history"}, h("h2", {}, bi("ประวัติการตัดสิน", "Decisions")),
      h("ul", {}, b.decisions.map((d) => h("li", {}, `${fmtTime(d.received_at)} ${d.reviewer_id} (${T.role[d.role] || d.role}): `,
        d.escalate ? "ส่งต่อห้องปฏิบัติการ escalated" : d.accept_submission_id ? `ยอมรับ accepted ${d.accept_submission_id.slice(0, 8)}` : "แก้ตัวเลข corrected figures", ` — “${d.reason}”`)))) : null);
}

// trackNote: how often this volunteer and their organisation agreed with settled results.
function trackNote(t) {
  const pct = (r) => r.reports ? `${r.agreed}/${r.reports} (${Math.round(100 * r.agreed / r.reports)}%)` : "–";
  if (!t) return h("span", {class: "track", title: "ยังไม่มีประวัติ · no settled reports yet"}, "ประวัติ record: ใหม่ new");
  const poor = (r) => r.reports >= 5 && r.agreed / r.reports < 0.6;
  return h("span", {class: "track" + (poor(t.volunteer) || poor(t.org) ? " poor" : ""), title: "รายงานที่ตรงกับผลที่ยืนยันแล้ว · reports that matched settled results"},
    `ประวัติ record: อาสา ${pct(t.volunteer)} · องค์กร org ${pct(t.org)}`);
}

function latestPerVolunteer(reports) {
  const m = new Map();
  for (const r of reports) {
    const o = m.get(r.volunteer_id);
    if (!o || (r.stage === "final") > (o.stage === "final") || (r.stage === o.stage && r.received_at > o.received_at)) m.set(r.volunteer_id, r);
  }
  return [...m.values()];
}

function actions(v, b, sources, correcting) {
  if (!b.reports.length && !b.result) return null;
  const reason = h("textarea", {id: "reason-" + b.ballot, class: "reason", rows: 2, required: true,
    placeholder: "เหตุผล (จำเป็น) เช่น ภาพ ส.ส. 5/18 ตรงกับแหล่ง 1 · reason (required), e.g. the signed form matches source 1"});
  const msg = h("div", {id: "msg-" + b.ballot});
  const send = async (action, extra) => {
    if (!reason.value.trim()) { msg.replaceChildren(h("div", {class: "error"}, "ต้องใส่เหตุผลก่อน · A reason is required.")); reason.focus(); return; }
    const body = {decision_id: crypto.randomUUID(), station_id: v.station_id, ballot: b.ballot, action, reason: reason.value.trim(), ...extra};
    msg.replaceChildren("กำลังส่ง… sending…");
    const r = await api("/v1/decisions", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
    if (r.status >= 300) { msg.replaceChildren(h("div", {class: "error"}, errText(r.body))); return; }
    if (r.status === 202 && r.body && r.body.override) {
      msg.replaceChildren(h("div", {class: "notice esc", id: "pending"}, "รออนุมัติจากคนที่สองในห้องปฏิบัติการ · Waiting for a second war room member to approve. ",
        h("span", {class: "en"}, r.body.message), " ", h("a", {href: "#/"}, "กลับไปที่คิว · back to the queue (Esc)")));
      stationState.correcting = false;
      return;
    }
    msg.replaceChildren(h("div", {class: "notice", id: "done"}, "บันทึกแล้ว · Recorded. ", h("span", {class: "en"}, "The station turns verified once the pipeline applies it. "),
      h("a", {href: "#/"}, "กลับไปที่คิว · back to the queue (Esc)"), " · ", "รายการถัดไป · next item (n)"));
    stationState.correcting = false;
  };
  const row = h("div", {class: "row"},
    sources.map((s, i) => h("button", {class: "act", "data-accept": i + 1, onclick: () => send("accept", {submission_id: s.submission_id})},
      `ยอมรับแหล่ง ${i + 1} · Accept source ${i + 1} (${i + 1})`)),
    b.open ? h("button", {class: "act", id: "verify-" + b.ballot, onclick: () => send("verify", {})}, "ยืนยันผลรวม · Verify consolidated (v)") : null,
    me.role === "district_lead" && b.open ? h("button", {class: "act", id: "escalate-" + b.ballot, onclick: () => send("escalate", {})}, "ส่งต่อห้องปฏิบัติการ · Escalate to the war room (e)") : null,
    correcting
      ? h("button", {class: "primary", onclick: () => {
        const f = {votes: {}};
        for (const inp of document.querySelectorAll(`#cmp-${b.ballot} input[data-k]`)) {
          const k = inp.dataset.k, x = Number(inp.value);
          if (k.startsWith("v")) f.votes[k.slice(1)] = x; else f[k] = x;
        }
        send("correct", {figures: f});
      }}, "บันทึกตัวเลขที่แก้ · Save corrected figures")
      : h("button", {class: "act", onclick: () => { stationState.correcting = true; stationState.ballot = b.ballot; drawStation(); }}, "แก้ตัวเลข · Correct figures (c)"));
  return h("div", {class: "actions"}, h("label", {for: reason.id}, bi("เหตุผล (จำเป็น)", "Reason (required)")), reason, row, msg,
    h("p", {class: "keys"}, h("kbd", {}, "1"), "–", h("kbd", {}, "9"), " ยอมรับแหล่ง accept · ", h("kbd", {}, "v"), " ยืนยัน verify · ",
      h("kbd", {}, "c"), " แก้ correct · ", h("kbd", {}, "e"), " ส่งต่อ escalate · ", h("kbd", {}, "n"), " รายการถัดไป next item · ", h("kbd", {}, "/"), " พิมพ์เหตุผล reason · ", h("kbd", {}, "Esc"), " กลับ back"));
}

function drawStation() {
  const v = stationState.v;
  const shown = v.ballots.filter((b) => b.open || b.reports.length || b.result);
  app().replaceChildren(
    h("a", {href: "#/", class: "back"}, "← กลับไปที่คิว · Back to the queue (Esc)"),
    h("div", {class: "card"}, h("h1", {id: "station-title"}, `หน่วยเลือกตั้งที่ ${v.number} · ${v.subdistrict} · ${v.constituency_name}`),
      h("p", {class: "meta"}, `station ${v.station_id} · ผู้มีสิทธิ์ eligible ${n(v.eligible_voters)}`)),
    ...(shown.length ? shown : v.ballots.slice(0, 1)).map((b) => ballotSection(v, b)).filter((k) => k != null));
}

// ---- zoom ----
let zoom = {scale: 1, rot: 0};
function openZoom(src) {
  zoom = {scale: 1, rot: 0};
  const z = $("#zoom"), img = $("#zoom img");
  img.src = src; applyZoom(); z.hidden = false;
}
function applyZoom() { $("#zoom img").style.transform = `scale(${zoom.scale}) rotate(${zoom.rot}deg)`; }
function closeZoom() { $("#zoom").hidden = true; }

// ---- routing and keys ----
function route() {
  if (location.hash === "#/log") return {page: "log"};
  if (location.hash === "#/refusals") return {page: "refusals"};
  const m = location.hash.match(/^#\/station\/(.+)$/);
  return m ? {page: "station", id: decodeURIComponent(m[1])} : {page: "queue"};
}

// ---- the log of decisions ----
async function loadLog() {
  const r = await api("/v1/decisions?limit=200");
  if (r.status !== 200) { app().replaceChildren(h("div", {class: "error"}, errText(r.body))); return; }
  const what = (d) => d.escalate ? "ส่งต่อห้องปฏิบัติการ · escalated" : d.accept_submission_id ? `ยอมรับแหล่ง · accepted ${d.accept_submission_id.slice(0, 8)}` : `แก้ตัวเลข · corrected (${n(d.figures.ballots_cast)})`;
  app().replaceChildren(
    h("a", {href: "#/", class: "back"}, "← กลับไปที่คิว · Back to the queue (Esc)"),
    h("div", {class: "card"}, h("h1", {}, bi("บันทึกการตัดสิน", "Decision log")),
      h("p", {class: "meta"}, "ทุกการตัดสินตามที่ ingest บันทึกไว้ ล่าสุดก่อน · every decision as ingest recorded it, newest first"),
      h("div", {style: "overflow-x:auto"}, h("table", {class: "cmp", id: "log"},
        h("thead", {}, h("tr", {}, ["เวลา · when", "ผู้ตัดสิน · who", "บทบาท · role", "หน่วย · station", "บัตร · ballot", "การตัดสิน · what", "เหตุผล · why"].map((x) => h("th", {}, x)))),
        h("tbody", {}, r.body.decisions.map((d) => h("tr", {},
          h("td", {}, fmtTime(d.received_at)), h("td", {}, d.reviewer_id), h("td", {}, T.role[d.role] || d.role),
          h("td", {}, h("a", {href: "#/station/" + encodeURIComponent(d.station_id)}, d.station_id)), h("td", {}, T.ballot[d.ballot] || d.ballot),
          h("td", {}, what(d)), h("td", {style: "text-align:left"}, d.reason))))))));
}

// ---- requests ingest refused (a sample per source: "+n" are the ones left out) ----
async function loadRefusals() {
  const r = await api("/v1/refusals?limit=200");
  if (r.status !== 200) { app().replaceChildren(h("div", {class: "error"}, errText(r.body))); return; }
  const rs = r.body.refusals;
  app().replaceChildren(
    h("a", {href: "#/", class: "back"}, "← กลับไปที่คิว · Back to the queue (Esc)"),
    h("div", {class: "card"}, h("h1", {}, bi("คำขอที่ถูกปฏิเสธ", "Refused attempts")),
      h("p", {class: "meta"}, "สิ่งที่ ingest ไม่รับ ล่าสุดก่อน (ตัวอย่างต่อผู้ส่ง: +n คือจำนวนที่ไม่ได้แสดง) · what ingest refused, newest first (sampled per sender: +n were left out)"),
      rs.length ? h("div", {style: "overflow-x:auto"}, h("table", {class: "cmp", id: "refusals"},
        h("thead", {}, h("tr", {}, ["เวลา · when", "ผู้ส่ง · who", "องค์กร · org", "หน่วย · station", "ที่ · where", "เหตุ · why", ""].map((x) => h("th", {}, x)))),
        h("tbody", {}, rs.map((x) => h("tr", {},
          h("td", {}, fmtTime(x.at)), h("td", {}, x.volunteer_id || "(ไม่มีโทเคนที่ใช้ได้ · no valid token)"), h("td", {}, x.org || ""),
          h("td", {}, x.station_id ? h("a", {href: "#/station/" + encodeURIComponent(x.station_id)}, x.station_id) : ""),
          h("td", {}, x.endpoint), h("td", {style: "text-align:left"}, h("b", {}, x.code), " ", x.message),
          h("td", {}, x.suppressed ? `+${x.suppressed}` : ""))))))
        : h("div", {class: "notice"}, "ไม่มีคำขอที่ถูกปฏิเสธ · Nothing refused.")));
}

async function render() {
  header();
  if (!me) {
    const r = await api("/v1/session");
    if (r.status === 200) me = r.body; else { loginPage(); return; }
    header();
  }
  if (me.role === "desk") { location.href = "/desk.html"; return; } // the desk's token opens the desk only
  connectStream();
  const rt = route();
  if (rt.page === "station") loadStation(rt.id);
  else if (rt.page === "log") loadLog();
  else if (rt.page === "refusals") loadRefusals();
  else { drawQueue(); loadQueue(true); loadOverrides(); }
}

document.addEventListener("keydown", (e) => {
  if (!$("#zoom").hidden) {
    if (e.key === "Escape") closeZoom();
    if (e.key === "+" || e.key === "=") { zoom.scale *= 1.25; applyZoom(); }
    if (e.key === "-") { zoom.scale /= 1.25; applyZoom(); }
    return;
  }
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement && document.activeElement.tagName);
  if (typing) { if (e.key === "Escape") document.activeElement.blur(); return; }
  if (!me) return;
  const rt = route();
  if (rt.page === "queue") {
    const s = queueState;
    if (e.key === "g") { setGroup(!s.group); return; }
    if (inAreaList()) {
      if (e.key === "j" || e.key === "ArrowDown") { s.areaSel = Math.min(s.areaSel + 1, s.areas.length - 1); drawQueue(); e.preventDefault(); }
      else if (e.key === "k" || e.key === "ArrowUp") { s.areaSel = Math.max(s.areaSel - 1, 0); drawQueue(); e.preventDefault(); }
      else if (e.key === "Enter" && s.areas[s.areaSel]) openArea(s.areas[s.areaSel]);
      else if (e.key === "r") loadQueue(true);
      return;
    }
    if (e.key === "Escape" && s.group && s.filter.subdistrict) { closeArea(); return; }
    if (e.key === "j" || e.key === "ArrowDown") { s.sel = Math.min(s.sel + 1, s.items.length - 1); drawQueue(); e.preventDefault(); }
    else if (e.key === "k" || e.key === "ArrowUp") { s.sel = Math.max(s.sel - 1, 0); drawQueue(); e.preventDefault(); }
    else if (e.key === "Enter" && s.items[s.sel]) location.hash = "#/station/" + encodeURIComponent(s.items[s.sel].station_id);
    else if (e.key === "r") { loadQueue(true); loadOverrides(); }
    else if (e.key === "o" && overrideState.items.length) { overrideState.sel = (overrideState.sel + 1) % overrideState.items.length; drawQueue(); }
    else if ((e.key === "A" || e.key === "X") && overrideState.items[overrideState.sel]) {
      const o = overrideState.items[overrideState.sel];
      const b = $(`#${e.key === "A" ? "approve" : "reject"}-${CSS.escape(o.id)}`);
      if (b) b.click();
    }
    return;
  }
  if (e.key === "Escape") { location.hash = "#/"; return; }
  if (rt.page !== "station" || !stationState) return;
  if (e.key === "n") { // the next item of the queue, without going back to it
    const items = queueState.items, at = items.findIndex((x) => x.station_id === stationState.v.station_id);
    const next = items.slice(at + 1).find((x) => x.station_id !== stationState.v.station_id);
    if (next) { queueState.sel = items.indexOf(next); location.hash = "#/station/" + encodeURIComponent(next.station_id); }
    return;
  }
  const sec = $("#ballot-" + stationState.ballot) || $("section.ballot");
  if (!sec) return;
  if (e.key === "/") { $("textarea.reason", sec).focus(); e.preventDefault(); }
  else if (/^[1-9]$/.test(e.key)) { const b = $(`button[data-accept="${e.key}"]`, sec); if (b) b.click(); }
  else if (e.key === "v") { const b = $("button[id^=verify]", sec); if (b) b.click(); }
  else if (e.key === "c") { stationState.correcting = true; drawStation(); }
  else if (e.key === "e") { const b = $("button[id^=escalate]", sec); if (b) b.click(); }
});

$("#zoom").addEventListener("click", (e) => {
  const z = e.target.dataset.z;
  if (z === "in") zoom.scale *= 1.25; else if (z === "out") zoom.scale /= 1.25; else if (z === "rot") zoom.rot += 90; else if (z === "close") { closeZoom(); return; } else return;
  applyZoom();
});
$("#zoom .zoom-view").addEventListener("wheel", (e) => { e.preventDefault(); zoom.scale *= e.deltaY < 0 ? 1.1 : 1 / 1.1; applyZoom(); }, {passive: false});
$("#logout").addEventListener("click", async () => {
  await api("/v1/session", {method: "DELETE"});
  me = null; queueState = freshQueue(); stationState = null; overrideState = {items: [], sel: 0, msg: null};
  csvCardEl = null; // the next person does not see this one's file or upload answer
  if (stream) { stream.close(); stream = null; }
  location.hash = "#/"; render();
});
window.addEventListener("hashchange", render);
render();
