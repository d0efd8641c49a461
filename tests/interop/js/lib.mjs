// Shared plumbing for the interop scripts: JSON in (stdin), JSON out (stdout).
//
// Protocol: the parent writes one JSON document {"ops": [{"op": name, ...args}, ...]}
// to stdin and closes it. Each op runs in order; the script prints one JSON line
// {"results": [...]} where every result is {"ok": true, ...} or
// {"ok": false, "error": {name, message, data}}. Diagnostics go to stderr.
// A failure of one op never aborts the others, so a single process answers a
// whole batch (Node + WASM start-up is the slow part).

export function hex (bytes) {
  return Buffer.from(bytes).toString('hex')
}

export function unhex (text) {
  if (typeof text !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(text)) {
    throw new TypeError(`expected a hex string, got ${JSON.stringify(text)}`)
  }
  return new Uint8Array(Buffer.from(text, 'hex'))
}

export function describeError (err) {
  if (err === null || err === undefined) return { name: 'Error', message: String(err) }
  if (typeof err !== 'object') return { name: 'Error', message: String(err) }
  const out = { name: err.name || 'Error', message: err.message || String(err) }
  if (err.data !== undefined) {
    try {
      out.data = JSON.parse(JSON.stringify(err.data))
    } catch {
      out.data = String(err.data)
    }
  }
  if (err.code !== undefined) out.code = err.code
  return out
}

async function readStdin () {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}

/** Buffers/Uint8Arrays become {"hex": "..."} so dns-packet output survives JSON. */
function jsonReplacer (_key, value) {
  if (value && typeof value === 'object' && value.type === 'Buffer' && Array.isArray(value.data)) {
    return { hex: Buffer.from(value.data).toString('hex') }
  }
  if (value instanceof Uint8Array) return { hex: Buffer.from(value).toString('hex') }
  if (typeof value === 'bigint') return value.toString()
  return value
}

/**
 * Run the ops read from stdin with the given handlers and print the results.
 * @param {Record<string, (args: any) => Promise<object>|object>} handlers
 */
export async function runOps (handlers) {
  // Keep stdout for the single result line.
  console.log = (...args) => console.error(...args)
  let request
  try {
    request = JSON.parse(await readStdin())
  } catch (err) {
    console.error('invalid JSON on stdin:', err)
    process.exit(2)
  }
  const results = []
  for (const args of request.ops || []) {
    const handler = handlers[args.op]
    if (!handler) {
      results.push({ ok: false, error: { name: 'UnknownOp', message: `unknown op ${args.op}` } })
      continue
    }
    try {
      results.push({ ok: true, ...(await handler(args)) })
    } catch (err) {
      console.error(`op ${args.op} failed:`, err?.stack || err)
      results.push({ ok: false, error: describeError(err) })
    }
  }
  process.stdout.write(JSON.stringify({ results }, jsonReplacer) + '\n', () => process.exit(0))
}
