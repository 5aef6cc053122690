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
// Exposed for tests and for poking around in the console.
window.earshotDemo = { finals: [], partials: 0, suggestions: [], errors: [], state: "idle", micStartedAt: 0 };

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

function renderTranscript() {
  const ol = $("transcript");
  ol.replaceChildren(
    ...client.store.utterances.map((u) => {
      const li = document.createElement("li");
      li.className = u.isFinal ? "final" : "partial";
      li.dataset.utterance = u.utteranceId;
      const who = document.createElement("span");
      who.className = "who " + u.role;
      who.textContent = u.userId;
      const text = document.createElement("span");
      text.className = "text";
      text.textContent = u.text || "…";
      li.append(who, text);
      return li;
    }),
  );
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
    if (r.isFinal) window.earshotDemo.finals.push({ text: r.text, utteranceId: r.utteranceId, at: Date.now(), userId: r.userId });
    else window.earshotDemo.partials++;
    renderTranscript();
  });
  client.on("responses:suggestions", (s) => {
    window.earshotDemo.suggestions.push(s);
    renderSuggestions();
  });
  for (const ev of ["audio:error", "transcription:error", "webrtc:error", "session:error", "error", "connection:error"]) {
    client.on(ev, (e) => window.earshotDemo.errors.push({ event: ev, ...e }));
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
    window.earshotDemo.errors.push({ event: "mic", code: e.code || "MIC", message: e.message });
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
