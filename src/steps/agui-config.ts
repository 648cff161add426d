import { ConfigError, type ConfigPart, httpUrl } from '../flags.ts'
import { requestTimeoutConfig } from './upstream-config.ts'

/** How the `agui` step reaches its AG-UI agent. */
export interface AguiConfig {
  /** The agent's AG-UI endpoint (it takes a POSTed RunAgentInput and answers SSE); required for the agui step. */
  url?: string
  /** Sent with every request (`--agui-header "Name: value"`, repeated), e.g. the agent's auth; never logged. */
  headers: Record<string, string>
  /** A request that sends no byte for this long ends the run with an error; milliseconds, default 120,000. */
  requestTimeoutMs: number
}

/** `--agui-header "Name: value"` values as headers; a value without a name, or a name that is not a token, is refused. */
export function headerList(raw: readonly string[]): Record<string, string> {
  const headers: [string, string][] = []
  for (const line of raw) {
    const match = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/.exec(line)
    if (!match || /[\r\n\0]/.test(match[2]!)) {
      // Never the value: it is usually a credential.
      throw new ConfigError('--agui-header must be "Name: value", e.g. "Authorization: Bearer …"; one of them is not')
    }
    headers.push([match[1]!, match[2]!])
  }
  // Own properties, whatever the name (a header called __proto__ included): never an assignment to an object's key.
  return Object.fromEntries(headers)
}

/** The agui step's flags. */
export const aguiConfig: ConfigPart<AguiConfig> = {
  flags: {
    'agui-url': {
      env: ['STEPSTREAM_AGUI_URL'],
      value: '<url>',
      help: 'agui step: the AG-UI endpoint of an agent, e.g. http://localhost:8000/agent (required)',
    },
    'agui-header': {
      env: ['STEPSTREAM_AGUI_HEADER'],
      value: '"Name: value"',
      help: 'agui step: a header sent to the agent (repeat the flag for several; one a line in the env)',
      multiple: true,
    },
    ...requestTimeoutConfig.flags,
  },
  parse: (read) => {
    const url = read.get('agui-url')
    return {
      url: url ? httpUrl('agui-url', url, 'http://localhost:8000/agent') : undefined,
      headers: headerList(read.all('agui-header')),
      requestTimeoutMs: requestTimeoutConfig.parse(read),
    }
  },
}
