// votestream volunteers' form. No framework: one file, Thai first. Every report is stored in
// IndexedDB with its submission_id BEFORE any network use, then sent, retried with capped
// back-off (Retry-After honoured) for as long as it takes, never under a new id.
'use strict';
(() => {
const T = {
  th: {
    title: 'รายงานผลนับคะแนน', online: 'มีสัญญาณ', offline: 'ไม่มีสัญญาณ', other: 'English',
    opening: 'กำลังเปิด…', needLink: 'เปิดลิงก์ส่วนตัวที่องค์กรของท่านส่งให้ (หรือสแกน QR) เพื่อเริ่มใช้งาน',
    needSignal: 'ครั้งแรกต้องมีสัญญาณ: กำลังรอสัญญาณเพื่อเปิดใช้ลิงก์…',
    linkUsedH: 'ลิงก์นี้ถูกใช้บนโทรศัพท์เครื่องอื่นแล้ว',
    linkUsed: 'ลิงก์ส่วนตัวใช้ได้กับโทรศัพท์เครื่องเดียว กรุณาติดต่อองค์กรของท่านเพื่อขอลิงก์ใหม่',
    tokenBadH: 'ลิงก์นี้ใช้ไม่ได้แล้ว', tokenBad: 'ลิงก์หมดอายุหรือถูกยกเลิก กรุณาติดต่อองค์กรของท่านเพื่อขอลิงก์ใหม่ รายงานที่ยังไม่ได้ส่งยังอยู่ในเครื่อง และจะส่งเมื่อเปิดลิงก์ใหม่',
    stations: 'หน่วยเลือกตั้งของท่าน', station: 'หน่วยเลือกตั้งที่', district: 'เขต', sub: 'ต.', eligible: 'ผู้มีสิทธิ',
    report: 'รายงานผลคะแนน', checkin: 'เช็กอิน: ถึงหน่วยแล้ว', checkedIn: 'เช็กอินแล้ว ✓', incident: 'แจ้งเหตุด่วน',
    reportC: 'บัตรแบ่งเขต', reportCsub: 'ใช้หมายเลขผู้สมัคร', reportP: 'บัตรบัญชีรายชื่อ', reportPsub: 'ใช้หมายเลขพรรค',
    notYet: 'ยังไม่ได้รายงาน', lastSent: (stage, state, time) => `${stage} · ${state} · ${time}`,
    offlineBar: 'ไม่มีสัญญาณ: กรอกและกดบันทึกได้ตามปกติ รายงานเก็บไว้ในเครื่อง และจะส่งเองเมื่อมีสัญญาณ',
    flashC: 'บันทึกบัตรแบ่งเขตแล้ว อย่าลืมรายงานบัตรบัญชีรายชื่อ', flashP: 'บันทึกบัตรบัญชีรายชื่อแล้ว อย่าลืมรายงานบัตรแบ่งเขต', flashDone: 'บันทึกแล้ว',
    wholeOnly: 'กรอกได้เฉพาะตัวเลขจำนวนเต็ม',
    claims: 'จองหน่วยเลือกตั้ง (ก่อนวันเลือกตั้ง)', back: '‹ กลับ',
    ballotC: 'บัตรแบ่งเขต', ballotP: 'บัตรบัญชีรายชื่อ',
    headC: 'บัตรเลือกตั้ง ส.ส. แบบแบ่งเขต · ใช้ “หมายเลขผู้สมัคร”',
    headP: 'บัตรเลือกตั้ง ส.ส. แบบบัญชีรายชื่อ · ใช้ “หมายเลขพรรค”',
    noteC: 'หมายเลขผู้สมัครในเขตนี้ ไม่ใช่หมายเลขพรรค ดูชื่อให้ตรงก่อนกรอก',
    noteP: 'หมายเลขพรรคทั้งประเทศ ไม่ใช่หมายเลขผู้สมัครในเขต ดูชื่อพรรคให้ตรงก่อนกรอก',
    candNo: 'ผู้สมัคร', partyNo: 'พรรค', partyOf: 'พรรค',
    progress: 'ระหว่างนับ (กระดาน)', final: 'ผลสุดท้าย (ส.ส. 5/18)',
    cast: 'บัตรที่ใช้ทั้งหมด', invalid: 'บัตรเสีย', novote: 'ไม่เลือกผู้ใด', votesSum: 'คะแนนรวม',
    photoBoard: 'ถ่ายรูปกระดานนับคะแนน', photoForm: 'ถ่ายรูปแบบ ส.ส. 5/18', photoInc: 'ถ่ายรูป',
    send: 'บันทึกและส่ง', sendAnyway: '',
    fixFirst: 'ยังส่งไม่ได้: แก้ตัวเลขก่อน', okSum: (v, i, n, c) => `ถูกต้อง: ${v} + ${i} + ${n} = ${c}`,
    badSum: (v, i, n, s, c) => `ผลรวมไม่ตรง: คะแนนรวม ${v} + บัตรเสีย ${i} + ไม่เลือกผู้ใด ${n} = ${s} แต่บัตรที่ใช้ ${c} (${s > c ? 'เกิน ' + (s - c) : 'ขาด ' + (c - s)})`,
    overSum: (v, i, n, s, c) => `นับได้เกินบัตรที่ใช้: ${v} + ${i} + ${n} = ${s} มากกว่า ${c}`,
    overEl: (c, e) => `บัตรที่ใช้ ${c} มากกว่าผู้มีสิทธิ ${e} ของหน่วยนี้`,
    noCast: 'กรอก “บัตรที่ใช้ทั้งหมด”', noStage: 'เลือก ระหว่างนับ หรือ ผลสุดท้าย',
    saved: 'บันทึกในเครื่องแล้ว จะส่งเองเมื่อมีสัญญาณ',
    outbox: 'รายงานของฉัน', none: 'ยังไม่มีรายงาน',
    st: { queued: 'รอส่ง', sending: 'กำลังส่ง', sent: 'ส่งแล้ว', accepted: 'รับแล้ว', refused: 'ถูกปฏิเสธ' },
    photosLeft: (n) => `รูปรอส่ง ${n}`, retryIn: (s) => `ลองใหม่ใน ${s} วิ`,
    inLog: 'อยู่ในบันทึกสาธารณะแล้ว (ตรวจสอบได้)',
    kinds: { submission: 'ผลคะแนน', incident: 'เหตุด่วน', checkin: 'เช็กอิน', claim: 'จองหน่วย' },
    cats: { count_stopped: 'หยุดนับคะแนน', observers_expelled: 'ไล่ผู้สังเกตการณ์ออก', ballots_damaged: 'บัตร/หีบบัตรเสียหาย', violence: 'ความรุนแรง', other: 'อื่น ๆ' },
    incWhen: 'เกิดเมื่อ', incText: 'เกิดอะไรขึ้น (สั้น ๆ)', incCat: 'เลือกประเภทเหตุ',
    claimTitle: 'จองหน่วยเลือกตั้งในเขตของท่าน', claimBtn: 'จองหน่วยนี้', unclaimBtn: 'ยกเลิกการจอง',
    claimCount: (n, c) => `มีผู้จองแล้ว ${n}/${c} คน`, full: 'เต็มแล้ว', yours: 'หน่วยของท่าน',
    reasons: {
      TOKEN_EXPIRED: 'ลิงก์หมดอายุ กรุณาติดต่อองค์กรของท่านเพื่อขอลิงก์ใหม่',
      TOKEN_REVOKED: 'ลิงก์ถูกยกเลิก กรุณาติดต่อองค์กรของท่าน',
      UNAUTHENTICATED: 'ลิงก์ไม่ถูกต้อง กรุณาติดต่อองค์กรของท่าน',
      DEVICE_PROOF: 'ลิงก์นี้ใช้อยู่บนโทรศัพท์เครื่องอื่น กรุณาติดต่อองค์กรของท่าน',
      NOT_ACTIVATED: 'ยังไม่ได้เปิดลิงก์บนเครื่องนี้',
      OUT_OF_SCOPE: 'หน่วยนี้ไม่ใช่หน่วยของท่าน กรุณาติดต่อผู้ประสานงาน',
      UNKNOWN_STATION: 'ไม่พบหน่วยเลือกตั้งนี้',
      NOT_ON_BALLOT: 'มีหมายเลขที่ไม่อยู่ในบัตรนี้ (สลับหมายเลขผู้สมัครกับหมายเลขพรรคหรือไม่)',
      ABOVE_ELIGIBLE: 'ตัวเลขมากกว่าผู้มีสิทธิของหน่วย',
      COUNTED_AT_FUTURE: 'เวลาในโทรศัพท์ไม่ตรง กรุณาตั้งเวลาให้ถูก',
      ID_CONFLICT: 'รายงานนี้ถูกส่งไปแล้วด้วยตัวเลขอื่น',
      STATION_FULL: 'หน่วยนี้มีผู้จองครบแล้ว',
      FORBIDDEN_ROLE: 'บทบาทของท่านทำรายการนี้ไม่ได้',
      '': 'ระบบไม่รับรายงานนี้',
    },
  },
  en: {
    title: 'Count report', online: 'Online', offline: 'Offline', other: 'ภาษาไทย',
    opening: 'Opening…', needLink: 'Open the personal link (or QR code) your organisation sent you to start.',
    needSignal: 'The first opening needs a signal: waiting for one to activate the link…',
    linkUsedH: 'This link is already in use on another phone',
    linkUsed: 'A personal link works on one phone only. Ask your organisation for a new link.',
    tokenBadH: 'This link no longer works', tokenBad: 'The link has expired or was revoked. Ask your organisation for a new one. Reports not yet sent stay on this phone and go out when you open the new link.',
    stations: 'Your polling stations', station: 'Station', district: 'Constituency', sub: '', eligible: 'eligible',
    report: 'Report the count', checkin: 'Check in: I have arrived', checkedIn: 'Checked in ✓', incident: 'Report an incident',
    reportC: 'Constituency ballot', reportCsub: 'candidate numbers', reportP: 'Party-list ballot', reportPsub: 'party numbers',
    notYet: 'not reported yet', lastSent: (stage, state, time) => `${stage} · ${state} · ${time}`,
    offlineBar: 'No signal: fill in and save as usual. Reports stay on this phone and go out by themselves when there is a signal.',
    flashC: 'Constituency ballot saved. Do not forget the party-list ballot.', flashP: 'Party-list ballot saved. Do not forget the constituency ballot.', flashDone: 'Saved',
    wholeOnly: 'Whole numbers only',
    claims: 'Claim a station (before election day)', back: '‹ Back',
    ballotC: 'Constituency ballot', ballotP: 'Party-list ballot',
    headC: 'Constituency ballot · use the CANDIDATE number',
    headP: 'Party-list ballot · use the PARTY number',
    noteC: 'Candidate numbers of this constituency are not party numbers: check the name first.',
    noteP: 'National party numbers are not candidate numbers: check the party name first.',
    candNo: 'cand.', partyNo: 'party', partyOf: 'party: ',
    progress: 'During the count (board)', final: 'Final (form 5/18)',
    cast: 'Ballots cast', invalid: 'Invalid', novote: 'No vote', votesSum: 'Votes',
    photoBoard: 'Photo of the tally board', photoForm: 'Photo of form 5/18', photoInc: 'Photo',
    send: 'Save and send',
    fixFirst: 'Not sent yet: fix the figures first', okSum: (v, i, n, c) => `Adds up: ${v} + ${i} + ${n} = ${c}`,
    badSum: (v, i, n, s, c) => `Does not add up: votes ${v} + invalid ${i} + no vote ${n} = ${s}, but ballots cast is ${c} (${s > c ? (s - c) + ' too many' : (c - s) + ' missing'})`,
    overSum: (v, i, n, s, c) => `More counted than cast: ${v} + ${i} + ${n} = ${s} > ${c}`,
    overEl: (c, e) => `Ballots cast ${c} is above the station's ${e} eligible voters`,
    noCast: 'Fill in “Ballots cast”', noStage: 'Choose during the count or final',
    saved: 'Saved on this phone; it is sent by itself when there is a signal',
    outbox: 'My reports', none: 'No reports yet',
    st: { queued: 'queued', sending: 'sending', sent: 'sent', accepted: 'accepted', refused: 'refused' },
    photosLeft: (n) => `${n} photo(s) to send`, retryIn: (s) => `retry in ${s} s`,
    inLog: 'in the public log (verifiable)',
    kinds: { submission: 'Count', incident: 'Incident', checkin: 'Check-in', claim: 'Claim' },
    cats: { count_stopped: 'Count stopped', observers_expelled: 'Observers expelled', ballots_damaged: 'Ballots damaged', violence: 'Violence', other: 'Other' },
    incWhen: 'When', incText: 'What happened (short)', incCat: 'Choose what happened',
    claimTitle: 'Claim a station in your constituency', claimBtn: 'Claim this station', unclaimBtn: 'Withdraw my claim',
    claimCount: (n, c) => `${n}/${c} volunteers claimed it`, full: 'full', yours: 'your station',
    reasons: {
      TOKEN_EXPIRED: 'The link has expired: ask your organisation for a new one',
      TOKEN_REVOKED: 'The link was revoked: ask your organisation',
      UNAUTHENTICATED: 'The link is not valid: ask your organisation',
      DEVICE_PROOF: 'The link is in use on another phone: ask your organisation',
      NOT_ACTIVATED: 'The link was not opened on this phone',
      OUT_OF_SCOPE: 'Not your station: ask your coordinator',
      UNKNOWN_STATION: 'Unknown station',
      NOT_ON_BALLOT: 'A number that is not on this ballot (candidate and party numbers swapped?)',
      ABOVE_ELIGIBLE: 'A figure above the station\'s eligible voters',
      COUNTED_AT_FUTURE: 'The phone\'s clock is wrong: set it right',
      ID_CONFLICT: 'This report was already sent with other figures',
      STATION_FULL: 'This station already has enough volunteers',
      FORBIDDEN_ROLE: 'Your role cannot do this',
      '': 'Refused',
    },
  },
};
const AUTH_CODES = ['TOKEN_EXPIRED', 'TOKEN_REVOKED', 'UNAUTHENTICATED', 'DEVICE_PROOF', 'NOT_ACTIVATED'];
let lang = 'th';
const t = () => T[lang];
const $ = (sel, root = document) => root.querySelector(sel);
const h = (tag, attrs = {}, ...kids) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat()) if (kid != null && kid !== false) el.append(kid.nodeType ? kid : String(kid));
  return el;
};

