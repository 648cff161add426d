import { describe, expect, test } from 'bun:test'
import { posix, win32 } from 'node:path'
import { authTokens, parseConfig } from '../../src/config.ts'
import { storeFiles } from '../../src/store/sqlite-files.ts'

// The Windows executable runs this code with node:path's win32 flavour; here it is handed that module directly.

describe('the SQLite store files under Windows paths', () => {
  test('the default ./stepstream.db lands in the working folder, drive letter included', () => {
    const config = parseConfig([], {})
    if (config.kind !== 'run' || config.config.server.store.kind !== 'sqlite') throw new Error('the default store is sqlite')
    expect(storeFiles(config.config.server.store.path, 'C:\\Users\\ada\\stepstream', win32)).toEqual({
      database: 'C:\\Users\\ada\\stepstream\\stepstream.db',
      folder: 'C:\\Users\\ada\\stepstream',
      lock: 'C:\\Users\\ada\\stepstream\\stepstream.db.lock',
    })
  })

  test('a path on another drive, with either slash, ignores the working folder', () => {
    for (const path of ['D:\\data\\chats.db', 'D:/data/chats.db']) {
      expect(storeFiles(path, 'C:\\Users\\ada', win32)).toEqual({
        database: 'D:\\data\\chats.db',
        folder: 'D:\\data',
        lock: 'D:\\data\\chats.db.lock',
      })
    }
  })

  test('a file at the root of a drive and on a network share has a folder', () => {
    expect(storeFiles('E:\\chats.db', 'C:\\', win32).folder).toBe('E:\\')
    expect(storeFiles('\\\\nas\\share\\chats.db', 'C:\\', win32)).toEqual({
      database: '\\\\nas\\share\\chats.db',
      folder: '\\\\nas\\share\\',
      lock: '\\\\nas\\share\\chats.db.lock',
    })
  })

  test('the same resolution under POSIX paths', () => {
    expect(storeFiles('./stepstream.db', '/var/lib/stepstream', posix)).toEqual({
      database: '/var/lib/stepstream/stepstream.db',
      folder: '/var/lib/stepstream',
      lock: '/var/lib/stepstream/stepstream.db.lock',
    })
  })

  test('--store sqlite: keeps a drive letter and backslashes as they were typed', () => {
    for (const path of ['C:\\ProgramData\\stepstream\\stepstream.db', 'C:/data/x.db', '.\\stepstream.db']) {
      const parsed = parseConfig(['--store', `sqlite:${path}`], {})
      expect(parsed.kind === 'run' && parsed.config.server.store).toEqual({ kind: 'sqlite', path })
    }
  })
})

describe('files written on Windows (CRLF line endings)', () => {
  test('a token file with CRLF lines gives tokens without the CR', () => {
    const a = 'a'.repeat(32)
    const b = 'b'.repeat(32)
    expect(authTokens(`# tokens\r\n${a}\r\n${b}\r\n`)).toEqual([a, b])
  })
})
