// Test harness: starts bin/earshot, mints tokens, wraps socket.io-client with
// deadline-bound waits. No sleeps: every wait is on an event with a deadline.
import { spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, "../..");
export const earshotBin = process.env.EARSHOT_BIN || join(repoRoot, "bin/earshot");

// A 48-byte test secret (the daemon requires at least 32 bytes).
export const secret = "socketio-suite-" + randomBytes(24).toString("hex");
export const frontendURL = "http://localhost:3999";

// Heartbeat used by the suite: short, so that the heartbeat tests run in seconds.
export const pingIntervalMs = 1000;
export const pongTimeoutMs = 1500;

function b64url(x) {
  return Buffer.from(typeof x === "string" ? x : JSON.stringify(x)).toString("base64url");
}

/** mintToken signs an HS256 JWT with node:crypto. claims override the defaults. */
export function mintToken(claims = {}, { key = secret, alg = "HS256" } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const payload = { sub: "user-" + randomBytes(4).toString("hex"), name: "Test", role: "interviewer", iat: now, exp: now + 600, ...claims };
  for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
  const head = b64url({ alg, typ: "JWT" }) + "." + b64url(payload);
  if (alg === "none") return head + ".";
  return head + "." + createHmac("sha256", key).update(head).digest("base64url");
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

// The embedded default configuration with a short heartbeat, so the suite runs the
// daemon exactly as shipped apart from ping_interval/pong_timeout.
function writeConfig(dir) {
  const src = join(repoRoot, "config/default.hcl");
  if (!existsSync(src)) return null;
  let hcl = readFileSync(src, "utf8");
  const before = hcl;
  hcl = hcl.replace(/ping_interval\s*=\s*"[^"]*"/, `ping_interval = "${pingIntervalMs}ms"`);
  hcl = hcl.replace(/pong_timeout\s*=\s*"[^"]*"/, `pong_timeout  = "${pongTimeoutMs}ms"`);
  if (hcl === before) return null;
  const path = join(dir, "earshot.hcl");
  writeFileSync(path, hcl);
  return path;
}

/**
 * startDaemon spawns `earshot serve --listen 127.0.0.1:<port>` (a free one unless
 * given) and resolves once
 * GET /healthz and then GET /readyz answer 200. stop() sends SIGTERM, then SIGKILL after 5 s.
 */
export async function startDaemon({ port } = {}) {
  if (!existsSync(earshotBin)) throw new Error(`${earshotBin} not found: run 'make build' first`);
  port ??= await freePort();
  const dir = mkdtempSync(join(tmpdir(), "earshot-sio-"));
  const cfg = writeConfig(dir);
  const args = ["serve", "--listen", `127.0.0.1:${port}`];
  if (cfg) args.splice(1, 0, "--config", cfg);
  const child = spawn(earshotBin, args, {
    env: { ...process.env, JWT_SECRET: secret, FRONTEND_URL: frontendURL },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const keep = (b) => { log = (log + b.toString()).slice(-20000); };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise((res) => child.once("exit", (code, sig) => res({ code, sig })));
  const url = `http://127.0.0.1:${port}`;

  // /healthz answers as soon as the listener is up; /readyz once the plugins and the
  // pipeline runtime are wired. Audio tests need the latter.
  const waitPath = async (path, ms) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const ended = await Promise.race([exited, new Promise((r) => setTimeout(r, 100, null))]);
      if (ended) throw new Error(`earshot exited early (${JSON.stringify(ended)}):\n${log}`);
      try {
        const r = await fetch(url + path);
        if (r.status === 200) return;
      } catch { /* not listening yet */ }
    }
    child.kill("SIGKILL");
    throw new Error(`earshot did not answer ${path} with 200 within ${ms} ms:\n${log}`);
  };
  await waitPath("/healthz", 30000);
  await waitPath("/readyz", 60000);
  return {
    url,
    port,
    usesShortHeartbeat: cfg !== null,
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** connect opens a socket.io-client socket on /interview (websocket only, no reconnection). */
export function connect(daemon, opts = {}) {
  return io(daemon.url + "/interview", {
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
    timeout: 5000,
    ...opts,
  });
}

/** waitFor resolves with the first argument of the first emission of event that passes filter. */
export function waitFor(emitter, event, ms = 5000, filter = () => true) {
  return new Promise((res, rej) => {
    const t = setTimeout(() => {
      emitter.off(event, on);
      rej(new Error(`timed out after ${ms} ms waiting for "${event}"`));
    }, ms);
    function on(...args) {
      if (!filter(...args)) return;
      clearTimeout(t);
      emitter.off(event, on);
      res(args[0]);
    }
    emitter.on(event, on);
  });
}

/** connected opens a socket and resolves with [socket, connection:success payload]. */
export async function connected(daemon, claims = {}, opts = {}) {
  const token = mintToken(claims);
  const socket = connect(daemon, { auth: { token }, ...opts });
  const success = waitFor(socket, "connection:success");
  const err = waitFor(socket, "connect_error").then((e) => { throw new Error(`connect_error: ${e.message} ${JSON.stringify(e.data)}`); });
  const payload = await Promise.race([success, err]);
  await (socket.connected ? null : waitFor(socket, "connect"));
  return [socket, payload];
}

/** connectError resolves with the connect_error of a socket expected to be refused. */
export async function connectError(daemon, opts) {
  const socket = connect(daemon, opts);
  try {
    return await Promise.race([
      waitFor(socket, "connect_error"),
      waitFor(socket, "connect").then(() => { throw new Error("connected, expected connect_error"); }),
    ]);
  } finally {
    socket.close();
  }
}

/** collect records every event a socket receives, for "nothing arrived" assertions. */
export function collect(socket) {
  const seen = [];
  socket.onAny((name, ...args) => seen.push([name, ...args]));
  return seen;
}
