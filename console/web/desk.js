// votestream decision desk: no build step, no dependencies. Thai first, English beside.
// The estimator recommends; the desk approves, holds and retracts (docs/calls.md).
"use strict";

const T = {
  state: {too_early: "เร็วเกินไป · too early", leading: "นำ · leading", likely: "น่าจะชนะ · likely", called: "ชนะแน่นอน · called"},
  action: {recommend: "ข้อเสนอของตัวประมาณ · recommendation", approve: "อนุมัติ · approved", hold: "พักไว้ · hold", release: "ยกเลิกการพัก · released", retract: "ถอนการประกาศ · retracted"},
  rank: {
    attention: ["ต้องดูด่วน", "Needs attention: the recommendation no longer supports the call"],
    ready: ["พร้อมประกาศ", "Ready to call"], held: ["พักไว้", "On hold"], close: ["สูสี", "Close races, closest first"],
    called: ["ประกาศแล้ว", "Called"], waiting: ["ยังเร็วเกินไป", "Too early"],
  },
  role: {desk: "โต๊ะประกาศผล · desk", war_room: "ห้องปฏิบัติการ · war room"},
};

const $ = (sel, el = document) => el.querySelector(sel);
const app = () => $("#app");
let me = null, desk = null, log = [], sel = "national", msg = null, timer = null;

function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v == null) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat(Infinity)) {
    if (k == null || k === false) continue;
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return el;
}
const bi = (th, en) => [th, " ", h("span", {class: "en"}, en)];
const n = (x) => (x == null ? "–" : Number(x).toLocaleString("th-TH"));
const pct = (x) => (x == null ? "–" : (100 * x).toFixed(1) + "%");

async function api(path, opts = {}) {
  const res = await fetch(path, {credentials: "same-origin", ...opts});
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = {error: {code: "BAD_ANSWER", message: text}}; }
  return {status: res.status, body};
}
const errText = (b) => b && b.error ? `${b.error.message} (${b.error.code})` : "ผิดพลาด · error";

