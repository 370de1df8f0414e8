// The 1Flow web plugin's own modules under node, for the conformance and lifecycle tests (driven by pytest).
// Same JSON-lines protocol as tests/oracle/oracle.js: {"op": …, …args} in, {"ok": result} or {"fail": message} out.
// `impl` picks the evaluator: "source" (the ES modules) or "bundle" (the same modules built with the plugin's
// esbuild options: minified and lowered to es2017), so the conformance covers what browsers actually run.
import readline from 'node:readline'
import { build } from 'esbuild'
import { matches } from '../../src/actions_1flow/destinations/oneflow/web/fql.js'
import { transform } from '../../src/actions_1flow/destinations/oneflow/web/mapping.js'
import { consentVerdict, dropPaths } from '../../src/actions_1flow/destinations/oneflow/web/consent.js'
import { BUILD_OPTIONS, WEB_DIR } from '../../scripts/build-plugin.mjs'
import { scenarios } from './lifecycle.mjs'

const EVALUATORS =
  "export { matches } from './fql.js'\nexport { transform } from './mapping.js'\nexport { consentVerdict, dropPaths } from './consent.js'\n"
let bundled
async function evaluator(impl = 'source') {
  if (impl === 'source') return { matches, transform, consentVerdict, dropPaths }
  if (impl !== 'bundle') throw new Error(`unknown impl ${impl}`)
  if (!bundled) {
    const stdin = { contents: EVALUATORS, resolveDir: WEB_DIR, sourcefile: 'evaluators.js' }
    const result = await build({ ...BUILD_OPTIONS, stdin, format: 'esm', write: false })
    bundled = await import(`data:text/javascript;base64,${Buffer.from(result.outputFiles[0].text).toString('base64')}`)
  }
  return bundled
}

const errorOf = (e) => (e && e.message !== undefined ? String(e.message) : String(e))

function match({ matches }, ast, event) {
  try {
    return matches(ast, event)
  } catch (e) {
    return { throws: errorOf(e) }
  }
}

// Output as JSON text, so key order and number formatting are compared exactly as JSON.stringify writes them.
function mappingTransform({ transform }, mapping, event) {
  try {
    return { output: JSON.stringify(transform(mapping, event)) }
  } catch (e) {
    return { error: { kind: 'runtime', messages: [errorOf(e)] } }
  }
}

async function runScenario(name) {
  const scenario = scenarios[name]
  if (!scenario) throw new Error(`unknown scenario ${name}`)
  try {
    await scenario()
    return { passed: true }
  } catch (e) {
    return { passed: false, message: e && e.stack ? String(e.stack) : errorOf(e) }
  }
}

const ops = {
  'fql.matchMany': async (a) => {
    const impl = await evaluator(a.impl)
    return a.cases.map((c) => c.events.map((ev) => match(impl, c.ast, ev)))
  },
  'fql.matchGrid': async (a) => {
    const impl = await evaluator(a.impl)
    return a.asts.map((ast) => a.events.map((ev) => match(impl, ast, ev)))
  },
  'mapping.transformMany': async (a) => {
    const impl = await evaluator(a.impl)
    return a.cases.map((c) => mappingTransform(impl, c.mapping, c.event))
  },
  // The shared consent cases: each verdict, and each drop's result with whether the input was left unchanged.
  'consent.verdictMany': async (a) => {
    const impl = await evaluator(a.impl)
    return a.cases.map((c) => impl.consentVerdict(c.consent, c.event))
  },
  'privacy.dropMany': async (a) => {
    const impl = await evaluator(a.impl)
    return a.cases.map((c) => {
      const before = JSON.stringify(c.event)
      const result = impl.dropPaths(c.event, c.paths)
      return { result, unchanged: JSON.stringify(c.event) === before, copied: result !== c.event }
    })
  },
  'lifecycle.list': () => Object.keys(scenarios),
  'lifecycle.run': (a) => runScenario(a.name),
  ping: () => 'pong',
}

// One request at a time, in order, even when an op is asynchronous.
let chain = Promise.resolve()
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
rl.on('line', (line) => {
  chain = chain.then(async () => {
    let reply
    try {
      const req = JSON.parse(line)
      const fn = ops[req.op]
      if (!fn) throw new Error('unknown op ' + req.op)
      reply = { ok: await fn(req) }
    } catch (e) {
      reply = { fail: errorOf(e) }
    }
    process.stdout.write(JSON.stringify(reply) + '\n')
  })
})