// ---- IndexedDB: "meta" (token, device key, cached /v1/me, settings), "outbox" (reports).
let dbp;
function db() {
  if (!dbp) dbp = new Promise((res, rej) => {
    const r = indexedDB.open('votestream', 1);
    r.onupgradeneeded = () => {
      r.result.createObjectStore('meta');
      r.result.createObjectStore('outbox', { keyPath: 'id' });
    };
    r.onsuccess = () => res(r.result);
    r.onerror = () => rej(r.error);
  });
  return dbp;
}
async function tx(store, mode, fn) {
  const d = await db();
  return new Promise((res, rej) => {
    const x = d.transaction(store, mode);
    const s = x.objectStore(store);
    let out;
    const r = fn(s);
    if (r) r.onsuccess = () => { out = r.result; };
    x.oncomplete = () => res(out);
    x.onerror = () => rej(x.error);
    x.onabort = () => rej(x.error);
  });
}
const getMeta = (k) => tx('meta', 'readonly', (s) => s.get(k));
const setMeta = (k, v) => tx('meta', 'readwrite', (s) => s.put(v, k));
const putItem = (it) => tx('outbox', 'readwrite', (s) => s.put(it));
const allItems = () => tx('outbox', 'readonly', (s) => s.getAll());

// ---- Identity: the token and the device key it is bound to.
const st = { token: null, keys: null, bind: true, me: null, offset: 0, view: 'home', sel: null };
const b64u = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const uuid = () => (crypto.randomUUID ? crypto.randomUUID() : ([1e7] + -1e3 + -4e3 + -8e3 + -1e11).replace(/[018]/g, (c) => (c ^ crypto.getRandomValues(new Uint8Array(1))[0] & 15 >> c / 4).toString(16)));
const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');

