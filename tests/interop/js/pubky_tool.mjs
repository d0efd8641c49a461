// npm @synonymdev/pubky@0.6.0 (WASM) as an oracle. See lib.mjs for the I/O protocol.
//
// Offline ops (no network):
//   keypair_from_secret {secret}                 -> {z32, display, public_key, secret}
//   recovery_create     {secret, passphrase}     -> {file}
//   recovery_open       {file, passphrase}       -> {z32, secret}
//   public_key_from     {values: [string]}       -> {parsed: [{input, ok, z32 | error}]}
//   auth_token_parse    {token}                  -> {public_key, capabilities, bytes}
//   auth_token_verify   {token}                  -> {public_key, capabilities, bytes}
//   validate_capabilities {values: [string]}     -> {validated: [{input, ok, value | error}]}
//
// Network ops (loopback testnet; `relays` are PKARR relay base URLs):
//   user_flow   {relays, homeserver, signup_token, secret, second_secret}
//               -> {user, steps: {name: {ok, value | error}}}   (see userFlow below)
//   auth_flow   {relays, http_relay, capabilities, await: "token"|"session",
//                approver: "wasm" (needs secret) | "external" (needs url_file),
//                write_inside?, write_outside?}
//               -> {authorization_url, token? | session? + writes}
//   approve_auth_url {relays, secret, url}       -> {}   (signer.approveAuthRequest)
//   signin      {relays, secret, blocking}       -> {public_key, capabilities}
//   get_homeserver_of {relays, user}             -> {homeserver | null}
//   public_get_text {relays, address}            -> {text}
//   public_list {relays, address}                -> {entries}
//   publish_homeserver {relays, secret, homeserver} -> {}   (signer.pkdns.publishHomeserverForce)
//
// Byte strings are hex; keys are z-base-32.

import {
  AuthFlowKind,
  AuthToken,
  Client,
  Keypair,
  Pubky,
  PublicKey,
  validateCapabilities
} from '@synonymdev/pubky'
import { createHash } from 'node:crypto'
import { rename, writeFile } from 'node:fs/promises'
import { describeError, hex, runOps, unhex } from './lib.mjs'

function pubkyFor (relays) {
  if (!Array.isArray(relays) || relays.length === 0) throw new TypeError('relays must be a non-empty list')
  const client = new Client({ pkarr: { relays, request_timeout: 3000 } })
  return Pubky.withClient(client)
}

function sha256 (bytes) {
  return createHash('sha256').update(bytes).digest()
}

function describeToken (token) {
  return {
    public_key: token.publicKey.z32(),
    capabilities: Array.from(token.capabilities),
    bytes: hex(token.toBytes())
  }
}

function describeSession (session) {
  return {
    public_key: session.info.publicKey.z32(),
    capabilities: Array.from(session.info.capabilities)
  }
}

/** Run one named step; record {ok, value} or {ok: false, error} and never throw. */
async function step (steps, name, fn) {
  try {
    const value = await fn()
    steps[name] = { ok: true, value: value === undefined ? null : value }
    return value
  } catch (err) {
    console.error(`step ${name} failed:`, err?.stack || err)
    steps[name] = { ok: false, error: describeError(err) }
    return undefined
  }
}

/**
 * The whole user journey of the 0.6.0 SDK against a homeserver, in one process
 * (cookies live in the SDK's process-wide cookie jar). Every step is recorded, so
 * the Python side can assert each behaviour separately and show the transcript.
 */
