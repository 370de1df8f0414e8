// Debian's Firefox ESR driven by puppeteer-core over WebDriver BiDi, for tests/helpers/engines/firefox.py.
// JSON lines in, JSON lines out: {"op": "launch"|"open"|"goto"|"evaluate"|"close"|"quit", ...} → {"ok": value} or
// {"fail": message}. puppeteer-core downloads no browser; the executable is given.
import readline from 'node:readline'
import puppeteer from 'puppeteer-core'

// Offline but for 127.0.0.1: every other host goes to a proxy that is not there (a closed loopback port).
const OFFLINE = {
  'network.proxy.type': 1,
  'network.proxy.http': '127.0.0.1',
  'network.proxy.http_port': 9,
  'network.proxy.ssl': '127.0.0.1',
  'network.proxy.ssl_port': 9,
  'network.proxy.no_proxies_on': '127.0.0.1',
  'network.proxy.allow_hijacking_localhost': true,
}

let browser = null
const tabs = new Map()
let nextId = 1

const ops = {
  async launch({ executablePath, watch }) {
    browser = await puppeteer.launch({ browser: 'firefox', executablePath, headless: true, extraPrefsFirefox: OFFLINE })
    ops.watch = watch
    return await browser.version()
  },
  async open({ url }) {
    const context = await browser.createBrowserContext()
    const page = await context.newPage()
    await page.setViewport({ width: 1280, height: 900 })
    await page.evaluateOnNewDocument(ops.watch)
    await page.goto(url)
    const id = nextId++
    tabs.set(id, { context, page })
    return id
  },
  async goto({ id, url }) {
    await tabs.get(id).page.goto(url)
    return null
  },
  async evaluate({ id, expression }) {
    const value = await tabs.get(id).page.evaluate(expression)
    return value === undefined ? null : value
  },
  async close({ id }) {
    const tab = tabs.get(id)
    tabs.delete(id)
    await tab.context.close()
    return null
  },
  async quit() {
    if (browser) await browser.close()
    browser = null
    return null
  },
}

const lines = readline.createInterface({ input: process.stdin })
let queue = Promise.resolve()
lines.on('line', (line) => {
  queue = queue.then(async () => {
    const { op, ...args } = JSON.parse(line)
    let reply
    try {
      reply = { ok: await ops[op](args) }
    } catch (e) {
      reply = { fail: `${op}: ${e && e.message ? e.message : e}` }
    }
    process.stdout.write(JSON.stringify(reply) + '\n')
  })
})
lines.on('close', () => queue.then(() => ops.quit()))
