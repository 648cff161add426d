import { MemoryStore } from '../../src/store/memory-store.ts'
import { storeContract } from './store.contract.ts'

storeContract('memory', (options) => new MemoryStore(options))
