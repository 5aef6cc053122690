// earshot browser client — no build step: load it as an ES module.
//
//   import { EarshotClient } from "/client.js";
//   const client = new EarshotClient({ url: "ws://localhost:8080/interview", token });
//   client.on("transcription:result", (r) => console.log(r.text));
//   await client.connect();
//   await client.joinSession("interview-42");
//   await client.startMicrophone({ sessionId: "interview-42", mode: "webrtc" });
//
// It speaks the native endpoint (/interview): the token goes in the first frame
// ({"event":"auth"}), never in the URL, unless you ask for it with tokenIn: "query".
// Types: client.d.ts beside this file.

/** Close codes after which reconnecting cannot help. @type {Set<number>} */
const TERMINAL_CLOSE_CODES = new Set([1008, 1009, 4001]);
const TOKEN_EXPIRED = 4002;

/**
 * @typedef {"idle"|"connecting"|"open"|"reconnecting"|"closed"} ConnectionState
 */

export class EarshotError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = "EarshotError";
    this.code = code;
  }
}

/** Utterances a TranscriptStore keeps by default (the most recent ones). */
export const DEFAULT_MAX_UTTERANCES = 500;

/**
 * A small store of the session's transcript and suggestions, ready to render.
 *
 * It keeps only the last maxUtterances utterances (default 500): when a new one
 * arrives past that, the oldest are dropped. `utterances` is replaced, never
 * mutated, on every change (React's useSyncExternalStore compares it by identity),
 * so the cap also bounds the cost of each update.
 */
export class TranscriptStore {
  /** @param {{maxUtterances?: number}} [opts] */
  constructor(opts = {}) {
    const max = opts.maxUtterances;
    this.maxUtterances = Number.isInteger(max) && max > 0 ? max : DEFAULT_MAX_UTTERANCES;
    /** @type {Array<import("./client").Utterance>} */
    this.utterances = [];
    /** @type {Map<string, number>} utteranceId → index */
    this.index = new Map();
    /** @type {Array<import("./client").SuggestionsEvent>} */
    this.suggestions = [];
  }

  /** The stored utterance with this id, if it is still kept. */
  get(utteranceId) {
    const i = this.index.get(utteranceId);
    return i === undefined ? undefined : this.utterances[i];
  }

  /**
   * Apply one transcription:result. Returns true when the store changed (false for a
   * stale revision or anything after the utterance's final).
   * @param {import("./client").TranscriptionResult} r
   */
  applyResult(r) {
    const i = this.index.get(r.utteranceId);
    const u = { ...r };
    if (i === undefined) {
      const drop = Math.max(0, this.utterances.length + 1 - this.maxUtterances);
      const next = this.utterances.slice(drop);
      next.push(u);
      this.utterances = next;
      if (drop > 0) {
        this.index = new Map();
        next.forEach((x, j) => this.index.set(x.utteranceId, j));
      } else {
        this.index.set(r.utteranceId, next.length - 1);
      }
      return true;
    }
    const prev = this.utterances[i];
    if (prev.isFinal || prev.revision > r.revision) return false; // nothing after a final; ignore stale revisions
    const next = this.utterances.slice();
    next[i] = u;
    this.utterances = next;
    return true;
  }

  /** @param {import("./client").SuggestionsEvent} s */
  applySuggestions(s) {
    const id = s.setId || s.utteranceId;
    let list = this.suggestions.filter(
      (x) => (x.setId || x.utteranceId) !== id && (!s.supersedes || (x.setId || x.utteranceId) !== s.supersedes),
    );
    list = [s, ...list].slice(0, 10);
    this.suggestions = list;
  }

  clear() {
    this.utterances = [];
    this.index = new Map();
    this.suggestions = [];
  }
}

