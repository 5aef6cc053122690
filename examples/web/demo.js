// The demo page: the seed's WebSocketTest, on the earshot browser client.
// URL parameters (all optional): #token=… (kept out of server logs: a fragment is never
// sent), ?session=ID, ?mode=webrtc|chunks, ?autostart=1 (connect, join, start the mic).
import { EarshotClient } from "./client.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const hash = new URLSearchParams(location.hash.slice(1));
const wsURL = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/interview";

if (hash.get("token")) $("token").value = hash.get("token");
if (params.get("session")) $("session").value = params.get("session");
if (params.get("mode")) {
  for (const r of document.querySelectorAll('input[name="mode"]')) r.checked = r.value === params.get("mode");
}

/** @type {EarshotClient|null} */
let client = null;
let joined = "";
const members = new Map();
// Exposed for tests and for poking around in the console. Bounded: finals keeps the
// last MAX_FINALS, suggestions the last MAX_SUGGESTIONS; errors keeps the first
// MAX_ERRORS (readers index it by how many they have seen) and counts the rest in
// errorsDropped.
const MAX_FINALS = 500;
const MAX_SUGGESTIONS = 50;
const MAX_ERRORS = 200;
window.earshotDemo = { finals: [], partials: 0, suggestions: [], errors: [], errorsDropped: 0, state: "idle", micStartedAt: 0 };

/** Append to a list, dropping its oldest entries past max. */
function pushCapped(list, item, max) {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}

function pushError(e) {
  const d = window.earshotDemo;
  if (d.errors.length < MAX_ERRORS) d.errors.push(e);
  else d.errorsDropped++;
}

function log(dir, event, data) {
  const line = `${new Date().toISOString().slice(11, 23)} ${dir} ${event} ${data === undefined ? "" : JSON.stringify(data)}`;
  const el = $("log");
  el.textContent = (line + "\n" + el.textContent).slice(0, 20000);
}

function setState(s) {
  window.earshotDemo.state = s;
  const b = $("state");
  b.textContent = s;
  b.className = "badge " + s;
  const open = s === "open";
  $("join").disabled = !open || !!joined;
  $("leave").disabled = !open || !joined;
  $("mic-start").disabled = !open || !joined || !!(client && client.mic);
  $("mic-stop").disabled = !(client && client.mic);
}

function renderMembers() {
  $("members").textContent = joined
    ? `in ${joined}: ` + [...members.values()].map((u) => `${u.name || u.userId} (${u.role})`).join(", ")
    : "";
}

/** Update the <li> of one utterance (adding it when new), and drop the <li>s of
 * utterances the store no longer keeps. */
function renderUtterance(utteranceId) {
  const ol = $("transcript");
  const u = client.store.get(utteranceId);
  if (!u) return;
  let li = ol.querySelector(`li[data-utterance="${CSS.escape(utteranceId)}"]`);
  if (!li) {
    li = document.createElement("li");
    li.dataset.utterance = u.utteranceId;
    const who = document.createElement("span");
    who.className = "who " + u.role;
    who.textContent = u.userId;
    const text = document.createElement("span");
    text.className = "text";
    li.append(who, text);
    ol.append(li);
    // The store drops its oldest utterances past its cap; they are the first <li>s.
    while (ol.children.length > client.store.utterances.length) ol.firstElementChild.remove();
  }
  li.className = u.isFinal ? "final" : "partial";
  li.querySelector(".text").textContent = u.text || "…";
  ol.scrollTop = ol.scrollHeight;
}

function renderSuggestions() {
  const box = $("suggestions");
  const sets = client.store.suggestions;
  if (!sets.length) return;
  box.replaceChildren(
    ...sets.slice(0, 3).map((s, i) => {
      const div = document.createElement("div");
      div.className = "set" + (i === 0 ? " current" : " old");
      const q = document.createElement("div");
      q.className = "question";
      q.textContent = s.question ? `“${s.question}”` : "";
      const ul = document.createElement("ul");
      for (const sg of s.suggestions) {
        const li = document.createElement("li");
        const kind = document.createElement("span");
        kind.className = "kind";
        kind.textContent = sg.kind.replace(/_/g, " ");
        li.append(kind, document.createTextNode(" " + sg.text));
        ul.append(li);
      }
      div.append(q, ul);
      return div;
    }),
  );
}

