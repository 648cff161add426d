import { readFileSync } from 'node:fs'

/**
 * What Linux says about a server process, read from /proc so the measurement costs the server nothing and needs no
 * cooperation from it (the compiled stepstream has no metrics for memory or CPU).
 */

/** Resident set size of `pid`; KiB (`VmRSS` in /proc/<pid>/status). */
export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status)
  if (!match) throw new Error(`no VmRSS for process ${pid}; is it still running?`)
  return Number(match[1])
}

/** Clock ticks per second of /proc/<pid>/stat; `getconf CLK_TCK` is 100 on every Linux Bun runs on. */
const CLOCK_TICKS = 100

/** CPU time `pid` has used so far, user plus system; seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may hold spaces and parentheses: count fields from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // utime and stime are fields 14 and 15 of the whole line, so 11 and 12 after the name and the state.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}