async function userFlow ({ relays, homeserver, signup_token: signupToken, secret, second_secret: secondSecret }) {
  const pubky = pubkyFor(relays)
  const hs = PublicKey.from(homeserver)
  const keypair = Keypair.fromSecret(unhex(secret))
  const signer = pubky.signer(keypair)
  const user = keypair.publicKey.z32()
  const display = keypair.publicKey.toString()
  const steps = {}
  const dir = '/pub/interop.test/'
  const listDir = `${dir}list/`
  const listAddress = `${display}${listDir}`

  await step(steps, 'signup_without_token', async () => describeSession(await signer.signup(hs, null)))
  await step(steps, 'signup_with_bogus_token', async () => describeSession(await signer.signup(hs, 'AAAA-BBBB-CCCC')))
  const session = await step(steps, 'signup', async () => signer.signup(hs, signupToken))
  if (session) steps.signup.value = describeSession(session)
  const other = pubky.signer(Keypair.fromSecret(unhex(secondSecret)))
  await step(steps, 'signup_with_used_token', async () => describeSession(await other.signup(hs, signupToken)))
  await step(steps, 'homeserver_of_user', async () => (await pubky.getHomeserverOf(keypair.publicKey))?.z32() ?? null)
  await step(steps, 'pkdns_get_homeserver', async () => (await signer.pkdns.getHomeserver())?.z32() ?? null)
  if (!session) return { user, steps }

  const storage = session.storage
  const binary = new Uint8Array([0, 1, 2, 3, 254, 255])
  await step(steps, 'put_text', () => storage.putText(`${dir}hello.txt`, 'hello from wasm'))
  await step(steps, 'put_json', () => storage.putJson(`${dir}data.json`, { hello: 'world', n: 1 }))
  await step(steps, 'put_bytes', () => storage.putBytes(`${dir}blob.bin`, binary))
  await step(steps, 'put_outside_pub', () => storage.putText('/priv/secret.txt', 'nope'))
  for (const name of ['a.txt', 'b.txt', 'c/d.txt', 'c/e.txt', 'f.txt']) {
    await step(steps, `put_list_${name}`, () => storage.putText(`${listDir}${name}`, name))
  }

  const big = new Uint8Array(1024 * 1024)
  for (let i = 0; i < big.length; i += 65536) crypto.getRandomValues(big.subarray(i, i + 65536))
  await step(steps, 'put_big', async () => { await storage.putBytes(`${dir}big.bin`, big); return hex(sha256(big)) })
  await step(steps, 'get_big', async () => hex(sha256(await storage.getBytes(`${dir}big.bin`))))
  const odd = `${dir}odd/ünï cödé & co+plus.txt`
  await step(steps, 'put_odd_path', () => storage.putText(odd, 'odd path'))
  await step(steps, 'get_odd_path', () => storage.getText(odd))
  await step(steps, 'public_get_odd_path', () => pubky.publicStorage.getText(`${display}${odd}`))
  await step(steps, 'list_odd_dir', () => pubky.publicStorage.list(`${display}${dir}odd/`))

  await step(steps, 'get_text', () => storage.getText(`${dir}hello.txt`))
  await step(steps, 'get_json', () => storage.getJson(`${dir}data.json`))
  await step(steps, 'get_bytes', async () => hex(await storage.getBytes(`${dir}blob.bin`)))
  await step(steps, 'public_get_text', () => pubky.publicStorage.getText(`${display}${dir}hello.txt`))
  await step(steps, 'public_get_text_pubky_url', () => pubky.publicStorage.getText(`pubky://${user}${dir}hello.txt`))
  await step(steps, 'public_get_json', () => pubky.publicStorage.getJson(`${display}${dir}data.json`))
  await step(steps, 'exists_present', () => pubky.publicStorage.exists(`${display}${dir}hello.txt`))
  await step(steps, 'exists_missing', () => pubky.publicStorage.exists(`${display}${dir}missing.txt`))
  await step(steps, 'stats', async () => {
    const s = await pubky.publicStorage.stats(`${display}${dir}blob.bin`)
    return s === undefined ? null : { ...s }
  })
  await step(steps, 'stats_missing', async () => (await pubky.publicStorage.stats(`${display}${dir}missing.txt`)) ?? null)
  await step(steps, 'raw_get_headers', async () => {
    const response = await pubky.publicStorage.get(`${display}${dir}hello.txt`)
    const headers = {}
    response.headers.forEach((value, key) => { headers[key] = value })
    return { status: response.status, headers, body: await response.text() }
  })

  const list = (name, ...args) => step(steps, name, () => pubky.publicStorage.list(listAddress, ...args))
  await list('list_deep')
  await list('list_shallow', null, false, null, true)
  await list('list_limit', null, false, 2)
  const firstPage = steps.list_limit.ok ? steps.list_limit.value : []
  const cursor = firstPage.length ? firstPage[firstPage.length - 1] : null
  await step(steps, 'list_cursor', () => pubky.publicStorage.list(listAddress, cursor, false, 2))
  await list('list_reverse', null, true)
  await list('list_reverse_limit', null, true, 2)
  await list('list_shallow_reverse', null, true, null, true)
  await step(steps, 'session_list', () => storage.list(listDir))
  await step(steps, 'list_missing_dir', () => pubky.publicStorage.list(`${display}${dir}nothing-here/`))

  await step(steps, 'delete', () => storage.delete(`${listDir}f.txt`))
  await step(steps, 'exists_after_delete', () => pubky.publicStorage.exists(`${listAddress}f.txt`))
  await step(steps, 'get_after_delete', () => pubky.publicStorage.getText(`${listAddress}f.txt`))

  await step(steps, 'signout', () => session.signout())
  await step(steps, 'put_after_signout', () => storage.putText(`${dir}after-signout.txt`, 'x'))

  const again = await step(steps, 'signin_blocking', async () => signer.signinBlocking())
  if (again) {
    steps.signin_blocking.value = describeSession(again)
    await step(steps, 'put_after_signin', () => again.storage.putText(`${dir}after-signin.txt`, 'back'))
    await step(steps, 'get_after_signin', () => again.storage.getText(`${dir}after-signin.txt`))
  }
  const fast = await step(steps, 'signin', async () => signer.signin())
  if (fast) steps.signin.value = describeSession(fast)
  await step(steps, 'homeserver_of_user_after_signin', async () => (await pubky.getHomeserverOf(keypair.publicKey))?.z32() ?? null)
  return { user, steps }
}