export class EarshotClient {
  /**
   * @param {import("./client").ClientOptions} options
   */
  constructor(options) {
    if (!options || !options.url) throw new Error("EarshotClient: options.url is required");
    this.options = {
      tokenIn: "auth",
      requestTimeoutMs: 15000,
      reconnect: true,
      minBackoffMs: 500,
      maxBackoffMs: 15000,
      ...options,
    };
    /** @type {ConnectionState} */
    this.state = "idle";
    /** @type {WebSocket|null} */
    this.ws = null;
    this.nextId = 1;
    /** @type {Map<number, {resolve: Function, reject: Function, timer: any}>} */
    this.pending = new Map();
    /** @type {Map<string, Set<Function>>} */
    this.handlers = new Map();
    /** @type {Set<string>} sessions to re-join after a reconnect */
    this.sessions = new Set();
    this.attempt = 0;
    this.closedByUser = false;
    this.store = new TranscriptStore({ maxUtterances: this.options.maxUtterances });
    /** @type {Set<Function>} */
    this.listeners = new Set();
    this.userId = "";
    this.role = "";
    this.mic = null;
    this.on("transcription:result", (r) => {
      this.store.applyResult(r);
      this.notify();
    });
    this.on("responses:suggestions", (s) => {
      this.store.applySuggestions(s);
      this.notify();
    });
    this.on("webrtc:candidate", (c) => this.mic && this.mic.remoteCandidate(c));
  }

  /** Subscribe to state changes (connection state, transcript, suggestions). Returns an unsubscribe function. */
  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify() {
    for (const l of this.listeners) l();
  }

