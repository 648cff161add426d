/**
 * `bun examples/custom-step/server.ts [command …]`: stepstream with one step of your own, which streams the output
 * of a command line by line (by default a countdown). Open http://localhost:8080 and start a chat.
 */
import { createServer } from 'stepstream'
import { shellStep } from './shell-step.ts'

const DEFAULT_COMMAND = ['sh', '-c', 'echo "You said: $MESSAGE"; for i in 5 4 3 2 1; do echo "$i…"; sleep 1; done; echo done']

const command = process.argv.length > 2 ? process.argv.slice(2) : DEFAULT_COMMAND
const server = await createServer({ steps: [shellStep(command)] })
const url = server.listen({ port: Number(process.env.PORT ?? 8080) })
console.log(`stepstream with a shell step at ${url}`)
process.on('SIGINT', () => void server.stop().then(() => process.exit(0)))
process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)))
