// Segment's own engine as a test oracle: JSON lines in, JSON lines out.
// Request: {"op": "...", ...args}; reply: {"ok": result} or {"fail": message}.
// Runs the pinned npm packages from the project's node_modules.
'use strict'
const readline = require('readline')
const { parseFql, validate, generateFql } = require('@segment/destination-subscriptions')
const path = require('path')
const { Destination, transform, fieldsToJsonSchema, validateSchema } = require('@segment/actions-core')
// removeEmptyValues and mapping-kit's standalone validate() are not exported; load them from the same build.
const { removeEmptyValues } = require(path.join(path.dirname(require.resolve('@segment/actions-core')), 'remove-empty-values.js'))
const standaloneValidate = require(path.join(path.dirname(require.resolve('@segment/actions-core')), 'mapping-kit', 'validate.js')).default

function errorOf(e) {
  return e && e.message !== undefined ? String(e.message) : String(e)
}

// Parse FQL the way Segment does: {ast} or {error}.
function fqlParse(text) {
  const r = parseFql(text)
  if (r && r.error) return { error: errorOf(r.error) }
  return { ast: r }
}

function fqlMatch(ast, event) {
  try {
    return validate(ast, event)
  } catch (e) {
    return { throws: errorOf(e) }
  }
}

// generateFql(ast) → parseFql(text) → validate on each event, in one round trip (the FQL differential tests).
function fqlRoundtrip({ ast, events }) {
  let text
  try {
    text = generateFql(ast)
  } catch (e) {
    return { generateError: errorOf(e) }
  }
  return { text, ...fqlParseAndMatch(text, events) }
}

// parseFql(text) and, when it parsed, validate() of that AST on each event.
function fqlParseAndMatch(text, events) {
  const parsed = fqlParse(text)
  if (parsed.error) return { parsed }
  return { parsed, matches: events.map((ev) => fqlMatch(parsed.ast, ev)) }
}

// A mapping-kit failure classified as validation (ValidationError or its aggregate) or runtime.
function mappingFailure(e) {
  const isAggregate = e && e.name === 'AggregateError' && typeof e[Symbol.iterator] === 'function'
  if (isAggregate) return { error: { kind: 'validation', messages: [...e].map(errorOf) } }
  if (e && e.constructor && e.constructor.name === 'ValidationError')
    return { error: { kind: 'validation', messages: [errorOf(e)] } }
  return { error: { kind: 'runtime', messages: [errorOf(e)] } }
}

function mappingTransform(mapping, event) {
  try {
    return { output: transform(mapping, event) }
  } catch (e) {
    return mappingFailure(e)
  }
}

// mapping-kit's own validate(mapping), which its tests call (transform() validates after expanding the root key).
function mappingValidateStandalone(mapping) {
  try {
    standaloneValidate(mapping)
    return { valid: true }
  } catch (e) {
    return mappingFailure(e)
  }
}

// destination-kit payload handling for one action: removeEmptyValues (root unless batch), then ajv validation.
function kitValidate({ fields, payload, batch }) {
  const schema = fieldsToJsonSchema(fields)
  const cleaned = removeEmptyValues(payload, schema, !batch)
  try {
    validateSchema(cleaned, schema)
    return { payload: cleaned }
  } catch (e) {
    return { error: errorOf(e), name: e && e.name }
  }
}

// Whether Segment's ajv format `date-like` (a datetime field) accepts the text.
const dateLikeSchema = fieldsToJsonSchema({ when: { label: 'When', type: 'datetime' } })
function isDateLike(text) {
  try {
    validateSchema({ when: text }, dateLikeSchema)
    return true
  } catch (e) {
    return false
  }
}

// Whether Segment's validation accepts a mapping *everywhere it can run*: the mapping itself (as transform()
// validates it, root directive expanded) and the `apply` of every @transform inside it, which transform()
// re-validates at run time even where the outer validation does not look (raw arrays, raw @literal objects).
// Returns null when accepted, else the validation messages.
function validationMessages(mapping, event) {
  const r = mappingTransform(mapping, event)
  return r.error && r.error.kind === 'validation' ? r.error.messages : null
}
function mappingCheck(mapping) {
  const own = validationMessages(mapping, {})
  if (own) return own
  const stack = [mapping]
  while (stack.length) {
    const node = stack.pop()
    if (!node || typeof node !== 'object') continue
    const options = Array.isArray(node) ? undefined : node['@transform']
    if (options && typeof options === 'object' && options.apply && typeof options.apply === 'object') {
      const nested = validationMessages(options.apply, {})
      if (nested) return nested
    }
    stack.push(...Object.values(node))
  }
  return null
}

// Throughput of destination-kit payload handling (removeEmptyValues + cached ajv validation), as an action runs it.
function kitBench({ fields, payloads, seconds }) {
  const schema = fieldsToJsonSchema(fields)
  let n = 0
  const end = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9))
  const start = process.hrtime.bigint()
  while (process.hrtime.bigint() < end) {
    for (const p of payloads) {
      const copy = { ...p }
      try { validateSchema(removeEmptyValues(copy, schema, true), schema, { schemaKey: 'bench' }) } catch (e) { /* work done */ }
      n++
    }
  }
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9
  return { ops: n, seconds: elapsed, per_second: n / elapsed }
}

