/** What the first bytes of an executable say it is: its container format, its CPU and, for ELF, its loader. */
export interface ExecutableFormat {
  format: 'elf' | 'mach-o' | 'pe'
  arch: 'x64' | 'arm64' | `unknown (${number})`
  /** ELF only: the dynamic loader it asks for (PT_INTERP), which tells a glibc build from a musl one. */
  interpreter?: string
  /** Whether the header says "executable" (ELF ET_EXEC/ET_DYN with a loader, Mach-O MH_EXECUTE, PE without the DLL flag). */
  executable: boolean
}

// Machine numbers from the specifications: ELF e_machine (System V gABI), Mach-O cputype (<mach/machine.h>),
// PE Machine (Microsoft PE/COFF).
const ELF_MACHINES: Record<number, ExecutableFormat['arch']> = { 62: 'x64', 183: 'arm64' }
const MACHO_CPUS: Record<number, ExecutableFormat['arch']> = { 16777223: 'x64', 16777228: 'arm64' }
const PE_MACHINES: Record<number, ExecutableFormat['arch']> = { 34404: 'x64', 43620: 'arm64' }

const archOf = (table: Record<number, ExecutableFormat['arch']>, id: number) => table[id] ?? (`unknown (${id})` as const)

/** Reads the header of a 64-bit little-endian executable; throws on anything else. `bytes`: at least its first 4 KiB. */
export function executableFormat(bytes: Uint8Array): ExecutableFormat {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getUint32(0, false) === 0x7f454c46) return elf(bytes, view)
  if (view.getUint32(0, true) === 0xfeedfacf) {
    return { format: 'mach-o', arch: archOf(MACHO_CPUS, view.getUint32(4, true)), executable: view.getUint32(12, true) === 2 }
  }
  if (view.getUint16(0, true) === 0x5a4d) {
    const pe = view.getUint32(0x3c, true)
    if (view.getUint32(pe, false) !== 0x50450000) throw new Error('an MZ header without a PE signature')
    const characteristics = view.getUint16(pe + 22, true)
    // 0x20b: the PE32+ optional header of a 64-bit image; 0x0002 executable image, 0x2000 a DLL.
    const pe32plus = view.getUint16(pe + 24, true) === 0x20b
    return {
      format: 'pe',
      arch: archOf(PE_MACHINES, view.getUint16(pe + 4, true)),
      executable: pe32plus && (characteristics & 0x0002) !== 0 && (characteristics & 0x2000) === 0,
    }
  }
  throw new Error(`not an executable this helper knows: it starts with ${Buffer.from(bytes.subarray(0, 4)).toString('hex')}`)
}

function elf(bytes: Uint8Array, view: DataView): ExecutableFormat {
  // EI_CLASS 2: 64-bit; EI_DATA 1: little-endian. Every offset below assumes both.
  if (view.getUint8(4) !== 2 || view.getUint8(5) !== 1) throw new Error('not a 64-bit little-endian ELF file')
  const type = view.getUint16(16, true)
  const phoff = Number(view.getBigUint64(0x20, true))
  const phentsize = view.getUint16(0x36, true)
  let interpreter: string | undefined
  for (let i = 0; i < view.getUint16(0x38, true); i++) {
    const header = phoff + i * phentsize
    if (view.getUint32(header, true) !== 3) continue // PT_INTERP
    const offset = Number(view.getBigUint64(header + 8, true))
    const size = Number(view.getBigUint64(header + 32, true))
    interpreter = new TextDecoder().decode(bytes.subarray(offset, offset + size)).replace(/\0+$/, '')
  }
  // ET_EXEC (2), or ET_DYN (3) with a loader: a position-independent executable rather than a shared library.
  return {
    format: 'elf',
    arch: archOf(ELF_MACHINES, view.getUint16(18, true)),
    interpreter,
    executable: type === 2 || (type === 3 && interpreter !== undefined),
  }
}