async function proof(method, path) {
  const ms = String(Date.now() + st.offset);
  const data = new TextEncoder().encode(`vsp1\n${ms}\n${method}\n${path}`);
  const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, st.keys.privateKey, data);
  return `${ms}.${b64u(sig)}`;
}

// api sends one request and returns {status, body, retryAfter}; a network failure throws.
async function api(method, path, body, type) {
  const headers = { Authorization: 'Bearer ' + st.token };
  if (st.bind && st.keys) headers['X-Device-Proof'] = await proof(method, path);
  if (body !== undefined && !type) { headers['Content-Type'] = 'application/json'; body = JSON.stringify(body); }
  if (type) headers['Content-Type'] = type;
  const res = await fetch(path, { method, headers, body, cache: 'no-store', credentials: 'omit' });
  const date = Date.parse(res.headers.get('Date') || '');
  if (!isNaN(date)) st.offset = Math.round(date - Date.now());
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  return { status: res.status, body: data, retryAfter: Number(res.headers.get('Retry-After')) || 0 };
}

async function start() {
  lang = (await getMeta('lang')) || 'th';
  $('#lang').onclick = async () => { lang = lang === 'th' ? 'en' : 'th'; await setMeta('lang', lang); render(); };
  window.addEventListener('online', () => { paintNet(); wake(); });
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') wake(); });
  window.addEventListener('offline', paintNet);
  paintNet();
  const m = /[#&]t=([A-Za-z0-9._-]+)/.exec(location.hash);
  st.token = (await getMeta('token')) || null;
  st.keys = (await getMeta('keys')) || null;
  st.bind = (await getMeta('bind')) !== false;
  st.me = (await getMeta('me')) || null;
  if (m) {
    history.replaceState(null, '', location.pathname); // the token leaves the address bar
    if (m[1] !== st.token) await setMeta('pending', m[1]);
  }
  if ('serviceWorker' in navigator && window.isSecureContext) navigator.serviceWorker.register('/sw.js').catch(() => {});
  await activate();
  render();
  wake(); // a reload is a volunteer at the phone: what waited for a signal goes now
  if (navigator.onLine && st.token && !st.blocked) refreshMe().then(() => { if (st.view === 'home') render(); });
}

// activate binds a newly opened link to this phone; until it succeeds the link waits here.
async function activate() {
  const pending = await getMeta('pending');
  if (!pending) return;
  if (!navigator.onLine) { st.blocked = 'signal'; return; }
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const raw = await crypto.subtle.exportKey('raw', keys.publicKey);
  const prev = { token: st.token, keys: st.keys, bind: st.bind };
  st.token = pending; st.keys = keys; st.bind = true;
  let r;
  try {
    r = await api('POST', '/v1/activate', { event_id: uuid(), device_key: b64u(raw) });
  } catch (e) {
    Object.assign(st, prev); st.blocked = 'signal'; setTimeout(() => activate().then(render), 5000); return;
  }
  const code = r.body && r.body.error && r.body.error.code;
  if (r.status === 200 || r.status === 201 || code === 'INVALID_VALUE') {
    st.bind = code !== 'INVALID_VALUE'; // an app token needs no binding
    await setMeta('token', pending); await setMeta('keys', keys); await setMeta('bind', st.bind);
    await tx('meta', 'readwrite', (s) => s.delete('pending'));
    st.blocked = null;
    // Reports held back by the old link's trouble go out under the new one, same ids.
    for (const it of await allItems()) if (it.state === 'refused' && AUTH_CODES.includes(it.code)) { it.state = 'queued'; it.nextAt = 0; await putItem(it); }
    await refreshMe();
    return;
  }
  Object.assign(st, prev);
  if (r.status >= 500 || r.status === 429) { st.blocked = 'signal'; setTimeout(() => activate().then(render), Math.max(r.retryAfter, 2) * 1000); return; }
  await tx('meta', 'readwrite', (s) => s.delete('pending'));
  st.blocked = code === 'LINK_USED' ? 'used' : 'token';
}

async function refreshMe() {
  if (!st.token) return;
  try {
    const r = await api('GET', '/v1/me');
    if (r.status === 200) { st.me = r.body; await setMeta('me', r.body); }
    else if (r.status === 401 || r.status === 403) { st.blocked = r.body.error.code === 'DEVICE_PROOF' ? 'used' : 'token'; }
  } catch (e) { /* offline: the cached copy serves */ }
}

// ---- Outbox.
let timer = null;
let busy = false;
const CAP = 5 * 60 * 1000; // server trouble: back off up to 5 minutes
const NET_CAP = 30 * 1000; // no network: try every 30 s at most (and at once when 'online' fires)
async function enqueue(kind, body, photos) {
  const id = kind === 'submission' ? body.submission_id : kind === 'incident' ? body.incident_id : body.event_id;
  const item = { id, kind, body, photos: photos || [], state: 'queued', attempts: 0, nextAt: 0, created: Date.now() };
  await putItem(item); // stored before any network use
  kick();
  return item;
}
function kick() { clearTimeout(timer); timer = setTimeout(flush, 0); }
// wake sends at once what waited for a signal: a report that failed for want of a network
// does not sit out its back-off once the phone is back online.
async function wake() {
  for (const it of await allItems()) if (it.netFail && it.nextAt > Date.now()) { it.nextAt = 0; await putItem(it); }
  kick();
}

const endpoint = { submission: '/v1/submissions', incident: '/v1/incidents', checkin: '/v1/checkins', claim: '/v1/claims' };
async function flush() {
  if (busy) return;
  busy = true;
  let next = Infinity;
  try {
    const items = (await allItems()).sort((a, b) => a.created - b.created);
    for (const it of items) {
      const photosLeft = it.photos.some((p) => !p.done);
      if (it.state === 'accepted' && !photosLeft) { const n = await keepProof(it); if (n) next = Math.min(next, n); continue; }
      if (it.state === 'refused') continue;
      if (it.nextAt > Date.now()) { next = Math.min(next, it.nextAt); continue; }
      if (!st.token || st.blocked) break;
      await sendOne(it);
      if (it.nextAt > Date.now()) next = Math.min(next, it.nextAt);
      if (it.state === 'accepted' && it.receipt && it.receipt.proof_url) next = Math.min(next, Date.now() + 2000);
    }
  } finally { busy = false; }
  if (st.view === 'home') paintOutbox();
  if (next < Infinity) timer = setTimeout(flush, Math.max(next - Date.now(), 200));
}

function backoff(it, retryAfter, net) {
  it.attempts += 1;
  it.netFail = !!net;
  const exp = Math.min(net ? NET_CAP : CAP, 2000 * 2 ** Math.min(it.attempts - 1, 10));
  const wait = Math.max(retryAfter * 1000, exp * (0.5 + Math.random() / 2));
  it.nextAt = Date.now() + wait;
}

async function sendOne(it) {
  try {
    if (it.state !== 'accepted') {
      it.state = 'sending'; await putItem(it); paintOutbox();
      const r = await api('POST', endpoint[it.kind], it.body);
      it.state = 'sent';
      if (r.status >= 200 && r.status < 300) {
        it.state = 'accepted'; it.receipt = r.body; it.attempts = 0; it.nextAt = 0; it.netFail = false;
      } else if (r.status >= 500 || r.status === 429 || r.status === 408 || r.body == null) {
        it.state = 'queued'; // not taken: the same report goes again, same id
        backoff(it, r.retryAfter);
      } else {
        const code = (r.body.error && r.body.error.code) || '';
        it.state = 'refused'; it.code = code; it.reason = (r.body.error && r.body.error.message) || '';
        if (AUTH_CODES.includes(code)) st.blocked = code === 'DEVICE_PROOF' ? 'used' : 'token';
      }
      await putItem(it);
      if (it.state !== 'accepted') return;
    }
    // The figures went first; the photos follow (ingest takes a report that cites a photo
    // not yet uploaded).
    for (const p of it.photos) {
      if (p.done) continue;
      const r = await api('PUT', '/v1/evidence/' + p.hash, p.blob, 'image/jpeg');
      if (r.status === 200 || r.status === 201) { p.done = true; await putItem(it); continue; }
      if (r.status >= 500 || r.status === 429) { backoff(it, r.retryAfter); await putItem(it); return; }
      p.done = true; p.failed = (r.body && r.body.error && r.body.error.code) || String(r.status); await putItem(it);
    }
  } catch (e) { // no network: stay queued, try again later
    if (it.state === 'sending' || it.state === 'sent') it.state = 'queued';
    backoff(it, 0, true);
    await putItem(it);
  }
}

// keepProof fetches, once the log has appended it, the inclusion proof of an accepted
// report and keeps it with the report: the volunteer holds evidence that their count is in
// the public log that does not depend on our servers staying honest. The log appends
// within seconds, so a 404 is tried again with a growing wait, a dozen times at most.
// Returns when to look again (0: nothing left to do).
const PROOF_TRIES = 12;
async function keepProof(it) {
  const url = it.receipt && it.receipt.proof_url;
  if (!url || it.proof || (it.proofTries || 0) >= PROOF_TRIES) return 0;
  if ((it.proofNext || 0) > Date.now()) return it.proofNext;
  let ok = false;
  try {
    const r = await fetch(url, { mode: 'cors', credentials: 'omit', cache: 'no-store' });
    if (r.ok) { it.proof = await r.json(); it.proofAt = Date.now(); ok = true; }
  } catch (e) { /* no network or the log is away: try later */ }
  if (!ok) {
    it.proofTries = (it.proofTries || 0) + 1;
    it.proofNext = Date.now() + Math.min(60000, 2000 * 2 ** Math.min(it.proofTries - 1, 6));
  }
  await putItem(it);
  return ok || it.proofTries >= PROOF_TRIES ? 0 : it.proofNext;
}

// ---- Photos: resized on the phone, hashed with WebCrypto, cited by hash.
const MAX_SIDE = 1600;
async function preparePhoto(file) {
  let src;
  try { src = await createImageBitmap(file); } catch (e) {
    src = await new Promise((res, rej) => { const im = new Image(); im.onload = () => res(im); im.onerror = rej; im.src = URL.createObjectURL(file); });
  }
  const w = src.width, hgt = src.height, k = Math.min(1, MAX_SIDE / Math.max(w, hgt));
  const c = document.createElement('canvas');
  c.width = Math.round(w * k); c.height = Math.round(hgt * k);
  c.getContext('2d').drawImage(src, 0, 0, c.width, c.height);
  const blob = await new Promise((res) => c.toBlob(res, 'image/jpeg', 0.8));
  const buf = await new Response(blob).arrayBuffer();
  const hash = 'sha256:' + hex(await crypto.subtle.digest('SHA-256', buf));
  return { hash, blob, done: false, w: c.width, h: c.height, bytes: blob.size };
}

// ---- Views.
function paintNet() {
  const n = $('#net');
  n.textContent = navigator.onLine ? t().online : t().offline;
  n.className = 'pill ' + (navigator.onLine ? 'on' : 'off');
  const bar = $('#offline-bar');
  bar.textContent = t().offlineBar;
  bar.hidden = navigator.onLine;
}
function render() {
  document.documentElement.lang = lang;
  document.title = t().title;
  $('#lang').textContent = t().other;
  paintNet();
  const me = st.me;
  $('#who').textContent = me ? `${me.volunteer_id}` : t().title;
  const app = $('#app');
  app.replaceChildren();
  if (st.blocked === 'used' || st.blocked === 'token') {
    app.append(h('div', { class: 'stop', id: 'blocked', 'data-code': st.blocked },
      h('h1', { text: st.blocked === 'used' ? t().linkUsedH : t().tokenBadH }),
      h('p', { class: 'big', text: st.blocked === 'used' ? t().linkUsed : t().tokenBad })));
    if (me) { app.append(outboxView()); paintOutbox(); }
    return;
  }
  if (!me) {
    app.append(h('p', { class: 'big', id: 'nolink', text: st.blocked === 'signal' ? t().needSignal : t().needLink }));
    return;
  }
  const v = { home: homeView, ballot: ballotView, incident: incidentView, claims: claimsView }[st.view] || homeView;
  app.append(v());
  paintOutbox();
  window.scrollTo(0, 0);
}
function go(view, sel) { st.view = view; st.sel = sel; render(); }
const backBtn = () => h('button', { class: 'secondary', type: 'button', onclick: () => go('home') }, t().back);
const stationOf = (id) => st.me.stations.find((s) => s.id === id);
const conOf = (s) => st.me.constituencies[s.constituency_id] || { candidates: [], province: '', number: '' };
const stationLine = (s) => { const c = conOf(s); return `${t().station} ${s.number} · ${t().sub}${s.subdistrict} · ${c.province} ${t().district} ${c.number}`; };

function homeView() {
  const me = st.me;
  const box = h('div', {});
  if (st.flash) { box.append(h('div', { class: 'flash', id: 'flash', role: 'status', text: st.flash })); st.flash = null; }
  box.append(h('h1', { text: t().stations }));
  for (const s of me.stations) {
    const ballotBtn = (ballot) => {
      const isC = ballot === 'constituency';
      return h('button', { type: 'button', class: 'ballot-btn ' + (isC ? 'c go-report-c' : 'p go-report-p'), onclick: () => go('ballot', { station: s.id, ballot }) },
        h('span', { class: 'b-title', text: isC ? t().reportC : t().reportP }),
        h('span', { class: 'b-sub', text: isC ? t().reportCsub : t().reportPsub }),
        h('span', { class: 'b-status', 'data-status': s.id + ':' + ballot, text: t().notYet }));
    };
    box.append(h('section', { class: 'card', 'data-station': s.id },
      h('h2', { text: `${t().station} ${s.number}` }),
      h('p', { text: `${t().sub}${s.subdistrict} · ${conOf(s).province} ${t().district} ${conOf(s).number}` }),
      h('p', { class: 'muted', text: `${s.id} · ${t().eligible} ${s.eligible}` }),
      h('p', { class: 'label', text: t().report }),
      ballotBtn('constituency'), ballotBtn('partylist'),
      h('button', { type: 'button', class: 'secondary go-checkin', disabled: !!s.checked_in_at, onclick: () => checkin(s) }, s.checked_in_at ? t().checkedIn : t().checkin),
      h('button', { type: 'button', class: 'danger go-incident', onclick: () => go('incident', { station: s.id }) }, t().incident)));
  }
  if (me.role === 'station') box.append(h('button', { type: 'button', class: 'secondary go-claims', onclick: () => go('claims') }, t().claims));
  box.append(outboxView());
  return box;
}

// paintStatus writes, under each ballot's button, the newest report of it and its state.
function paintStatus(items) {
  for (const el of document.querySelectorAll('[data-status]')) {
    const [station, ballot] = el.dataset.status.split(':');
    // The newest final report, else the newest one: a final count outranks the tally board.
    const mine = items.filter((it) => it.kind === 'submission' && it.body.station_id === station && it.body.ballot === ballot);
    const last = mine.find((it) => it.body.stage === 'final') || mine[0];
    el.textContent = last ? t().lastSent(t()[last.body.stage], t().st[last.state], clock(last.created)) : t().notYet;
    el.dataset.state = last ? last.state : 'none';
  }
}
const clock = (ms) => new Date(ms).toLocaleTimeString(lang === 'th' ? 'th-TH' : 'en-GB', { hour: '2-digit', minute: '2-digit', timeZone: 'Asia/Bangkok' });

async function checkin(s) {
  await enqueue('checkin', { event_id: uuid(), station_id: s.id });
  s.checked_in_at = new Date().toISOString();
  await setMeta('me', st.me);
  render();
}

function outboxView() { return h('section', { class: 'outbox', id: 'outbox' }, h('h2', { text: t().outbox }), h('div', { id: 'outbox-items' })); }
async function paintOutbox() {
  const el = $('#outbox-items');
  if (!el) return;
  const items = (await allItems()).sort((a, b) => b.created - a.created);
  paintStatus(items);
  if (!items.length) { el.replaceChildren(h('p', { class: 'muted', text: t().none })); return; }
  el.replaceChildren(...items.map((it) => {
    const b = it.body;
    const stn = st.me && stationOf(b.station_id);
    const where = stn ? `${t().station} ${stn.number}` : b.station_id;
    const what = it.kind === 'submission'
      ? `${where} · ${b.ballot === 'constituency' ? t().ballotC : t().ballotP} · ${t()[b.stage]}`
      : `${t().kinds[it.kind]} · ${where}${it.kind === 'incident' ? ' · ' + t().cats[b.category] : ''}`;
    const left = it.photos.filter((p) => !p.done).length;
    const reason = it.state === 'refused' ? (t().reasons[it.code] || t().reasons['']) : '';
    const wait = it.state === 'queued' && it.nextAt > Date.now() ? t().retryIn(Math.ceil((it.nextAt - Date.now()) / 1000)) : '';
    return h('div', { class: 'item', 'data-id': it.id, 'data-state': it.state },
      h('div', { class: 'what' }, what,
        h('span', { class: 'muted', text: ' · ' + clock(it.created) }),
        left ? h('span', { class: 'muted', text: ' · ' + t().photosLeft(left) }) : null,
        wait ? h('span', { class: 'muted', text: ' · ' + wait }) : null,
        reason ? h('span', { class: 'reason', text: reason }) : null,
        it.proof ? h('a', { class: 'inlog', href: it.receipt.proof_url, target: '_blank', rel: 'noopener', text: '✓ ' + t().inLog }) : null),
      h('span', { class: 'state ' + it.state, text: t().st[it.state] }));
  }));
}

// The ballot form: one ballot at a time, each with its own numbering, drafts kept on input.
function ballotView() {
  const s = stationOf(st.sel.station);
  const ballot = st.sel.ballot;
  const isC = ballot === 'constituency';
  const con = conOf(s);
  const draftKey = `draft:${s.id}:${ballot}`;
  const draft = JSON.parse(localStorage.getItem(draftKey) || '{}');
  const photos = [];
  const box = h('form', { id: 'ballot-form', 'data-ballot': ballot, novalidate: true });
  box.append(backBtn(), h('h1', { text: `${t().station} ${s.number} · ${t().sub}${s.subdistrict}` }), h('p', { class: 'muted', text: `${con.province} ${t().district} ${con.number} · ${s.id} · ${t().eligible} ${s.eligible}` }));
  box.append(h('div', { class: 'tabs', role: 'tablist' },
    h('button', { type: 'button', role: 'tab', class: 'c', id: 'tab-c', 'aria-selected': String(isC), onclick: () => go('ballot', { station: s.id, ballot: 'constituency' }) }, t().ballotC),
    h('button', { type: 'button', role: 'tab', class: 'p', id: 'tab-p', 'aria-selected': String(!isC), onclick: () => go('ballot', { station: s.id, ballot: 'partylist' }) }, t().ballotP)));
  const stage = h('div', { class: 'stage' },
    ...['progress', 'final'].map((v) => h('label', {}, h('input', { type: 'radio', name: 'stage', value: v, checked: draft.stage === v }), t()[v])));
  const num = (name, val) => h('input', { type: 'number', inputmode: 'numeric', pattern: '[0-9]*', min: '0', max: '1000000', step: '1', name, value: val == null ? '' : val, autocomplete: 'off', enterkeyhint: 'next' });
  const rows = isC
    ? con.candidates.map((c) => ({ no: c.no, name: c.name, sub: /^พรรค/.test(c.party || '') ? c.party : `${t().partyOf}${c.party || ''}` }))
    : st.me.parties.map((p) => ({ no: p.no, name: lang === 'th' ? p.name_th : (p.name_en || p.name_th), sub: lang === 'th' ? p.name_en : p.name_th }));
  const list = h('div', { class: 'body' }, h('p', { class: 'warn', text: isC ? t().noteC : t().noteP }),
    ...rows.map((r) => h('label', { class: 'choice' },
      h('span', { class: 'num' }, h('small', { text: isC ? t().candNo : t().partyNo }), String(r.no)),
      h('span', { class: 'name' }, r.name, h('small', { text: r.sub || '' })),
      num('v' + r.no, draft['v' + r.no]))));
  box.append(stage, h('section', { class: 'ballot ' + (isC ? 'c' : 'p') }, h('div', { class: 'head', text: isC ? t().headC : t().headP }), list));
  const totals = h('div', { class: 'card' },
    ...[['cast', 'ballots_cast'], ['invalid', 'invalid'], ['novote', 'no_vote']].map(([k, n]) => h('label', { class: 'total' }, h('span', { text: t()[k] }), num(n, draft[n]))));
  const check = h('div', { class: 'check', id: 'check', role: 'alert' });
  const thumbs = h('div', { class: 'photos', id: 'photos' });
  const photoInput = (label, id) => h('label', { class: 'file' }, label, h('input', {
    type: 'file', accept: 'image/*', capture: 'environment', id,
    onchange: async (e) => {
      for (const f of e.target.files) {
        const p = await preparePhoto(f);
        if (photos.some((q) => q.hash === p.hash)) continue;
        photos.push(p);
        thumbs.append(h('figure', { 'data-hash': p.hash }, h('img', { src: URL.createObjectURL(p.blob), alt: label }), h('figcaption', { text: label })));
      }
      e.target.value = '';
    },
  }));
  const send = h('button', { type: 'submit', id: 'send', class: 'send ' + (isC ? 'c' : 'p') }, `${t().send} · ${isC ? t().ballotC : t().ballotP}`);
  box.append(totals, check, photoInput(t().photoBoard, 'photo-board'), photoInput(t().photoForm, 'photo-form'), thumbs, send);

  const read = () => {
    const val = (n) => { const el = box.elements[n]; return el && el.value !== '' ? Number(el.value) : null; };
    const votes = {};
    let sum = 0;
    for (const r of rows) { const v = val('v' + r.no); if (v) { votes[String(r.no)] = v; sum += v; } }
    const stg = (box.querySelector('input[name=stage]:checked') || {}).value;
    return { stage: stg, votes, sum, cast: val('ballots_cast'), invalid: val('invalid') || 0, novote: val('no_vote') || 0 };
  };
  const problems = (f) => {
    const out = [];
    if (!f.stage) out.push(t().noStage);
    if (f.cast == null) { out.push(t().noCast); return out; }
    const all = f.sum + f.invalid + f.novote;
    if (f.stage === 'final' && all !== f.cast) out.push(t().badSum(f.sum, f.invalid, f.novote, all, f.cast));
    if (f.stage !== 'final' && all > f.cast) out.push(t().overSum(f.sum, f.invalid, f.novote, all, f.cast));
    if (f.cast > s.eligible) out.push(t().overEl(f.cast, s.eligible));
    return out;
  };
  const bad = (n) => { const el = box.elements[n]; return el && el.value !== '' && !/^\d{1,7}$/.test(el.value); };
  const update = () => {
    const f = read();
    const d = {};
    for (const el of box.querySelectorAll('input[type=number]')) if (el.value !== '') d[el.name] = el.value;
    d.stage = f.stage;
    localStorage.setItem(draftKey, JSON.stringify(d));
    const p = problems(f);
    const junk = [...box.querySelectorAll('input[type=number]')].some((el) => bad(el.name) || (el.validity && el.validity.badInput));
    if (junk) p.unshift(t().wholeOnly);
    check.className = 'check ' + (p.length ? 'bad' : 'ok');
    check.replaceChildren(...(p.length ? [t().fixFirst, ...p] : [t().okSum(f.sum, f.invalid, f.novote, f.cast)]).map((m, i) => h('div', { class: p.length && i === 0 ? 'check-head' : null, text: m })));
    check.dataset.ok = String(!p.length);
    return p.length === 0;
  };
  box.addEventListener('input', update);
  box.addEventListener('change', update);
  box.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!update()) { check.scrollIntoView({ block: 'center' }); return; }
    const f = read();
    const body = {
      submission_id: uuid(), station_id: s.id, ballot, stage: f.stage, counted_at: isoNow(),
      ballots_cast: f.cast, invalid: f.invalid, no_vote: f.novote, votes: f.votes,
    };
    if (photos.length) body.evidence = photos.map((p) => p.hash);
    send.disabled = true;
    await enqueue('submission', body, photos);
    localStorage.removeItem(draftKey);
    const other = (await allItems()).some((it) => it.kind === 'submission' && it.body.station_id === s.id && it.body.ballot !== ballot);
    st.flash = (other ? t().flashDone : (isC ? t().flashC : t().flashP)) + (navigator.onLine ? '' : ' · ' + t().saved);
    go('home');
  });
  setTimeout(update, 0);
  return box;
}

