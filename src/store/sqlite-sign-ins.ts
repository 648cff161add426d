import type { Database, Statement } from 'bun:sqlite'
import type { SignIns } from './sign-ins.ts'

/**
 * Sign-ins in the SQLite database, in a table of their own that this class creates when missing: it holds no chat
 * data and nothing refers to it, so it stays outside the chats' schema history (sqlite-schema.ts). Each statement is
 * its own short transaction on the store's connection.
 */
export class SqliteSignIns implements SignIns {
  readonly #insert: Statement<unknown, [string, number]>
  readonly #select: Statement<{ found: number }, [string, number]>
  readonly #delete: Statement<unknown, [string]>
  readonly #deleteExpired: Statement<unknown, [number]>

  constructor(db: Database) {
    db.run('CREATE TABLE IF NOT EXISTS sign_ins (hash TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) STRICT, WITHOUT ROWID')
    this.#insert = db.query('INSERT OR REPLACE INTO sign_ins (hash, expires_at) VALUES (?, ?)')
    this.#select = db.query('SELECT 1 AS found FROM sign_ins WHERE hash = ? AND expires_at > ?')
    this.#delete = db.query('DELETE FROM sign_ins WHERE hash = ?')
    this.#deleteExpired = db.query('DELETE FROM sign_ins WHERE expires_at <= ?')
  }

  async add(hash: string, expiresAt: number): Promise<void> {
    // The expired rows go whenever a new one comes, so the table holds only live sign-ins.
    this.#deleteExpired.run(Date.now())
    this.#insert.run(hash, expiresAt)
  }

  async has(hash: string, now: number): Promise<boolean> {
    return this.#select.get(hash, now) !== null
  }

  async remove(hash: string): Promise<void> {
    this.#delete.run(hash)
  }
}
