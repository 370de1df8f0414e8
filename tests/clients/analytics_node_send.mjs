// @segment/analytics-node (the pinned npm package), unchanged, pointed at our server with `host`.
// Reads one JSON object on stdin: {host, writeKey, settings?, calls: [{method, args}]}; makes every call with a
// callback, waits for closeAndFlush, and prints {"accepted": [messageId…], "failed": [{messageId, reason}…]}:
// what the client was told by the server for each event.
import { Analytics } from '@segment/analytics-node'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const analytics = new Analytics({
  writeKey: input.writeKey,
  host: input.host,
  flushInterval: 50,
  maxRetries: 2,
  ...(input.settings || {}),
})
const accepted = []
const failed = []
const done = []
for (const { method, args } of input.calls) {
  done.push(
    new Promise((resolve) => {
      analytics[method](args, (err, ctx) => {
        const messageId = ctx && ctx.event ? ctx.event.messageId : null
        if (err) failed.push({ messageId, reason: String(err && err.message ? err.message : err), properties: ctx?.event?.properties })
        else accepted.push({ messageId, properties: ctx?.event?.properties, traits: ctx?.event?.traits })
        resolve()
      })
    }),
  )
}
await analytics.closeAndFlush({ timeout: 60000 })
await Promise.all(done)
process.stdout.write(JSON.stringify({ accepted, failed }) + '\n')