// isoNow is the phone's time corrected by ingest's, with the Bangkok offset as written.
function isoNow(ms) {
  const d = new Date((ms || Date.now()) + st.offset);
  const off = -d.getTimezoneOffset();
  const pad = (n) => String(Math.abs(n)).padStart(2, '0');
  const l = new Date(d.getTime() + off * 60000).toISOString().slice(0, 19);
  return `${l}${off >= 0 ? '+' : '-'}${pad(Math.trunc(off / 60))}:${pad(off % 60)}`;
}

function incidentView() {
  const s = stationOf(st.sel.station);
  const photos = [];
  const box = h('form', { id: 'incident-form', novalidate: true });
  const cats = h('div', { class: 'cat' }, ...Object.keys(t().cats).map((c) => h('label', {}, h('input', { type: 'radio', name: 'category', value: c, onchange: () => { msg.hidden = true; } }), t().cats[c])));
  const when = h('input', { type: 'datetime-local', name: 'when', value: isoNow().slice(0, 16) });
  const text = h('textarea', { name: 'text', maxlength: '600' });
  const thumbs = h('div', { class: 'photos' });
  const msg = h('div', { class: 'check', role: 'alert', hidden: true });
  box.append(backBtn(), h('h1', { text: `${t().incident} · ${stationLine(s)}` }), h('h2', { text: t().incCat }), cats,
    h('h2', { text: t().incWhen }), when, h('h2', { text: t().incText }), text,
    h('label', { class: 'file' }, t().photoInc, h('input', {
      type: 'file', accept: 'image/*', capture: 'environment', onchange: async (e) => {
        for (const f of e.target.files) { const p = await preparePhoto(f); photos.push(p); thumbs.append(h('figure', { 'data-hash': p.hash }, h('img', { src: URL.createObjectURL(p.blob), alt: '' }))); }
      },
    })), thumbs, msg, h('button', { type: 'submit', class: 'danger' }, t().send));
  box.addEventListener('submit', async (e) => {
    e.preventDefault();
    const cat = (box.querySelector('input[name=category]:checked') || {}).value;
    if (!cat) { msg.hidden = false; msg.className = 'check bad'; msg.textContent = t().incCat; return; }
    const at = when.value ? isoNow(new Date(when.value).getTime() - st.offset) : isoNow();
    const body = { incident_id: uuid(), station_id: s.id, category: cat, occurred_at: at, text: text.value.slice(0, 600) };
    if (photos.length) body.evidence = photos.map((p) => p.hash);
    await enqueue('incident', body, photos);
    go('home');
  });
  return box;
}

