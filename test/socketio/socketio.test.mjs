// The real socket.io-client 4.x against bin/earshot's Socket.IO endpoint.
// Run: npm ci && node --test   (bin/earshot built by `make build`; EARSHOT_BIN overrides)
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import {
  startDaemon, mintToken, connect, connected, connectError, waitFor, collect,
  frontendURL, pingIntervalMs, pongTimeoutMs, earshotBin,
} from "./harness.mjs";

let daemon;
const open = [];
const sid = () => "s-" + randomBytes(5).toString("hex");

before(async () => { daemon = await startDaemon(); });
after(async () => {
  for (const s of open) s.close();
  if (daemon) await daemon.stop();
});

async function client(claims = {}, opts = {}) {
  const [s, hello] = await connected(daemon, claims, opts);
  open.push(s);
  return [s, hello];
}

describe("handshake and authentication", () => {
  test("polling is refused with Engine.IO 'Transport unknown'", async () => {
    const r = await fetch(`${daemon.url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(r.status, 400);
    assert.deepEqual(await r.json(), { code: 0, message: "Transport unknown" });
  });

  test("a client on default transports (polling first) fails with xhr poll error", async () => {
    const err = await connectError(daemon, { transports: undefined, auth: { token: mintToken() } });
    assert.equal(err.message, "xhr poll error");
  });

  test("Engine.IO open packet announces the heartbeat and no upgrades", async () => {
    const s = connect(daemon, { auth: { token: mintToken() } });
    open.push(s);
    const hs = await waitFor(s.io.engine, "handshake");
    assert.equal(typeof hs.sid, "string");
    assert.ok(hs.sid.length > 0);
    assert.deepEqual(hs.upgrades, []);
    if (daemon.usesShortHeartbeat) {
      assert.equal(hs.pingInterval, pingIntervalMs);
      assert.equal(hs.pingTimeout, pongTimeoutMs);
    } else {
      assert.equal(hs.pingInterval, 25000);
      assert.equal(hs.pingTimeout, 20000);
    }
    assert.ok(Number.isInteger(hs.maxPayload) && hs.maxPayload >= 1 << 20, `maxPayload ${hs.maxPayload}`);
    await waitFor(s, "connect");
    s.close();
  });

  test("auth:{token} connects and connection:success carries the claims", async () => {
    const [s, hello] = await client({ sub: "alice", name: "Alice", role: "interviewer" });
    assert.ok(s.connected);
    assert.equal(hello.userId, "alice");
    assert.equal(hello.role, "interviewer");
    assert.equal(hello.protocol, 1);
    assert.equal(typeof hello.connectionId, "string");
    assert.ok(hello.connectionId.length > 0);
    assert.ok(Math.abs(hello.serverTime - Date.now()) < 60000, `serverTime ${hello.serverTime}`);
  });

  test("a token in ?token= connects", async () => {
    const [, hello] = await client({ sub: "q-user" }, { auth: undefined, query: { token: mintToken({ sub: "q-user" }) } });
    assert.equal(hello.userId, "q-user");
  });

  test("an Authorization: Bearer header connects", async () => {
    const token = mintToken({ sub: "h-user" });
    const [, hello] = await client({ sub: "h-user" }, { auth: undefined, extraHeaders: { Authorization: `Bearer ${token}` } });
    assert.equal(hello.userId, "h-user");
  });

  test("the allowed Origin (FRONTEND_URL) connects", async () => {
    const [s] = await client({}, { extraHeaders: { Origin: frontendURL } });
    assert.ok(s.connected);
  });

  test("a foreign Origin is refused before the upgrade", async () => {
    const err = await connectError(daemon, { auth: { token: mintToken() }, extraHeaders: { Origin: "http://evil.example" } });
    assert.equal(err.message, "websocket error");
  });

  test("auth:refresh with a newer token of the same user is accepted; another user's is refused", async () => {
    const [a] = await client({ sub: "refresher" });
    const ok = await a.timeout(5000).emitWithAck("auth:refresh", { token: mintToken({ sub: "refresher", exp: Math.floor(Date.now() / 1000) + 3600 }) });
    assert.ok(!ok?.error, JSON.stringify(ok));
    assert.equal(ok.userId, "refresher");
    const no = await a.timeout(5000).emitWithAck("auth:refresh", { token: mintToken({ sub: "someone-else" }) });
    assert.ok(no?.error?.code, JSON.stringify(no));
    assert.ok(a.connected);
  });

  const refusals = [
    ["missing token", {}, "UNAUTHORIZED"],
    ["empty auth object", { auth: {} }, "UNAUTHORIZED"],
    ["garbage token", { auth: { token: "not.a.jwt" } }, "UNAUTHORIZED"],
    ["bad signature", { auth: { token: mintToken({}, { key: "another-secret-that-is-long-enough-0123456789" }) } }, "UNAUTHORIZED"],
    ["alg none", { auth: { token: mintToken({}, { alg: "none" }) } }, "UNAUTHORIZED"],
    ["expired", { auth: { token: mintToken({ iat: 1000, exp: 2000 }) } }, "TOKEN_EXPIRED"],
    ["no exp", { auth: { token: mintToken({ exp: undefined }) } }, "UNAUTHORIZED"],
    ["no sub", { auth: { token: mintToken({ sub: undefined }) } }, "UNAUTHORIZED"],
    ["bad role", { auth: { token: mintToken({ role: "root" }) } }, "UNAUTHORIZED"],
    ["oversized", { auth: { token: mintToken({ name: "x".repeat(9000) }) } }, "UNAUTHORIZED"],
  ];
  for (const [name, opts, code] of refusals) {
    test(`connect_error for ${name}: ${code}`, async () => {
      const err = await connectError(daemon, opts);
      assert.equal(err.data?.code, code, `connect_error ${err.message} ${JSON.stringify(err.data)}`);
      assert.equal(typeof err.message, "string");
      assert.ok(err.message.length > 0);
      assert.ok(!/eyJ/.test(err.message), "message must not echo the token");
    });
  }
});

describe("sessions", () => {
  test("session:join without ack answers session:joined", async () => {
    const [a] = await client({ sub: "alice", name: "Alice", role: "interviewer" });
    const s = sid();
    const joined = waitFor(a, "session:joined");
    a.emit("session:join", { sessionId: s });
    const j = await joined;
    assert.equal(j.sessionId, s);
    assert.equal(j.status, "waiting");
    assert.equal(typeof j.pipeline, "string");
    assert.deepEqual(j.users.map((u) => u.userId), ["alice"]);
  });

  test("session:join with ack: the ack data is the session:joined payload", async () => {
    const [a] = await client({ sub: "alice2", name: "Alice", role: "interviewer" });
    const s = sid();
    const joined = waitFor(a, "session:joined");
    const ack = await a.timeout(5000).emitWithAck("session:join", { sessionId: s });
    assert.deepEqual(ack, await joined);
    assert.equal(ack.sessionId, s);
  });

  test("user:joined, session:status:updated and user:left reach the others", async () => {
    const [a] = await client({ sub: "int-1", name: "Ivy", role: "interviewer" });
    const [b] = await client({ sub: "cand-1", name: "Carl", role: "candidate" });
    const s = sid();
    await a.timeout(5000).emitWithAck("session:join", { sessionId: s });

    const seenByA = waitFor(a, "user:joined", 5000, (e) => e.sessionId === s);
    const ackB = await b.timeout(5000).emitWithAck("session:join", { sessionId: s });
    assert.deepEqual(ackB.users.map((u) => u.userId).sort(), ["cand-1", "int-1"]);
    const uj = await seenByA;
    assert.deepEqual(uj.user, { userId: "cand-1", name: "Carl", role: "candidate" });

    const updA = waitFor(a, "session:status:updated");
    const updB = waitFor(b, "session:status:updated");
    await a.timeout(5000).emitWithAck("session:status", { sessionId: s, status: "active" });
    for (const u of [await updA, await updB]) {
      assert.equal(u.sessionId, s);
      assert.equal(u.status, "active");
      assert.equal(u.previous, "waiting");
      assert.equal(u.updatedBy, "int-1");
      assert.equal(typeof u.at, "number");
    }

    // A candidate may not change the status (default status_roles).
    const errB = waitFor(b, "session:error");
    const refused = await b.timeout(5000).emitWithAck("session:status", { sessionId: s, status: "ended" });
    assert.equal(refused.error?.code, "FORBIDDEN");
    assert.equal((await errB).code, "FORBIDDEN");

    const left = waitFor(a, "user:left");
    const leftAck = waitFor(b, "session:left");
    b.emit("session:leave", { sessionId: s });
    assert.equal((await leftAck).sessionId, s);
    const ul = await left;
    assert.equal(ul.sessionId, s);
    assert.equal(ul.user.userId, "cand-1");
  });

  test("user:disconnected when a member's connection ends", async () => {
    const [a] = await client({ sub: "stay" });
    const [b] = await client({ sub: "goes" });
    const s = sid();
    await a.timeout(5000).emitWithAck("session:join", { sessionId: s });
    await b.timeout(5000).emitWithAck("session:join", { sessionId: s });
    const gone = waitFor(a, "user:disconnected");
    b.disconnect();
    const d = await gone;
    assert.equal(d.sessionId, s);
    assert.equal(d.userId, "goes");
    assert.equal(typeof d.reason, "string");
  });

  test("session isolation: NOT_JOINED, and no events from a session not joined", async () => {
    const [a] = await client({ sub: "member", role: "interviewer" });
    const [b] = await client({ sub: "outsider", role: "interviewer" });
    const seenByB = collect(b);
    const s = sid();
    await a.timeout(5000).emitWithAck("session:join", { sessionId: s });

    const err = waitFor(b, "session:error");
    const ack = await b.timeout(5000).emitWithAck("session:status", { sessionId: s, status: "active" });
    assert.equal(ack.error?.code, "NOT_JOINED");
    const e = await err;
    assert.equal(e.code, "NOT_JOINED");
    assert.equal(e.sessionId, s);

    await a.timeout(5000).emitWithAck("session:status", { sessionId: s, status: "active" });
    // A round trip on b after a's broadcast: anything for s would have been queued by now.
    await b.timeout(5000).emitWithAck("session:join", { sessionId: sid() });
    const leaked = seenByB.filter(([n, d]) => n !== "session:error" && d?.sessionId === s);
    assert.deepEqual(leaked, []);
  });

  test("the sessions claim limits joins: FORBIDDEN", async () => {
    const allowed = sid();
    const [a] = await client({ sessions: [allowed] });
    const ok = await a.timeout(5000).emitWithAck("session:join", { sessionId: allowed });
    assert.equal(ok.sessionId, allowed);
    const no = await a.timeout(5000).emitWithAck("session:join", { sessionId: sid() });
    assert.equal(no.error?.code, "FORBIDDEN");
  });

  test("an emit with ack that is refused acks {error:{code,message}}", async () => {
    const [a] = await client();
    const err = waitFor(a, "session:error");
    const ack = await a.timeout(5000).emitWithAck("session:join", { sessionId: "not a valid id!" });
    assert.equal(ack.error?.code, "INVALID_SESSION_ID");
    assert.equal(typeof ack.error?.message, "string");
    assert.equal((await err).code, "INVALID_SESSION_ID");
  });
});

describe("errors keep the connection up", () => {
  test("an unknown event gets error UNKNOWN_EVENT", async () => {
    const [a] = await client();
    const err = waitFor(a, "error");
    a.emit("no:such:event", { x: 1 });
    const e = await err;
    assert.equal(e.code, "UNKNOWN_EVENT");
    assert.ok(a.connected);
    const j = await a.timeout(5000).emitWithAck("session:join", { sessionId: sid() });
    assert.ok(j.sessionId);
  });

  test("an unknown event with ack acks the error", async () => {
    const [a] = await client();
    const ack = await a.timeout(5000).emitWithAck("no:such:event", {});
    assert.equal(ack.error?.code, "UNKNOWN_EVENT");
  });

  test("missing fields get BAD_REQUEST in the family's error event", async () => {
    const [a] = await client();
    const err = waitFor(a, "session:error");
    const ack = await a.timeout(5000).emitWithAck("session:join", { nope: true });
    assert.ok(["BAD_REQUEST", "INVALID_SESSION_ID"].includes(ack.error?.code), JSON.stringify(ack));
    await err;
  });

  test("a malformed Socket.IO packet gets error BAD_REQUEST", async () => {
    const [a] = await client();
    const err = waitFor(a, "error");
    // The Engine.IO socket sends raw message packets: '4' + this text.
    a.io.engine.send('2/interview,{"not":"an array"}');
    const e = await err;
    assert.equal(e.code, "BAD_REQUEST");
    assert.ok(a.connected);
    const j = await a.timeout(5000).emitWithAck("session:join", { sessionId: sid() });
    assert.ok(j.sessionId);
  });
});

describe("binary attachments", () => {
  test("audio:stream with a Buffer audioData (pcm16) is decoded, no framing error", async () => {
    const [a] = await client({ role: "interviewer" });
    const seen = collect(a);
    const s = sid();
    await a.timeout(5000).emitWithAck("session:join", { sessionId: s });
    const pcm = Buffer.alloc(3200); // 100 ms of 16 kHz mono silence
    const ack = await a.timeout(10000).emitWithAck("audio:stream", {
      sessionId: s, audioData: pcm, format: "pcm16", sampleRate: 16000, channels: 1, sequence: 0,
    });
    // What the server does with audio depends on the pipeline; the framing must be accepted.
    if (ack && ack.error) {
      assert.notEqual(ack.error.code, "BAD_REQUEST", JSON.stringify(ack));
      assert.notEqual(ack.error.code, "INVALID_AUDIO", JSON.stringify(ack));
    }
    const framing = seen.filter(([n, d]) => (n === "error" || n === "audio:error") && d?.code === "BAD_REQUEST");
    assert.deepEqual(framing, []);
    if (!ack?.error) {
      const stop = await a.timeout(30000).emitWithAck("audio:stop", { sessionId: s });
      assert.ok(!stop?.error, JSON.stringify(stop));
    }
  });

  test("emitWithAck whose attachments exceed the limit is answered with a refused ack", async () => {
    const [a] = await client();
    const err = waitFor(a, "error");
    // Two attachments of 600,000 bytes: each frame fits max_message_size (1 MiB), together they do not.
    const ack = await a.timeout(5000).emitWithAck("transcription:request",
      { sessionId: sid(), audioData: Buffer.alloc(600000), extra: Buffer.alloc(600000), format: "pcm16", sampleRate: 16000 });
    assert.equal(ack?.error?.code, "BAD_REQUEST", JSON.stringify(ack));
    assert.equal((await err).code, "BAD_REQUEST");
    assert.ok(a.connected);
  });

  test("an attachment announced but referenced out of range is BAD_REQUEST", async () => {
    const [a] = await client();
    const err = waitFor(a, "error");
    a.io.engine.send('51-/interview,["audio:stream",{"audioData":{"_placeholder":true,"num":3}}]');
    assert.equal((await err).code, "BAD_REQUEST");
    assert.ok(a.connected);
  });

  const speech = hasSpeechTools();
  test("spoken pcm16 over binary attachments is transcribed", { skip: speech ? false : "needs espeak-ng, sox and bin/earshot-plugin-*" }, async () => {
    const pcm = execFileSync("bash", ["-c",
      "espeak-ng -v en-us -s 140 --stdout 'tell me about your last project' | sox -t wav - -t raw -r 16000 -e signed -b 16 -c 1 - pad 0.3 0.8"],
      { maxBuffer: 8 << 20 });
    const [a] = await client({ role: "interviewer" });
    const s = sid();
    await a.timeout(5000).emitWithAck("session:join", { sessionId: s });
    const final = waitFor(a, "transcription:result", 60000, (r) => r.sessionId === s && r.isFinal && r.text.length > 0);
    final.catch(() => {});
    const chunk = 3200;
    for (let i = 0, seq = 0; i < pcm.length; i += chunk, seq++) {
      const ack = await a.timeout(10000).emitWithAck("audio:stream", {
        sessionId: s, audioData: pcm.subarray(i, i + chunk), format: "pcm16", sampleRate: 16000, channels: 1, sequence: seq,
      });
      assert.ok(!ack?.error, JSON.stringify(ack));
    }
    const stop = await a.timeout(60000).emitWithAck("audio:stop", { sessionId: s });
    assert.ok(!stop?.error, JSON.stringify(stop));
    const r = await final;
    assert.match(r.text, /\w/);
    assert.equal(r.isFinal, true);
  });
});

describe("heartbeat", () => {
  test("the server pings at pingInterval and the client stays connected", async () => {
    const [a] = await client();
    const interval = daemon.usesShortHeartbeat ? pingIntervalMs : 25000;
    let pings = 0;
    const three = new Promise((res) => a.io.engine.on("ping", () => { if (++pings === 3) res(); }));
    const t0 = Date.now();
    await Promise.race([three, new Promise((_, rej) => setTimeout(rej, interval * 3 + 5000, new Error(`only ${pings} pings`)))]);
    const took = Date.now() - t0;
    assert.ok(took >= interval * 2 - 250, `3 pings in ${took} ms, interval ${interval}`);
    assert.ok(a.connected);
  });

  test("a client that stops answering pings is disconnected", async (t) => {
    if (!daemon.usesShortHeartbeat) return t.skip("default 25 s heartbeat");
    const [a] = await client();
    const engine = a.io.engine;
    const send = engine._sendPacket.bind(engine);
    // Drop the client's pongs (engine.io-client internals: _sendPacket("pong") answers a ping).
    engine._sendPacket = (type, ...rest) => (type === "pong" ? undefined : send(type, ...rest));
    const reason = await waitFor(a, "disconnect", pingIntervalMs + pongTimeoutMs + 5000);
    assert.ok(["transport close", "ping timeout", "transport error", "io server disconnect"].includes(reason), reason);
  });
});

describe("shutdown", () => {
  test("after a graceful shutdown (1001) a stock client reconnects by itself", async () => {
    const first = await startDaemon();
    let second;
    const s = connect(first, { auth: { token: mintToken() }, reconnection: true, reconnectionDelay: 200, reconnectionDelayMax: 500 });
    try {
      await waitFor(s, "connect", 10000);
      const gone = waitFor(s, "disconnect", 15000);
      await first.stop();
      // "transport close", not "io server disconnect": after the latter socket.io-client does not reconnect.
      assert.equal(await gone, "transport close");
      const back = waitFor(s, "connection:success", 30000);
      second = await startDaemon({ port: first.port });
      const hello = await back;
      assert.ok(hello.userId, JSON.stringify(hello));
      assert.ok(s.connected);
    } finally {
      s.close();
      if (second) await second.stop();
    }
  });
});

function hasSpeechTools() {
  const bin = dirname(earshotBin);
  const ok = (cmd) => { try { execFileSync("bash", ["-c", `command -v ${cmd}`], { stdio: "ignore" }); return true; } catch { return false; } };
  return ok("espeak-ng") && ok("sox") && ["audio", "sphinx"].every((p) => existsSync(join(bin, `earshot-plugin-${p}`)));
}