async function connect() {
  const token = $("token").value.trim();
  if (!token) {
    log("!", "no token", "paste one first");
    return;
  }
  if (client) client.close();
  $("transcript").replaceChildren(); // the new client's store starts empty
  client = new EarshotClient({ url: wsURL, token });
  client.on("state", setState);
  client.on("*", ({ event, data }) => {
    if (event === "state" || event === "close") return;
    const brief = event === "webrtc:candidate" ? undefined : data;
    log("←", event, brief);
  });
  client.on("close", (c) => log("×", "close", c));
  client.on("session:joined", (j) => {
    members.clear();
    for (const u of j.users) members.set(u.userId, u);
    renderMembers();
  });
  client.on("user:joined", (e) => {
    members.set(e.user.userId, e.user);
    renderMembers();
  });
  client.on("user:left", (e) => {
    members.delete(e.user.userId);
    renderMembers();
  });
  client.on("user:disconnected", (e) => {
    members.delete(e.userId);
    renderMembers();
  });
  client.on("transcription:result", (r) => {
    if (r.isFinal) {
      pushCapped(window.earshotDemo.finals, { text: r.text, utteranceId: r.utteranceId, at: Date.now(), userId: r.userId }, MAX_FINALS);
    } else window.earshotDemo.partials++;
    renderUtterance(r.utteranceId);
  });
  client.on("responses:suggestions", (s) => {
    pushCapped(window.earshotDemo.suggestions, s, MAX_SUGGESTIONS);
    renderSuggestions();
  });
  for (const ev of ["audio:error", "transcription:error", "webrtc:error", "session:error", "error", "connection:error"]) {
    client.on(ev, (e) => pushError({ event: ev, ...e }));
  }
  try {
    const ok = await client.connect();
    $("who").textContent = `signed in as ${ok.userId} (${ok.role})`;
  } catch (e) {
    $("who").textContent = `refused: ${e.code} — ${e.message}`;
  }
}

async function join() {
  const id = $("session").value.trim();
  try {
    const j = await client.joinSession(id, $("pipeline").value.trim() || undefined);
    joined = id;
    log("✓", "joined", { sessionId: id, pipeline: j.pipeline, status: j.status });
  } catch (e) {
    log("!", "join refused", { code: e.code, message: e.message });
  }
  setState(client.state);
  renderMembers();
}

async function leave() {
  if (client.mic) await stopMic();
  await client.leaveSession(joined).catch((e) => log("!", "leave", e.message));
  joined = "";
  members.clear();
  renderMembers();
  setState(client.state);
}

async function startMic() {
  const mode = document.querySelector('input[name="mode"]:checked').value;
  try {
    await client.startMicrophone({ sessionId: joined, mode });
    window.earshotDemo.micStartedAt = Date.now();
    $("mic-state").textContent = `streaming over ${mode === "chunks" ? "MediaRecorder chunks" : "WebRTC"}`;
  } catch (e) {
    pushError({ event: "mic", code: e.code || "MIC", message: e.message });
    $("mic-state").textContent = `microphone failed: ${e.message}`;
  }
  setState(client.state);
}

async function stopMic() {
  $("mic-state").textContent = "draining…";
  await client.stopMicrophone().catch((e) => log("!", "stop", e.message));
  $("mic-state").textContent = "off";
  setState(client.state);
}

$("connect").onclick = connect;
$("join").onclick = join;
$("leave").onclick = leave;
$("mic-start").onclick = startMic;
$("mic-stop").onclick = stopMic;
$("clear-log").onclick = () => ($("log").textContent = "");

if (params.get("autostart") === "1" && $("token").value) {
  (async () => {
    await connect();
    if (client.state !== "open") return;
    await join();
    if (joined) await startMic();
  })();
}
