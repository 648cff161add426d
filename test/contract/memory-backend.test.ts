import { MemoryBackend } from '../../src/log/backends/memory-backend.ts'
import { backendContract } from './backend.contract.ts'

backendContract('memory', () => new MemoryBackend())
