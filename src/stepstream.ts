/**
 * The package's public API (`import { createServer, defineStep } from 'stepstream'`): what an application needs to
 * run its own steps, and nothing of the internals. Not a barrel: each name here is a promise kept across versions.
 */
export {
  type AuthOptions,
  createServer,
  type ListenOptions,
  type ServerOptions,
  StartError,
  type StepstreamServer,
  type StoreLimits,
  type StoreSpec,
} from './create-server.ts'
/** @deprecated the same type under its old name: use ServerOptions. */
export type { ServerOptions as CreateServerOptions } from './create-server.ts'
export { defineStep, type StepDefinition, type StepRun } from './steps/define-step.ts'
export { echoStep } from './steps/echo-step.ts'
export type { ChatMessage, Conversation, Step, StepContext, ToolCallMessage } from './steps/step.ts'
export type { StepFactory } from './steps/step-registry.ts'
export type { EventType, NewEvent, StepEvent, StoredEvent } from './events.ts'
export type { EventStore, SessionRecord } from './log/event-store.ts'
export { MemoryStore, type MemoryStoreOptions } from './store/memory-store.ts'
export { SqliteStore, type SqliteStoreOptions } from './store/sqlite-store.ts'
export { chatTag, createLogger, type Logger, type LogLevel, silentLogger } from './log.ts'
