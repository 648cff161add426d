import { Type as t } from '@sinclair/typebox'
import type { MathNode } from 'mathjs'
import { type Tool, ToolError } from './tool.ts'

/** Operators an arithmetic expression may use (mathjs's names for + - * / ^ % and the signs). */
const OPERATORS = new Set(['add', 'subtract', 'multiply', 'divide', 'pow', 'mod', 'unaryMinus', 'unaryPlus'])
/** Functions it may call, all of numbers to numbers. */
const FUNCTIONS = new Set([
  'sqrt',
  'cbrt',
  'abs',
  'round',
  'floor',
  'ceil',
  'exp',
  'log',
  'log10',
  'log2',
  'sin',
  'cos',
  'tan',
  'min',
  'max',
])
const CONSTANTS = new Set(['pi', 'e'])

/**
 * mathjs's numbers-only build, loaded when first needed rather than at start: even this build takes a few hundred
 * milliseconds to import, which the server's cold start (README, "cold start" in the benchmark) should not pay.
 */
let mathjs: Promise<typeof import('mathjs/number')> | undefined

/** Starts loading mathjs, so that a run's first calculation does not wait for it; the openai step calls it at a run's start. */
export function loadCalculator(): Promise<unknown> {
  mathjs ??= import('mathjs/number')
  return mathjs
}

/**
 * Evaluates arithmetic through mathjs's parser. Only numbers, the operators, the functions and the constants above
 * are allowed: mathjs can also define functions, import code and reach its own internals, so anything else in the
 * parsed tree is refused before evaluation.
 */
export async function calculate(expression: string): Promise<number> {
  await loadCalculator()
  const { parse } = await mathjs!
  let tree: MathNode
  try {
    tree = parse(expression)
  } catch (error) {
    throw new ToolError(`${JSON.stringify(expression)} is not arithmetic: ${error instanceof Error ? error.message : 'it does not parse'}.`)
  }
  tree.traverse((node, _path, parent) => {
    if (allowed(node, parent)) return
    throw new ToolError(
      `${JSON.stringify(node.toString())} is not allowed: use numbers, + - * / ^ %, parentheses, pi, e and ${[...FUNCTIONS].join(', ')}.`,
    )
  })
  const value: unknown = tree.compile().evaluate({})
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new ToolError(`${JSON.stringify(expression)} has no finite real value (a division by zero, or the root of a negative number).`)
  }
  return value
}

function allowed(node: MathNode, parent: MathNode | null): boolean {
  switch (node.type) {
    case 'ConstantNode':
      return typeof (node as unknown as { value: unknown }).value === 'number'
    case 'ParenthesisNode':
      return true
    case 'OperatorNode':
      return OPERATORS.has((node as unknown as { fn: string }).fn)
    case 'FunctionNode':
      return FUNCTIONS.has((node as unknown as { fn: { name: string } }).fn.name)
    case 'SymbolNode': {
      const { name } = node as unknown as { name: string }
      // A function's own name is a SymbolNode below its FunctionNode.
      const isCallee = parent?.type === 'FunctionNode' && (parent as unknown as { fn: MathNode }).fn === node
      return isCallee ? FUNCTIONS.has(name) : CONSTANTS.has(name)
    }
    default:
      return false
  }
}

/** Arithmetic for the model, which is unreliable at it. */
export const calculator: Tool = {
  name: 'calculator',
  description: 'Evaluates an arithmetic expression: numbers, + - * / ^ %, parentheses, pi, e, sqrt, abs, round, log, sin…',
  parameters: t.Object(
    { expression: t.String({ minLength: 1, maxLength: 1000, description: 'For example (2 + 3) * 4 ^ 2 / sqrt(16)' }) },
    { additionalProperties: false },
  ),
  run: async ({ expression }: { expression: string }) => ({ expression, result: await calculate(expression) }),
}
