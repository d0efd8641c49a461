// npm pkarr@1.3.0 as an oracle: build/sign/verify SignedPackets and use its
// relay client (Pkarr.relayPut / Pkarr.relayGet). See lib.mjs for the I/O protocol.
//
// ops:
//   sign       {seed, answers, timestamp?}          -> {public_key, payload, timestamp, packet}
//   verify     {public_key, payload}                -> {timestamp, answers, payload}
//   relay_put  {relay, seed, answers, timestamp?}   -> {status, body, payload}
//   relay_put_raw {relay, public_key, payload}      -> {status, body}
//   relay_get  {relay, public_key}                  -> {status, payload, timestamp, answers}
// All byte strings are hex; public_key is z-base-32; answers are dns-packet
// answer objects (names relative to the key, e.g. "@", "foo", "_pubky").

import { Pkarr, SignedPacket, generateKeyPair, z32 } from 'pkarr'
import { hex, runOps, unhex } from './lib.mjs'

function signedPacketFrom ({ seed, answers, timestamp }) {
  const keypair = generateKeyPair(Buffer.from(unhex(seed)))
  const packet = { id: 0, type: 'response', flags: 0, answers: structuredClone(answers || []) }
  for (const answer of packet.answers) {
    // JSON cannot carry Buffers: {"hex": "..."} values become bytes.
    if (answer.data && typeof answer.data === 'object' && typeof answer.data.hex === 'string') {
      answer.data = Buffer.from(answer.data.hex, 'hex')
    }
  }
  const options = timestamp === undefined || timestamp === null ? {} : { timestamp: Number(timestamp) }
  return SignedPacket.fromPacket(keypair, packet, options)
}

function describePacket (signedPacket) {
  const bytes = Buffer.from(signedPacket.bytes())
  return {
    public_key: z32.encode(signedPacket.publicKey()),
    payload: hex(bytes),
    packet: hex(bytes.subarray(72)),
    timestamp: String(signedPacket.timestamp()),
    answers: signedPacket.packet().answers
  }
}

function relayBase (relay) {
  return String(relay).replace(/\/+$/, '')
}

await runOps({
  sign (args) {
    return describePacket(signedPacketFrom(args))
  },

  verify ({ public_key: publicKey, payload }) {
    return describePacket(SignedPacket.fromBytes(z32.decode(publicKey), unhex(payload)))
  },

  async relay_put (args) {
    const signedPacket = signedPacketFrom(args)
    const response = await Pkarr.relayPut(relayBase(args.relay), signedPacket)
    return { status: response.status, body: await response.text(), ...describePacket(signedPacket) }
  },

  async relay_put_raw ({ relay, public_key: publicKey, payload }) {
    const response = await fetch(`${relayBase(relay)}/${publicKey}`, { method: 'PUT', body: unhex(payload) })
    return { status: response.status, body: await response.text() }
  },

  async relay_get ({ relay, public_key: publicKey }) {
    // Pkarr.relayGet throws on anything but a verifiable body; report the status too.
    const response = await fetch(`${relayBase(relay)}/${publicKey}`)
    const status = response.status
    if (status !== 200) return { status, body: await response.text() }
    await response.arrayBuffer()
    const signedPacket = await Pkarr.relayGet(relayBase(relay), z32.decode(publicKey))
    return { status, ...describePacket(signedPacket) }
  }
})