/**
 * pubkyauth: the app starts a flow on the HTTP relay and receives either the AuthToken
 * (`await: "token"`, auth-only) or a homeserver session (`await: "session"`).
 * `approver: "wasm"` — the WASM signer (key `secret`) approves the deep link itself;
 * `approver: "external"` — the deep link is written to `url_file` for someone else (Python)
 * to approve, and the app just waits.
 */
async function authFlow (args) {
  const { relays, http_relay: httpRelay, capabilities, secret, approver = 'wasm' } = args
  const awaited = args.await || 'token'
  const pubky = pubkyFor(relays)
  const flow = pubky.startAuthFlow(capabilities, AuthFlowKind.signin(), httpRelay)
  const authorizationUrl = flow.authorizationUrl
  let approval = Promise.resolve()
  if (approver === 'wasm') {
    // The relay is a rendezvous: approve (producer) and await (consumer) must overlap.
    approval = pubky.signer(Keypair.fromSecret(unhex(secret))).approveAuthRequest(authorizationUrl)
  } else {
    // Write-then-rename so the reader never sees a half-written link.
    await writeFile(`${args.url_file}.tmp`, authorizationUrl)
    await rename(`${args.url_file}.tmp`, args.url_file)
  }
  if (awaited === 'token') {
    const [token] = await Promise.all([flow.awaitToken(), approval])
    return { authorization_url: authorizationUrl, token: describeToken(token) }
  }
  const [session] = await Promise.all([flow.awaitApproval(), approval])
  const result = { authorization_url: authorizationUrl, session: describeSession(session), writes: {} }
  if (args.write_inside) {
    await step(result.writes, 'inside', () => session.storage.putText(args.write_inside, 'inside scope'))
  }
  if (args.write_outside) {
    await step(result.writes, 'outside', () => session.storage.putText(args.write_outside, 'outside scope'))
  }
  return result
}

await runOps({
  keypair_from_secret ({ secret }) {
    const keypair = Keypair.fromSecret(unhex(secret))
    return {
      z32: keypair.publicKey.z32(),
      display: keypair.publicKey.toString(),
      public_key: hex(keypair.publicKey.toUint8Array()),
      secret: hex(keypair.secret())
    }
  },

  recovery_create ({ secret, passphrase }) {
    return { file: hex(Keypair.fromSecret(unhex(secret)).createRecoveryFile(passphrase)) }
  },

  recovery_open ({ file, passphrase }) {
    const keypair = Keypair.fromRecoveryFile(unhex(file), passphrase)
    return { z32: keypair.publicKey.z32(), secret: hex(keypair.secret()) }
  },

  public_key_from ({ values }) {
    return {
      parsed: values.map((input) => {
        try {
          return { input, ok: true, z32: PublicKey.from(input).z32() }
        } catch (err) {
          return { input, ok: false, error: describeError(err) }
        }
      })
    }
  },

  validate_capabilities ({ values }) {
    return {
      validated: values.map((input) => {
        try {
          return { input, ok: true, value: validateCapabilities(input) }
        } catch (err) {
          return { input, ok: false, error: describeError(err) }
        }
      })
    }
  },

  auth_token_parse ({ token }) {
    return describeToken(AuthToken.fromBytes(unhex(token)))
  },

  auth_token_verify ({ token }) {
    return describeToken(AuthToken.verify(unhex(token)))
  },

  user_flow: userFlow,

  auth_flow: authFlow,

  async approve_auth_url ({ relays, secret, url }) {
    await pubkyFor(relays).signer(Keypair.fromSecret(unhex(secret))).approveAuthRequest(url)
    return {}
  },

  async signin ({ relays, secret, blocking }) {
    const signer = pubkyFor(relays).signer(Keypair.fromSecret(unhex(secret)))
    return describeSession(blocking ? await signer.signinBlocking() : await signer.signin())
  },

  async get_homeserver_of ({ relays, user }) {
    const homeserver = await pubkyFor(relays).getHomeserverOf(PublicKey.from(user))
    return { homeserver: homeserver ? homeserver.z32() : null }
  },

  async public_get_text ({ relays, address }) {
    return { text: await pubkyFor(relays).publicStorage.getText(address) }
  },

  async public_list ({ relays, address }) {
    return { entries: await pubkyFor(relays).publicStorage.list(address) }
  },

  async publish_homeserver ({ relays, secret, homeserver }) {
    const signer = pubkyFor(relays).signer(Keypair.fromSecret(unhex(secret)))
    await signer.pkdns.publishHomeserverForce(PublicKey.from(homeserver))
    return {}
  }
})
