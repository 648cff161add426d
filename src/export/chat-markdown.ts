import { prettyJson, type JsonBudget } from '../bounded-json.ts'
import { EXPORTED_JSON_MAX_BYTES, RENDERED_JSON_MAX_DEPTH } from '../limits.ts'
import { codeSpan, fenced, inlineText, markdownBlock } from './markdown-safe.ts'
import type { ChatExport, ChatExportHead, ExportedAgentStep, ExportedEntry, ExportedRun, ExportedToolCall } from './chat-export.ts'

const MARKDOWN_JSON_BUDGET: JsonBudget = { maxBytes: EXPORTED_JSON_MAX_BYTES, maxDepth: RENDERED_JSON_MAX_DEPTH }

/** Data from outside, printed within the export's budget: a value cut says where, and how much was left out. */
const json = (value: unknown) => fenced(prettyJson(value, MARKDOWN_JSON_BUDGET).text, 'json')

function toolCall(call: ExportedToolCall): string[] {
  const blocks = [`**Tool call** ${codeSpan(call.name)} (id ${codeSpan(call.id)}) — ${inlineText(call.ts)}`, json(call.input)]
  if (call.result) blocks.push(`**Result** — ${inlineText(call.result.ts)}`, json(call.result.value))
  else blocks.push('*No result yet.*')
  return blocks
}

const agentStep = (step: ExportedAgentStep) => `*Step ${codeSpan(step.name)} ${step.phase}* — ${inlineText(step.ts)}`

/** Tool calls and an agent's step markers, in the order they happened. */
function activity(run: ExportedRun): string[] {
  const stepsAfter = (calls: number) => (run.agent_steps ?? []).filter((s) => s.tool_calls_before === calls).map(agentStep)
  return [...stepsAfter(0), ...run.tool_calls.flatMap((call, i) => [...toolCall(call), ...stepsAfter(i + 1)])]
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

function assistant(run: ExportedRun): string[] {
  const blocks = [`## Assistant — ${inlineText(run.ts)}`]
  // Collapsed, as on the page: reasoning explains the answer but is not part of it.
  if (run.reasoning) blocks.push(`<details>\n<summary>Reasoning</summary>\n\n${markdownBlock(run.reasoning)}\n\n</details>`)
  blocks.push(...activity(run))
  if (run.agent_state !== undefined) blocks.push(`<details>\n<summary>Agent state</summary>\n\n${json(run.agent_state)}\n\n</details>`)
  if (run.text) blocks.push(markdownBlock(run.text))
  return [...blocks, ...ending(run)]
}

/** The blocks before the entries: the title, when the chat began and with which step, and whether it is whole. */
export function markdownHead(head: ChatExportHead): string[] {
  const blocks = ['# stepstream chat', `- Created: ${inlineText(head.created_at)}\n- Step: ${inlineText(head.step)}`]
  if (head.truncated) blocks.push("> The oldest events of this chat were removed by the server's retention: it begins part-way.")
  return blocks
}

/** The blocks of one entry: a heading with its time, then what it said and did. */
export const markdownEntry = (entry: ExportedEntry): string[] =>
  entry.role === 'user' ? [`## You — ${inlineText(entry.ts)}`, markdownBlock(entry.text)] : assistant(entry)

/**
 * The export as Markdown, for pasting into an issue or keeping: a heading per message with its time (ISO 8601, UTC),
 * tool calls and results as JSON blocks, an agent's steps in order among them and its state in `<details>`, reasoning
 * in `<details>`, errors and interruptions said in words. Messages
 * and answers are written as they are (answers are Markdown already). Blocks are separated by a blank line. Pure.
 */
export function chatMarkdown(chat: ChatExport): string {
  return `${[...markdownHead(chat), ...chat.entries.flatMap(markdownEntry)].join('\n\n')}\n`
}