  /** @param {ConnectionState} s */
  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.emitLocal("state", s);
    this.notify();
  }

  /**
   * Register an event handler. Returns a function that removes it.
   * @param {string} event @param {(data: any) => void} fn
   */
  on(event, fn) {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event).add(fn);
    return () => this.off(event, fn);
  }

  off(event, fn) {
    const set = this.handlers.get(event);
    if (set) set.delete(fn);
  }

  emitLocal(event, data) {
    for (const fn of this.handlers.get(event) || []) {
      try {
        fn(data);
      } catch (e) {
        console.error("earshot handler for", event, "failed:", e);
      }
    }
    for (const fn of this.handlers.get("*") || []) {
      try {
        fn({ event, data });
      } catch (e) {
        console.error("earshot handler for * failed:", e);
      }
    }
  }

  async currentToken() {
    const t = this.options.token;
    return typeof t === "function" ? await t() : t;
  }

  /** Connect and authenticate. Resolves with the connection:success payload. */
  connect() {
    this.closedByUser = false;
    clearTimeout(this.reconnectTimer);
    return this.open();
  }

  async open() {
    const gen = (this.openGen = (this.openGen || 0) + 1);
    this.setState(this.attempt === 0 ? "connecting" : "reconnecting");
    let token;
    try {
      token = await this.currentToken();
    } catch (e) {
      // No socket exists, so no onclose will schedule the next attempt: do it here.
      const err = new EarshotError("TOKEN_UNAVAILABLE", `could not get a token: ${(e && e.message) || e}`);
      if (gen === this.openGen && !this.closedByUser) {
        this.emitLocal("error", { code: err.code, message: err.message });
        this.scheduleReconnect(0);
      }
      throw err;
    }
    // close() (or a newer connect()) while the token was being fetched: open nothing.
    if (this.closedByUser || gen !== this.openGen) {
      throw new EarshotError("CLOSED", "the client was closed while connecting");
    }
    let url = this.options.url;
    if (this.options.tokenIn === "query") {
      url += (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
    }
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.binaryType = "arraybuffer";
      this.ws = ws;
      let authed = false;
      ws.onopen = () => {
        if (this.options.tokenIn !== "query") {
          ws.send(JSON.stringify({ event: "auth", data: { token } }));
        }
      };
      ws.onmessage = (msg) => {
        if (typeof msg.data !== "string") return;
        let frame;
        try {
          frame = JSON.parse(msg.data);
        } catch {
          return;
        }
        if (!authed) {
          if (frame.event === "connection:success") {
            authed = true;
            this.attempt = 0;
            this.userId = frame.data.userId;
            this.role = frame.data.role;
            this.setState("open");
            this.emitLocal(frame.event, frame.data);
            this.rejoin();
            resolve(frame.data);
            return;
          }
          if (frame.event === "connection:error") {
            this.emitLocal(frame.event, frame.data);
            reject(new EarshotError(frame.data.code, frame.data.message));
            return;
          }
        }
        this.dispatch(frame);
      };
      ws.onclose = (ev) => {
        this.ws = null;
        for (const [, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new EarshotError("DISCONNECTED", "the connection closed"));
        }
        this.pending.clear();
        if (this.mic) {
          this.mic.connectionLost();
          this.mic = null; // a stream does not survive its connection; start it again after reconnecting
        }
        this.emitLocal("close", { code: ev.code, reason: ev.reason });
        if (!authed) reject(new EarshotError("DISCONNECTED", `closed before authentication (${ev.code})`));
        this.scheduleReconnect(ev.code);
      };
    });
  }

  scheduleReconnect(code) {
    const terminal = TERMINAL_CLOSE_CODES.has(code) || (code === TOKEN_EXPIRED && typeof this.options.token !== "function");
    if (this.closedByUser || !this.options.reconnect || terminal) {
      this.setState("closed");
      return;
    }
    // Exponential backoff with full jitter.
    const cap = Math.min(this.options.maxBackoffMs, this.options.minBackoffMs * 2 ** this.attempt);
    const delay = Math.random() * cap;
    this.attempt++;
    this.setState("reconnecting");
    this.reconnectTimer = setTimeout(() => {
      this.open().catch(() => {
        /* onclose (or open itself, when the token cannot be had) schedules the next attempt */
      });
    }, delay);
  }

  rejoin() {
    for (const id of this.sessions) {
      this.request("session:join", { sessionId: id }).catch((e) => this.emitLocal("error", { code: e.code, message: e.message }));
    }
  }

  dispatch(frame) {
    if (frame.event === "ack" && frame.id !== undefined) {
      const p = this.pending.get(frame.id);
      if (!p) return;
      this.pending.delete(frame.id);
      clearTimeout(p.timer);
      if (frame.error) p.reject(new EarshotError(frame.error.code, frame.error.message));
      else p.resolve(frame.data);
      return;
    }
    this.emitLocal(frame.event, frame.data);
  }

  /** Send an event without waiting for an answer. */
  send(event, data) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) throw new EarshotError("DISCONNECTED", "not connected");
    this.ws.send(JSON.stringify({ event, data }));
  }

  /** Send an event and wait for its ack. Rejects with an EarshotError carrying the server's code. */
  request(event, data) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new EarshotError("DISCONNECTED", "not connected"));
        return;
      }
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new EarshotError("TIMEOUT", `${event}: no answer`));
      }, this.options.requestTimeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ event, data, id }));
    });
  }

  /** Send raw audio bytes for the stream opened last with audio:start. */
  sendBinary(buf) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(buf);
  }

  async joinSession(sessionId, pipeline) {
    const joined = await this.request("session:join", pipeline ? { sessionId, pipeline } : { sessionId });
    this.sessions.add(sessionId);
    return joined;
  }

  async leaveSession(sessionId) {
    this.sessions.delete(sessionId);
    return this.request("session:leave", { sessionId });
  }

  setStatus(sessionId, status) {
    return this.request("session:status", { sessionId, status });
  }

  /**
   * Capture the microphone and stream it to the session, over WebRTC or as
   * MediaRecorder chunks (WebM/Opus over the WebSocket).
   * @param {import("./client").MicrophoneOptions} opts
   */
  async startMicrophone(opts) {
    if (this.mic) throw new EarshotError("BAD_REQUEST", "the microphone is already streaming");
    const media = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false, ...(opts.constraints || {}) },
    });
    const mic = opts.mode === "chunks" ? new ChunkMicrophone(this, opts, media) : new WebRTCMicrophone(this, opts, media);
    this.mic = mic;
    try {
      await mic.start();
    } catch (e) {
      this.mic = null;
      mic.release();
      throw e;
    }
    this.notify();
    return mic;
  }

  /** Stop the microphone: the daemon drains the stream (every pending final arrives) first. */
  async stopMicrophone() {
    const mic = this.mic;
    if (!mic) return;
    this.mic = null;
    try {
      await mic.stop();
    } finally {
      mic.release();
      this.notify();
    }
  }

  /** Close the connection for good. */
  close() {
    this.closedByUser = true;
    clearTimeout(this.reconnectTimer);
    if (this.mic) {
      this.mic.release();
      this.mic = null;
    }
    if (this.ws) this.ws.close(1000, "bye");
    this.setState("closed");
  }
}

