import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { defineStep } from 'stepstream'

/**
 * A step that runs `command` and streams its output, a line at a time, as the answer. The user's message reaches
 * the command as the MESSAGE environment variable, never through a shell's parsing. Cancel kills the command and
 * every process it started: it runs in a process group of its own, and the whole group gets the signal.
 */
export const shellStep = (command: readonly string[]) =>
  defineStep({
    name: 'shell',
    description: `streams the output of ${command.join(' ')}`,
    async run(conversation, { signal, partial }) {
      const last = conversation.findLast((m) => m.role === 'user')
      const child = spawn(command[0]!, command.slice(1), {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, MESSAGE: last?.role === 'user' ? last.content : '' },
      })
      const killGroup = () => {
        try {
          process.kill(-child.pid!, 'SIGKILL')
        } catch {
          // Already gone.
        }
      }
      signal.addEventListener('abort', killGroup, { once: true })
      const exited = new Promise<number | null>((resolve, reject) => {
        child.once('error', reject)
        child.once('close', (code) => resolve(code))
      })
      try {
        let output = ''
        for await (const line of createInterface({ input: child.stdout! })) {
          await partial(`${line}\n`)
          output += `${line}\n`
        }
        const code = await exited
        if (signal.aborted) return output
        if (code !== 0) throw new Error(`${command[0]} exited with code ${code}.`)
        return output
      } finally {
        signal.removeEventListener('abort', killGroup)
        // Whatever ended the run, nothing the command started outlives it.
        killGroup()
      }
    },
  })