function loginPage(m) {
  const tok = h("textarea", {id: "token", rows: 4, placeholder: "vt1.…", autocomplete: "off", spellcheck: "false", "aria-label": "token"});
  const code = h("input", {id: "code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: 6, size: 8, pattern: "[0-9]{6}", placeholder: "123456", "aria-label": "code"});
  const err = h("div", {class: "error", hidden: !m}, m || "");
  app().replaceChildren(h("form", {class: "card", onsubmit: async (e) => {
    e.preventDefault();
    const r = await api("/v1/session", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({token: tok.value.trim(), code: code.value.trim()})});
    if (r.status !== 200) { err.hidden = false; err.textContent = errText(r.body); code.value = ""; code.focus(); return; }
    me = r.body; start();
  }},
    h("h1", {}, bi("เข้าสู่โต๊ะประกาศผล", "Sign in to the decision desk")),
    h("p", {}, "วางโทเค็นของโต๊ะประกาศผล (หรือห้องปฏิบัติการ เพื่อดูอย่างเดียว) แล้วพิมพ์รหัส 6 หลักจากแอปยืนยันตัวตน ", h("span", {class: "en"}, "Paste your desk token (a war room token may look, not decide), then type the 6-digit code your authenticator app shows now.")),
    h("label", {for: "token"}, bi("โทเค็น", "Token")), tok,
    h("label", {for: "code"}, bi("รหัสจากแอป (6 หลัก)", "Authenticator code (6 digits)")), code, err,
    h("p", {}, h("button", {class: "primary", type: "submit", id: "signin"}, "เข้าสู่ระบบ · Sign in"))));
  tok.focus();
}

async function refresh() {
  const [d, l] = await Promise.all([api("/v1/desk"), api("/v1/desk/log?limit=100")]);
  if (d.status === 401) { me = null; stop(); loginPage(errText(d.body)); return; }
  if (d.status !== 200) { app().replaceChildren(h("div", {class: "error"}, errText(d.body))); return; }
  desk = d.body; log = l.status === 200 ? l.body.calls : [];
  $("#live").hidden = !desk.ready;
  draw();
}
function start() {
  $("#who").textContent = `${T.role[me.role] || me.role} · ${me.volunteer_id}`;
  $("#logout").hidden = false;
  refresh();
  if (!timer) timer = setInterval(() => { if (!typing()) refresh(); }, 3000);
}
function stop() { clearInterval(timer); timer = null; $("#logout").hidden = true; $("#who").textContent = ""; }
const typing = () => document.activeElement && ["INPUT", "TEXTAREA"].includes(document.activeElement.tagName);

// order is every selectable race: the national picture first, then the ranked list.
const order = () => desk ? [desk.national, ...desk.races.filter((r) => r.rank !== "waiting")] : [];
const current = () => order().find((r) => r.race === sel) || desk.national;

function winnerText(r) {
  const w = r.winner;
  if (!w) return "–";
  return r.race === "national" ? `${w.party_name_th} (${w.party_name_en})` : `${w.no}. ${w.name} · ${w.party_name_th}`;
}
function chips(r) {
  const out = [];
  if (r.recommendation) out.push(h("span", {class: "chip " + r.recommendation.state}, "เสนอ · rec: " + T.state[r.recommendation.state]));
  if (r.standing) out.push(h("span", {class: "chip called"}, "ประกาศแล้ว · called: " + T.state[r.standing.state]));
  if (r.held) out.push(h("span", {class: "chip held"}, "พักไว้ · held"));
  return out;
}
function raceRow(r) {
  const ev = r.recommendation ? r.recommendation.evidence : null;
  return h("li", {class: r.rank + (r.race === sel ? " sel" : ""), id: "race-" + r.race, onclick: () => { sel = r.race; draw(); }},
    h("div", {}, h("div", {class: "place"}, r.name_th, " ", h("span", {class: "en"}, r.name_en)), h("div", {class: "meta"}, winnerText(r)), h("div", {}, chips(r))),
    h("div", {class: "right"}, ev && ev.win_probability != null ? h("div", {}, "P ", pct(ev.win_probability)) : null,
      ev ? h("div", {class: "meta"}, "นำ · margin ", n(ev.margin_votes)) : null,
      ev ? h("div", {class: "meta"}, `หน่วย · stations ${n(ev.stations_reported)}/${n(ev.stations_total)}`) : null));
}

function nationalCard() {
  const r = desk.national;
  const ev = r.recommendation ? r.recommendation.evidence : null;
  const max = Math.max(0.01, ...desk.parties.map((p) => p.share_hi));
  return h("div", {class: "card" + (sel === "national" ? " sel" : ""), id: "national", onclick: () => { sel = "national"; draw(); }},
    h("h2", {}, bi("ภาพรวมประเทศ", "National picture")),
    h("p", {class: "meta"}, `ประมาณการ · estimate ${desk.estimate_id || "–"} · ข้อมูลถึง · data to ${desk.data_time_local || "–"} น. (Asia/Bangkok) · ${desk.shares_state || ""}`),
    h("div", {}, "พรรคที่ได้ที่นั่งมากที่สุด · Largest party: ", h("b", {}, winnerText(r)), " ", chips(r),
      ev && ev.seats_lo != null ? ` ที่นั่ง · seats ${ev.seats_lo}–${ev.seats_hi}` : "",
      ev && ev.win_probability != null ? ` · P ${pct(ev.win_probability)}` : ""),
    h("div", {class: "scroll"}, h("table", {class: "cmp parties"},
      h("thead", {}, h("tr", {}, ["พรรค · party", "สัดส่วน · share", "ช่วง 95% · interval", "", "บัญชีรายชื่อ · list", "นำเขต · leading", "รวม · seats", "ช่วงที่นั่ง 95% · seat range", "มากสุด · P largest"].map((x) => h("th", {}, x)))),
      h("tbody", {}, desk.parties.slice(0, 8).map((p) => h("tr", {},
        h("td", {}, p.name_th || p.party_no, " ", h("span", {class: "en"}, p.name_en)), h("td", {}, pct(p.share)),
        h("td", {}, `${pct(p.share_lo)} – ${pct(p.share_hi)}`),
        h("td", {}, h("span", {class: "bar", "data-w": Math.round(100 * p.share / max)})),
        h("td", {}, n(p.partylist_seats)), h("td", {}, n(p.constituencies_leading)), h("td", {}, h("b", {}, n(p.seats_projected))),
        h("td", {}, p.seats_lo95 != null ? `${p.seats_lo95}–${p.seats_hi95}` : "–"),
        h("td", {}, p.largest_probability != null ? pct(p.largest_probability) : "–")))))));
}

function panel() {
  const r = current();
  const rec = r.recommendation, ev = rec ? rec.evidence : null;
  const reason = h("textarea", {id: "reason", class: "reason", rows: 3, placeholder: "เหตุผล (จำเป็น) · reason (required)", "aria-label": "reason"});
  const can = me.role === "desk";
  const btn = (cls, id, label, act, state, ok) => h("button", {class: cls, id, disabled: !can || !ok, onclick: () => decide(r, act, state, reason)}, label);
  const recState = rec ? rec.state : "";
  return h("div", {class: "card panel", id: "panel"},
    h("h2", {}, r.name_th, " ", h("span", {class: "en"}, r.name_en)),
    h("div", {}, chips(r)),
    h("table", {class: "cmp evidence"}, h("tbody", {},
      h("tr", {}, h("th", {}, "ผู้นำที่เสนอ · recommended winner"), h("td", {}, winnerText(r))),
      h("tr", {}, h("th", {}, "ข้อเสนอ · recommendation"), h("td", {}, rec ? T.state[rec.state] : "–")),
      h("tr", {}, h("th", {}, "โอกาสชนะ · win probability"), h("td", {}, ev ? pct(ev.win_probability) : "–")),
      h("tr", {}, h("th", {}, r.race === "national" ? "ที่นั่งทิ้งห่าง · seat lead" : "คะแนนนำที่นับแล้ว · counted margin"), h("td", {}, ev ? n(ev.margin_votes) : "–")),
      h("tr", {}, h("th", {}, "หน่วยที่รายงาน · stations reported"), h("td", {}, ev ? `${n(ev.stations_reported)} / ${n(ev.stations_total)}` : "–")),
      h("tr", {}, h("th", {}, "บัตรที่เหลือเปลี่ยนผลได้หรือไม่ · can the rest change it?"), h("td", {}, ev ? (ev.decided ? "ไม่ได้ (นับจากผลที่ยืนยันแล้ว) · no, on checked figures" : "ได้ · yes") : "–")),
      h("tr", {}, h("th", {}, "ประมาณการ · estimate"), h("td", {}, ev ? ev.estimate_id : "–")))),
    r.standing ? h("div", {class: "notice"}, `ประกาศแล้ว · called ${T.state[r.standing.state]} โดย · by ${r.standing.by} ${r.standing.at_local} น. — ${r.standing.reason}`) : null,
    r.held ? h("div", {class: "notice esc"}, `พักไว้ · on hold โดย · by ${r.held.by} ${r.held.at_local} น. — ${r.held.reason}`) : null,
    msg ? h("div", {class: msg.ok ? "notice" : "error", id: "deskmsg"}, msg.text) : null,
    can ? h("div", {}, h("label", {for: "reason"}, bi("เหตุผล", "Reason (required)")), reason,
      h("div", {class: "btns"},
        btn("primary", "approve-called", "อนุมัติ ชนะแน่นอน · Approve called (a)", "approve", "called", recState === "called" && !r.held && !(r.standing && r.standing.state === "called")),
        btn("act", "approve-likely", "อนุมัติ น่าจะชนะ · Approve likely (l)", "approve", "likely", (recState === "likely" || recState === "called") && !r.held && !r.standing),
        r.held ? btn("act", "release", "ยกเลิกการพัก · Release (u)", "release", "", true) : btn("act", "hold", "พักไว้ · Hold (h)", "hold", "", true),
        btn("danger", "retract", "ถอนการประกาศ · Retract (x)", "retract", "", !!r.standing)),
      h("p", {class: "keys"}, h("kbd", {}, "j"), "/", h("kbd", {}, "k"), " เลื่อน · move  ", h("kbd", {}, "/"), " เหตุผล · reason  ",
        h("kbd", {}, "a"), " ", h("kbd", {}, "l"), " ", h("kbd", {}, "h"), " ", h("kbd", {}, "u"), " ", h("kbd", {}, "x"), " ตัดสิน · decide (after typing the reason: Esc, then the key)"))
      : h("p", {class: "meta"}, "ดูได้อย่างเดียว · read only: only the desk role decides"));
}

async function decide(r, action, state, reasonEl) {
  const reason = reasonEl.value.trim();
  if (!reason) { msg = {ok: false, text: "ต้องระบุเหตุผลก่อน · a reason is required"}; draw(); $("#reason").focus(); return; }
  const body = {race: r.race, action, reason};
  if (action === "approve") { body.state = state; body.estimate_id = r.recommendation.evidence.estimate_id; }
  const res = await api("/v1/desk/decisions", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  msg = res.status === 200 ? {ok: true, text: `${T.action[action]}: ${r.name_th} — ${res.body.at_local} น.`} : {ok: false, text: errText(res.body)};
  if (res.status === 200) reasonEl.value = "";
  await refresh();
}

function logCard() {
  return h("div", {class: "card"}, h("h2", {}, bi("บันทึกการประกาศ", "Call log, newest first")),
    h("div", {class: "scroll"}, h("table", {class: "cmp", id: "calllog"},
      h("thead", {}, h("tr", {}, ["เวลา · when (Bangkok)", "เขต · race", "การกระทำ · what", "ผล · state", "ผู้ชนะ · winner", "ผู้ตัดสิน · who", "เหตุผล · why"].map((x) => h("th", {}, x)))),
      h("tbody", {}, log.map((c) => h("tr", {},
        h("td", {}, c.at_local), h("td", {}, c.name_th), h("td", {class: "act-" + c.action}, T.action[c.action]),
        h("td", {}, c.state ? T.state[c.state] : ""), h("td", {}, c.winner ? (c.winner.name || c.winner.party_name_th) : ""),
        h("td", {}, c.by), h("td", {}, c.reason)))))));
}

function draw() {
  if (!desk) return;
  const keep = $("#reason") ? $("#reason").value : "";
  const groups = ["attention", "ready", "held", "close", "called"].map((rank) => {
    const rs = desk.races.filter((r) => r.rank === rank);
    return rs.length ? [h("h3", {}, T.rank[rank][0], " · ", T.rank[rank][1], ` (${rs.length})`), rs.slice(0, 60).map(raceRow)] : null;
  });
  const waiting = desk.counts.waiting || 0;
  app().replaceChildren(...[
    desk.ready ? null : h("div", {class: "error"}, "กำลังอ่านบันทึกการประกาศ · reading the call log…"),
    nationalCard(),
    h("div", {class: "desk"},
      h("div", {}, h("ul", {class: "races", id: "races"}, groups), waiting ? h("p", {class: "meta"}, `ยังเร็วเกินไป · too early: ${waiting}`) : null),
      panel()),
    logCard()].filter((x) => x));
  for (const b of document.querySelectorAll(".bar")) b.style.width = (b.dataset.w * 1.2) + "px";
  if (keep && $("#reason")) $("#reason").value = keep;
}

document.addEventListener("keydown", (e) => {
  if (!me || !desk) return;
  const inText = document.activeElement && ["INPUT", "TEXTAREA"].includes(document.activeElement.tagName);
  if (inText) { if (e.key === "Escape") document.activeElement.blur(); return; }
  const list = order(), i = list.findIndex((r) => r.race === sel);
  const click = (id) => { const b = $("#" + id); if (b && !b.disabled) b.click(); };
  if (e.key === "j" || e.key === "ArrowDown") { sel = list[Math.min(i + 1, list.length - 1)].race; msg = null; draw(); e.preventDefault(); }
  else if (e.key === "k" || e.key === "ArrowUp") { sel = list[Math.max(i - 1, 0)].race; msg = null; draw(); e.preventDefault(); }
  else if (e.key === "/") { const r = $("#reason"); if (r) { r.focus(); e.preventDefault(); } }
  else if (e.key === "a") click("approve-called");
  else if (e.key === "l") click("approve-likely");
  else if (e.key === "h") click("hold");
  else if (e.key === "u") click("release");
  else if (e.key === "x") click("retract");
  else if (e.key === "r") refresh();
});
$("#logout").addEventListener("click", async () => { await api("/v1/session", {method: "DELETE"}); me = null; stop(); loginPage(); });

(async () => {
  const r = await api("/v1/session");
  if (r.status === 200) { me = r.body; start(); } else loginPage();
})();
