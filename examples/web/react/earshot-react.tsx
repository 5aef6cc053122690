// React bindings for the earshot browser client, mirroring the seed frontend's
// useWebSocket hook and WebSocketProvider:
//
//   <EarshotProvider url="wss://host/interview" token={token}>
//     <Interview />
//   </EarshotProvider>
//
//   function Interview() {
//     const { isConnected, joinSession, transcript, suggestions, startMicrophone } = useEarshot();
//     …
//   }
//
// Copy this file (and ../client.js, ../client.d.ts) into your app; it needs React 18+.
import { createContext, useContext, useEffect, useMemo, useSyncExternalStore, type ReactNode } from "react";
import {
  EarshotClient,
  type ClientOptions,
  type ConnectionState,
  type MicrophoneOptions,
  type SessionJoined,
  type SuggestionsEvent,
  type Utterance,
} from "../client.js";

const EarshotContext = createContext<EarshotClient | null>(null);

export interface EarshotProviderProps extends ClientOptions {
  children?: ReactNode;
  /** Connect when mounted (default true). */
  autoConnect?: boolean;
}

/** Owns one EarshotClient for the subtree; connects on mount and closes on unmount. */
export function EarshotProvider({ children, autoConnect = true, ...options }: EarshotProviderProps) {
  const { url, token, tokenIn, reconnect } = options;
  const client = useMemo(() => new EarshotClient(options), [url, token, tokenIn, reconnect]);
  useEffect(() => {
    if (autoConnect) client.connect().catch(() => undefined /* state and "connection:error" carry the reason */);
    return () => client.close();
  }, [client, autoConnect]);
  return <EarshotContext.Provider value={client}>{children}</EarshotContext.Provider>;
}

/** The client of the nearest EarshotProvider. */
export function useEarshotClient(): EarshotClient {
  const c = useContext(EarshotContext);
  if (!c) throw new Error("useEarshot must be used inside <EarshotProvider>");
  return c;
}

interface Snapshot {
  state: ConnectionState;
  transcript: Utterance[];
  suggestions: SuggestionsEvent[];
  micMode: "webrtc" | "chunks" | null;
}

export interface UseEarshot extends Snapshot {
  isConnected: boolean;
  client: EarshotClient;
  connect: () => Promise<unknown>;
  joinSession: (sessionId: string, pipeline?: string) => Promise<SessionJoined>;
  leaveSession: (sessionId: string) => Promise<unknown>;
  startMicrophone: (opts: MicrophoneOptions) => Promise<unknown>;
  stopMicrophone: () => Promise<void>;
}

/** Connection state, live transcript (partials replaced in place, finals kept) and suggestions. */
export function useEarshot(): UseEarshot {
  const client = useEarshotClient();
  const snapshot = useSyncExternalStore(
    (onChange) => client.subscribe(onChange),
    () => snapshotOf(client),
  );
  return {
    ...snapshot,
    isConnected: snapshot.state === "open",
    client,
    connect: () => client.connect(),
    joinSession: (id, pipeline) => client.joinSession(id, pipeline),
    leaveSession: (id) => client.leaveSession(id),
    startMicrophone: (opts) => client.startMicrophone(opts),
    stopMicrophone: () => client.stopMicrophone(),
  };
}

// useSyncExternalStore needs a stable snapshot while nothing changed: cache per client.
const cache = new WeakMap<EarshotClient, Snapshot>();
function snapshotOf(c: EarshotClient): Snapshot {
  const prev = cache.get(c);
  const micMode = c.mic ? c.mic.mode : null;
  if (
    prev &&
    prev.state === c.state &&
    prev.transcript === c.store.utterances &&
    prev.suggestions === c.store.suggestions &&
    prev.micMode === micMode
  ) {
    return prev;
  }
  const next = { state: c.state, transcript: c.store.utterances, suggestions: c.store.suggestions, micMode };
  cache.set(c, next);
  return next;
}

/** A minimal transcript view: finals as lines, the live partial in italics. */
export function Transcript() {
  const { transcript } = useEarshot();
  return (
    <ol className="earshot-transcript">
      {transcript.map((u) => (
        <li key={u.utteranceId} className={u.isFinal ? "final" : "partial"}>
          <b>{u.userId}</b> {u.isFinal ? u.text : <i>{u.text}</i>}
        </li>
      ))}
    </ol>
  );
}
