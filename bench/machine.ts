import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'

/** What a reader needs to know about the machine a table was measured on. */
export function describeMachine(): string[] {
  const cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU'
  const free = Bun.spawnSync(['free', '-h']).stdout.toString().trimEnd()
  const limit = Bun.spawnSync(['sh', '-c', 'ulimit -n']).stdout.toString().trim()
  return [
    `- CPU: ${availableParallelism()} cores (\`nproc\`), ${cpu}`,
    `- memory (\`free -h\`):`,
    '',
    '```',
    free,
    '```',
    '',
    `- Bun ${Bun.version}, Linux ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}, open files limit ${limit}`,
  ]
}