class WebRTCMicrophone {
  constructor(client, opts, media) {
    this.client = client;
    this.sessionId = opts.sessionId;
    this.media = media;
    this.mode = "webrtc";
    this.queued = [];
    this.answered = false;
    /** Remote candidates that arrived before the answer was applied. */
    this.remoteQueued = [];
    this.remoteReady = false;
    this.pc = new RTCPeerConnection({ iceServers: opts.iceServers || [] });
  }

  async start() {
    for (const track of this.media.getAudioTracks()) this.pc.addTrack(track, this.media);
    this.pc.onicecandidate = (ev) => {
      if (!ev.candidate) return;
      const c = ev.candidate.toJSON();
      if (!this.answered) this.queued.push(c);
      else this.client.send("webrtc:candidate", { sessionId: this.sessionId, candidate: c });
    };
    this.pc.onconnectionstatechange = () => this.client.emitLocal("webrtc:local-state", this.pc.connectionState);
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    const answer = await this.client.request("webrtc:offer", { sessionId: this.sessionId, sdp: offer.sdp });
    await this.pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    // The daemon trickles its candidates as soon as it has its local description,
    // racing the answer: add the ones that came early now, in order.
    this.remoteReady = true;
    for (const c of this.remoteQueued) this.addRemote(c);
    this.remoteQueued = [];
    this.answered = true;
    for (const c of this.queued) this.client.send("webrtc:candidate", { sessionId: this.sessionId, candidate: c });
    this.queued = [];
  }

  remoteCandidate(ev) {
    if (ev.sessionId !== this.sessionId || !ev.candidate || !ev.candidate.candidate) return;
    if (!this.remoteReady) this.remoteQueued.push(ev.candidate);
    else this.addRemote(ev.candidate);
  }

  addRemote(c) {
    this.pc.addIceCandidate(c).catch((e) => console.warn("earshot: remote candidate refused", e));
  }

  async stop() {
    try {
      await this.client.request("audio:stop", { sessionId: this.sessionId });
    } finally {
      await this.client.request("webrtc:close", { sessionId: this.sessionId }).catch(() => {});
    }
  }

  connectionLost() {
    this.release();
  }

  release() {
    for (const t of this.media.getTracks()) t.stop();
    try {
      this.pc.close();
    } catch {
      /* already closed */
    }
  }
}

class ChunkMicrophone {
  constructor(client, opts, media) {
    this.client = client;
    this.sessionId = opts.sessionId;
    this.media = media;
    this.mode = "chunks";
    this.timeslice = opts.timesliceMs || 250;
    this.mimeType = "audio/webm;codecs=opus";
  }

  async start() {
    if (!MediaRecorder.isTypeSupported(this.mimeType)) {
      throw new EarshotError("UNSUPPORTED_FORMAT", "this browser cannot record audio/webm;codecs=opus");
    }
    const started = await this.client.request("audio:start", { sessionId: this.sessionId, format: "webm" });
    this.streamId = started.streamId;
    this.recorder = new MediaRecorder(this.media, { mimeType: this.mimeType });
    // Chunks must reach the daemon in order: chain the blob reads.
    this.chain = Promise.resolve();
    this.recorder.ondataavailable = (ev) => {
      if (!ev.data || ev.data.size === 0) return;
      // Catch per link: one unreadable chunk must not skip every later one nor make stop() throw.
      this.chain = this.chain
        .then(async () => this.client.sendBinary(await ev.data.arrayBuffer()))
        .catch((e) =>
          this.client.emitLocal("audio:error", {
            code: "CHUNK_READ_FAILED",
            message: `could not read a recorded chunk: ${(e && e.message) || e}`,
            sessionId: this.sessionId,
          }),
        );
    };
    this.recorder.start(this.timeslice);
  }

  async stop() {
    if (this.recorder && this.recorder.state !== "inactive") {
      const stopped = new Promise((r) => (this.recorder.onstop = r));
      this.recorder.stop();
      await stopped;
    }
    await this.chain;
    await this.client.request("audio:stop", { sessionId: this.sessionId });
  }

  connectionLost() {
    this.release();
  }

  release() {
    if (this.recorder && this.recorder.state !== "inactive") this.recorder.stop();
    for (const t of this.media.getTracks()) t.stop();
  }
}