// Throughput of Segment's whole cloud event flow (Destination.onEvent: triggers, mappings, removeEmptyValues,
// validation, perform) for a destination whose actions return their payload; one event at a time.
async function eventBench({ settings, actions, subscriptions, events, seconds }) {
  const definition = { name: 'bench', mode: 'cloud', authentication: { scheme: 'custom', fields: settings }, actions: {} }
  for (const [slug, fields] of Object.entries(actions))
    definition.actions[slug] = { title: slug, description: '', fields, perform: (request, { payload }) => payload }
  const destination = new Destination(definition)
  const config = { projectApiKey: 'k', subscriptions }
  let n = 0
  const end = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9))
  const start = process.hrtime.bigint()
  while (process.hrtime.bigint() < end) {
    for (const event of events) {
      try { await destination.onEvent(event, config) } catch (e) { /* counted */ }
      n++
    }
  }
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9
  return { ops: n, seconds: elapsed, per_second: n / elapsed }
}

// Throughput of validate() on pre-parsed ASTs: every AST against every event, repeated for `seconds`.
function fqlBench({ asts, events, seconds }) {
  let n = 0
  let hits = 0
  const end = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9))
  const start = process.hrtime.bigint()
  while (process.hrtime.bigint() < end) {
    for (const ast of asts) for (const ev of events) { if (validate(ast, ev)) hits++; n++ }
  }
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9
  return { ops: n, seconds: elapsed, per_second: n / elapsed, hits }
}

// Throughput of transform(): every mapping over every event, repeated for `seconds`.
function mappingBench({ mappings, events, seconds }) {
  let n = 0
  const end = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9))
  const start = process.hrtime.bigint()
  while (process.hrtime.bigint() < end) {
    for (const m of mappings) for (const ev of events) {
      try { transform(m, ev) } catch (e) { /* counted: a failing transform is still work done */ }
      n++
    }
  }
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9
  return { ops: n, seconds: elapsed, per_second: n / elapsed }
}

// Throughput of transform() over (mapping, event) pairs, repeated for `seconds`.
function mappingBenchPairs({ cases, seconds }) {
  let n = 0
  const end = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9))
  const start = process.hrtime.bigint()
  while (process.hrtime.bigint() < end) {
    for (const c of cases) {
      try { transform(c.mapping, c.event) } catch (e) { /* counted: a failing transform is still work done */ }
      n++
    }
  }
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9
  return { ops: n, seconds: elapsed, per_second: n / elapsed }
}

const ops = {
  'fql.parse': (a) => fqlParse(a.text),
  'fql.parseMany': (a) => a.texts.map(fqlParse),
  'fql.match': (a) => a.events.map((ev) => fqlMatch(a.ast, ev)),
  'fql.matchMany': (a) => a.cases.map((c) => c.events.map((ev) => fqlMatch(c.ast, ev))),
  'fql.matchGrid': (a) => a.asts.map((ast) => a.events.map((ev) => fqlMatch(ast, ev))),
  'fql.generate': (a) => generateFql(a.ast),
  'fql.generateMany': (a) => a.asts.map((ast) => { try { return { text: generateFql(ast) } } catch (e) { return { error: errorOf(e) } } }),
  'fql.roundtrip': fqlRoundtrip,
  'fql.parseAndMatch': (a) => fqlParseAndMatch(a.text, a.events),
  'fql.bench': fqlBench,
  'mapping.transform': (a) => mappingTransform(a.mapping, a.event),
  'mapping.transformMany': (a) => a.cases.map((c) => mappingTransform(c.mapping, c.event)),
  'mapping.checkMany': (a) => a.mappings.map(mappingCheck),
  'mapping.validateStandalone': (a) => mappingValidateStandalone(a.mapping),
  'mapping.bench': mappingBench,
  'kit.schema': (a) => fieldsToJsonSchema(a.fields),
  'kit.validate': kitValidate,
  'kit.validateMany': (a) => a.cases.map(kitValidate),
  'kit.bench': kitBench,
  'kit.eventBench': eventBench,
  'mapping.benchPairs': mappingBenchPairs,
  'date.parseMany': (a) => a.texts.map((t) => { const ms = Date.parse(t); return Number.isNaN(ms) ? null : ms }),
  'date.likeMany': (a) => a.texts.map(isDateLike),
  'ping': () => 'pong',
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
function write(reply) {
  // undefined (e.g. a MISSING result) is not JSON; send null in its place explicitly.
  process.stdout.write(JSON.stringify(reply === undefined ? null : reply) + '\n')
}
rl.on('line', (line) => {
  let result
  try {
    const req = JSON.parse(line)
    const fn = ops[req.op]
    if (!fn) throw new Error('unknown op ' + req.op)
    result = fn(req)
  } catch (e) {
    return write({ fail: errorOf(e) })
  }
  // Async ops (Segment's Destination.onEvent) reply when they settle; the client sends one request at a time.
  if (result && typeof result.then === 'function') result.then((ok) => write({ ok }), (e) => write({ fail: errorOf(e) }))
  else write({ ok: result })
})
