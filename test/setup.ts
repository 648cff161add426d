import { setDefaultTimeout } from 'bun:test'

// Real-port, binary and browser tests start processes and browsers; unit tests finish in milliseconds anyway.
setDefaultTimeout(30_000)
