// Offline pkarr@1.3.0 relay for interop tests (loopback only).
//
// Starts a bittorrent-dht node on 127.0.0.1 that bootstraps from nobody and
// stores BEP44 mutable items, then the npm `pkarr` relay whose own DHT node
// bootstraps only from that local node. Both bind 127.0.0.1 on ephemeral ports.
//
// stdout: exactly one JSON line {"relay_url": ..., "port": N, "dht_port": M}
//         once the relay accepts requests. Everything else goes to stderr.
// Exits when stdin closes, or on SIGTERM / SIGINT.

import DHTNode from 'bittorrent-dht'
import sodium from 'sodium-universal'
import PkarrDHT from 'pkarr/lib/dht.js'
import RelayServer from 'pkarr/lib/relay.js'

const HOST = '127.0.0.1'

// The pkarr relay logs every request with console.log; keep stdout for the
// single handshake line so the parent never has to drain it.
const writeStdout = (line) => process.stdout.write(line + '\n')
console.log = (...args) => console.error(...args)

function listenDht (dht) {
  return new Promise((resolve, reject) => {
    dht.once('error', reject)
    dht.listen(0, HOST, () => {
      dht.removeListener('error', reject)
      resolve(dht.address().port)
    })
  })
}

async function main () {
  // 1. The stand-alone "network": one DHT node that stores mutable items.
  //    `verify` is required, otherwise it answers puts with
  //    "verification not supported".
  const storeNode = new DHTNode({
    bootstrap: false,
    host: HOST,
    verify: sodium.crypto_sign_verify_detached
  })
  storeNode.on('warning', (err) => console.error('dht warning:', err?.message || err))
  const dhtPort = await listenDht(storeNode)

  // 2. The relay's own DHT client, bootstrapping only from the node above.
  //    A no-op storage keeps pkarr from reading/writing ~/.config/pkarr.
  const noStorage = { loadRoutingTable () {}, saveRoutingTable () {} }
  const relayDht = new PkarrDHT({
    bootstrap: [`${HOST}:${dhtPort}`],
    storage: noStorage,
    host: HOST,
    verify: sodium.crypto_sign_verify_detached
  })
  const inner = relayDht._dht
  inner.on('warning', (err) => console.error('relay dht warning:', err?.message || err))
  const readyPromise = new Promise((resolve) => inner.once('ready', resolve))
  await listenDht(inner)
  await readyPromise

  // 3. The HTTP relay, bound to loopback only (Server.listen() would bind all
  //    interfaces, so use its http server directly).
  const relay = new RelayServer({ dht: relayDht })
  await new Promise((resolve, reject) => {
    relay._server.once('error', reject)
    relay._server.listen(0, HOST, resolve)
  })
  const port = relay.port

  let closing = false
  const shutdown = (code) => {
    if (closing) return
    closing = true
    const force = setTimeout(() => process.exit(code), 1000)
    force.unref()
    Promise.allSettled([
      relay.close(),
      new Promise((resolve) => storeNode.destroy(resolve))
    ]).finally(() => process.exit(code))
  }

  process.on('SIGTERM', () => shutdown(0))
  process.on('SIGINT', () => shutdown(0))
  process.stdin.on('end', () => shutdown(0))
  process.stdin.on('close', () => shutdown(0))
  process.stdin.on('error', () => shutdown(0))
  process.stdin.resume()

  writeStdout(JSON.stringify({ relay_url: `http://${HOST}:${port}`, port, dht_port: dhtPort }))
}

main().catch((err) => {
  console.error('pkarr_relay failed to start:', err?.stack || err)
  process.exit(1)
})
