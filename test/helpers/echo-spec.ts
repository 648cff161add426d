import type { StepSpec } from '../../src/steps/step.ts'

/** The step a test's session records when the test does not care which: the built-in echo demo. */
export const ECHO: StepSpec = { name: 'echo' }
