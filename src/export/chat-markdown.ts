import { prettyJson, type JsonBudget } from '../bounded-json.ts'
import { EXPORTED_JSON_MAX_BYTES, RENDERED_JSON_MAX_DEPTH } from '../limits.ts'
import { codeSpan, fenced, inlineText, markdownBlock } from './markdown-safe.ts'
import type { ChatExport, ChatExportHead, ExportedAgentStep, ExportedEntry, ExportedRun, ExportedToolCall } from './chat-export.ts'

const MARKDOWN_JSON_BUDGET: JsonBudget = { maxBytes: EXPORTED_JSON_MAX_BYTES, maxDepth: RENDERED_JSON_MAX_DEPTH }

/** Data from outside, printed within the export's budget: a value cut says where, and how much was left out. */
const json = (value: unknown) => fenced(prettyJson(value, MARKDOWN_JSON_BUDGET).text, 'json')

function* toolCall(call: ExportedToolCall): Generator<string> {
  yield `**Tool call** ${codeSpan(call.name)} (id ${codeSpan(call.id)}) — ${inlineText(call.ts)}`
  yield json(call.input)
  if (call.result) {
    yield `**Result** — ${inlineText(call.result.ts)}`
    yield json(call.result.value)
  } else yield '*No result yet.*'
}

const agentStep = (step: ExportedAgentStep) => `*Step ${codeSpan(step.name)} ${step.phase}* — ${inlineText(step.ts)}`

/** Tool calls and an agent's step markers, in the order they happened (steps are listed by `tool_calls_before`). */
function* activity(run: ExportedRun): Generator<string> {
  const steps = run.agent_steps ?? []
  let next = 0
  const stepsAfter = function* (calls: number) {
    for (; next < steps.length && steps[next]!.tool_calls_before === calls; next++) yield agentStep(steps[next]!)
  }
  yield* stepsAfter(0)
  for (const [i, call] of run.tool_calls.entries()) {
    yield* toolCall(call)
    yield* stepsAfter(i + 1)
  }
}

/** The end of a run, when it needs saying: a `final` speaks for itself. */
function ending(run: ExportedRun): string[] {
  switch (run.status) {
    case 'final':
      return []
    case 'interrupt':
      return [
        `*Interrupted at ${inlineText(run.ended_at ?? '')}${run.text ? ': the answer above is what had been written.' : ', before any answer.'}*`,
      ]
    case 'error':
      return [`**Error** — ${inlineText(run.ended_at ?? '')}: ${inlineText(run.error ?? '')}`]
    case 'running':
      return ['*Still running when this transcript was exported.*']
  }
}

/** A run's blocks, one at a time: a run of many big tool calls is written a block at a time, never as one string. */
function* assistant(run: ExportedRun): Generator<string> {
  yield `## Assistant — ${inlineText(run.ts)}`
  // Collapsed, as on the page: reasoning explains the answer but is not part of it.
  if (run.reasoning) yield `<details>\n<summary>Reasoning</summary>\n\n${markdownBlock(run.reasoning)}\n\n</details>`
  yield* activity(run)
  if (run.agent_state !== undefined) yield `<details>\n<summary>Agent state</summary>\n\n${json(run.agent_state)}\n\n</details>`
  if (run.text) yield markdownBlock(run.text)
  yield* ending(run)
}

/** The heading of a chat that has no title yet (no message). */
export const UNTITLED_HEADING = 'stepstream chat'

/** The blocks before the entries: the title, when the chat began and with which step, and whether it is whole. */
export function markdownHead(head: ChatExportHead): string[] {
  const title = head.title === '' ? UNTITLED_HEADING : inlineText(head.title)
  const blocks = [`# ${title}`, `- Created: ${inlineText(head.created_at)}\n- Step: ${inlineText(head.step)}`]
  if (head.truncated) blocks.push("> The oldest events of this chat were removed by the server's retention: it begins part-way.")
  return blocks
}

/** The blocks of one entry, made as they are asked for: a heading with its time, then what it said and did. */
export function* markdownEntry(entry: ExportedEntry): Generator<string> {
  if (entry.role === 'assistant') return yield* assistant(entry)
  yield `## You — ${inlineText(entry.ts)}`
  yield markdownBlock(entry.text)
}

/**
 * The export as Markdown, for pasting into an issue or keeping: a heading per message with its time (ISO 8601, UTC),
 * tool calls and results as JSON blocks, an agent's steps in order among them and its state in `<details>`, reasoning
 * in `<details>`, errors and interruptions said in words. Messages
 * and answers are written as they are (answers are Markdown already). Blocks are separated by a blank line. Pure.
 */
export function chatMarkdown(chat: ChatExport): string {
  return `${[...markdownHead(chat), ...chat.entries.flatMap((entry) => [...markdownEntry(entry)])].join('\n\n')}\n`
}
