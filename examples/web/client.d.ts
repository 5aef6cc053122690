// Types for client.js, the earshot browser client.

export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";
export type Role = "interviewer" | "candidate" | "observer" | "admin";
export type SessionStatus = "waiting" | "active" | "paused" | "ended";

export interface ClientOptions {
  /** ws(s)://host/interview */
  url: string;
  /** The JWT, or a function returning a fresh one (used again on reconnect; lets 4002 TOKEN_EXPIRED recover). */
  token: string | (() => string | Promise<string>);
  /** "auth" (default): first frame; "query": ?token= (logged by proxies — avoid). */
  tokenIn?: "auth" | "query";
  requestTimeoutMs?: number;
  reconnect?: boolean;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** How many utterances client.store keeps, the most recent (default 500). */
  maxUtterances?: number;
}

export interface ConnectionSuccess { userId: string; connectionId: string; role: Role; serverTime: number; protocol: number }
export interface User { userId: string; name: string; role: Role }
export interface SessionJoined { sessionId: string; status: SessionStatus; pipeline: string; users: User[] }
export interface ErrorPayload { code: string; message: string; sessionId?: string }
export interface Word { text: string; startMs: number; endMs: number; confidence: number }
export interface TranscriptionResult {
  sessionId: string; streamId: string; userId: string; role: Role; utteranceId: string; revision: number;
  text: string; isFinal: boolean; endOfTurn: boolean; confidence: number; startMs: number; endMs: number;
  words: Word[]; requestId: string | null;
}
export type Utterance = TranscriptionResult;
export interface Suggestion { id: string; text: string; kind: string; score: number }
export interface SuggestionsEvent {
  sessionId: string; utteranceId: string; question: string; suggestions: Suggestion[]; source: string;
  supersedes?: string; setId?: string; final: boolean;
}
export interface TranscriptionError { code: string; message: string; sessionId: string; streamId?: string; retrying: boolean }
export interface MicrophoneOptions {
  sessionId: string;
  /** "webrtc" (default): Opus over a peer connection; "chunks": MediaRecorder WebM/Opus over the WebSocket. */
  mode?: "webrtc" | "chunks";
  timesliceMs?: number;
  iceServers?: RTCIceServer[];
  constraints?: MediaTrackConstraints;
}

export interface EventMap {
  "connection:success": ConnectionSuccess;
  "connection:error": ErrorPayload;
  "session:joined": SessionJoined;
  "session:left": { sessionId: string };
  "session:status:updated": { sessionId: string; status: SessionStatus; previous: SessionStatus; updatedBy: string; at: number };
  "session:error": ErrorPayload;
  "user:joined": { sessionId: string; user: User };
  "user:left": { sessionId: string; user: User };
  "user:disconnected": { sessionId: string; userId: string; reason: string };
  /** Also local, code CHUNK_READ_FAILED: a MediaRecorder chunk could not be read (later chunks still go). */
  "audio:error": ErrorPayload;
  "transcription:processing": { sessionId: string; streamId: string; userId: string; utteranceId: string; requestId?: string };
  "transcription:result": TranscriptionResult;
  "transcription:error": TranscriptionError;
  "responses:suggestions": SuggestionsEvent;
  "webrtc:state": { sessionId: string; state: string };
  "webrtc:error": ErrorPayload;
  /** Also local, code TOKEN_UNAVAILABLE: the token function threw; the next reconnect is scheduled. */
  "error": ErrorPayload;
  /** Local: the connection state changed. */
  "state": ConnectionState;
  /** Local: the socket closed. */
  "close": { code: number; reason: string };
  /** Local: every event. */
  "*": { event: string; data: unknown };
}

export declare class EarshotError extends Error {
  code: string;
  constructor(code: string, message: string);
}

/** Utterances a TranscriptStore keeps by default. */
export declare const DEFAULT_MAX_UTTERANCES: number;

/**
 * The transcript (the last maxUtterances utterances; older ones are dropped) and the
 * last suggestion sets. `utterances` and `suggestions` are replaced, never mutated.
 */
export declare class TranscriptStore {
  constructor(opts?: { maxUtterances?: number });
  readonly maxUtterances: number;
  utterances: Utterance[];
  suggestions: SuggestionsEvent[];
  /** The stored utterance with this id, if it is still kept. */
  get(utteranceId: string): Utterance | undefined;
  /** Returns true when the store changed (false for a stale revision or a result after the final). */
  applyResult(r: TranscriptionResult): boolean;
  applySuggestions(s: SuggestionsEvent): void;
  clear(): void;
}

export interface Microphone { mode: "webrtc" | "chunks"; sessionId: string }

export declare class EarshotClient {
  constructor(options: ClientOptions);
  readonly state: ConnectionState;
  readonly store: TranscriptStore;
  readonly userId: string;
  readonly role: string;
  readonly mic: Microphone | null;
  on<K extends keyof EventMap>(event: K, fn: (data: EventMap[K]) => void): () => void;
  on(event: string, fn: (data: any) => void): () => void;
  off(event: string, fn: (data: any) => void): void;
  subscribe(listener: () => void): () => void;
  connect(): Promise<ConnectionSuccess>;
  send(event: string, data: unknown): void;
  request<T = unknown>(event: string, data: unknown): Promise<T>;
  sendBinary(buf: ArrayBuffer): void;
  joinSession(sessionId: string, pipeline?: string): Promise<SessionJoined>;
  leaveSession(sessionId: string): Promise<unknown>;
  setStatus(sessionId: string, status: SessionStatus): Promise<unknown>;
  startMicrophone(opts: MicrophoneOptions): Promise<Microphone>;
  stopMicrophone(): Promise<void>;
  close(): void;
}