function claimsView() {
  const box = h('div', { id: 'claims' }, backBtn(), h('h1', { text: t().claimTitle }));
  const list = h('div', {});
  box.append(list);
  (async () => {
    let r;
    try { r = await api('GET', '/v1/claims'); } catch (e) { list.append(h('p', { class: 'big', text: t().offline })); return; }
    if (r.status !== 200) { list.append(h('p', { class: 'reason', text: t().reasons[(r.body && r.body.error && r.body.error.code) || ''] || t().reasons[''] })); return; }
    for (const c of r.body.stations) {
      const full = c.claims >= r.body.cap && !c.mine;
      list.append(h('section', { class: 'card', 'data-claim': c.id },
        h('h2', { text: `${t().station} ${c.number} · ${t().sub}${c.subdistrict}` }),
        h('p', { text: t().claimCount(c.claims, r.body.cap) + (c.roster ? ' · ' + t().yours : '') }),
        c.roster ? null : h('button', {
          type: 'button', class: c.mine ? 'secondary' : '', disabled: full,
          onclick: async (e) => {
            e.target.disabled = true;
            const res = await api('POST', '/v1/claims', { event_id: uuid(), station_id: c.id, withdraw: c.mine }).catch(() => null);
            if (res && res.status >= 400) alert(t().reasons[res.body.error.code] || t().reasons['']);
            await refreshMe();
            render();
          },
        }, full ? t().full : c.mine ? t().unclaimBtn : t().claimBtn)));
    }
  })();
  return box;
}

window.addEventListener('load', () => { setInterval(() => { if (st.view === 'home') paintOutbox(); }, 5000); });
document.addEventListener('DOMContentLoaded', () => start().catch((e) => { $('#app').textContent = String(e); }));
window.votestreamOutbox = { all: allItems, flush: kick };
})();
