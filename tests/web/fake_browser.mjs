// A minimal fake browser for the plugin's lifecycle tests under node: a document that records injected scripts,
// a manual clock, sendBeacon/fetch recorders, a console recorder, and the two forms of the 1Flow SDK.

export class ManualClock {
  constructor() {
    this.now = 0
    this.timers = new Map()
    this.nextId = 1
  }

  setTimeout(fn, ms = 0) {
    const id = this.nextId++
    this.timers.set(id, { at: this.now + ms, fn })
    return id
  }

  setInterval(fn, ms = 0) {
    const id = this.nextId++
    this.timers.set(id, { at: this.now + ms, fn, every: Math.max(ms, 1) })
    return id
  }

  clear(id) {
    this.timers.delete(id)
  }

  /** Runs every timer due within `ms`, in time order (ties in creation order). */
  advance(ms) {
    const end = this.now + ms
    for (;;) {
      let due
      for (const [id, timer] of this.timers) if (timer.at <= end && (!due || timer.at < due[1].at)) due = [id, timer]
      if (!due) break
      const [id, timer] = due
      this.now = timer.at
      if (timer.every) timer.at += timer.every
      else this.timers.delete(id)
      timer.fn()
    }
    this.now = end
  }

  get pending() {
    return this.timers.size
  }
}

export class FakeScript {
  constructor() {
    this.tagName = 'SCRIPT'
    this.async = false
    this.attributes = {}
    this.listeners = {}
  }

  set src(value) {
    this.attributes.src = String(value)
  }

  get src() {
    return this.attributes.src ?? ''
  }

  setAttribute(name, value) {
    this.attributes[name] = String(value)
  }

  getAttribute(name) {
    return this.attributes[name] ?? null
  }

  addEventListener(type, fn) {
    ;(this.listeners[type] ||= []).push(fn)
  }

  /** What the browser does when the script's network request ends: `load` or `error`. */
  fire(type) {
    for (const fn of this.listeners[type] || []) fn({ type, target: this })
  }
}

/** A window with just what the plugin touches; `beacon: false` makes sendBeacon refuse so fetch is used. */
export function fakeWindow({ beacon = true, fetch = true } = {}) {
  const clock = new ManualClock()
  const scripts = []
  const recorded = { beacons: [], fetches: [], errors: [], debug: [] }
  const listeners = {}
  const win = {
    clock,
    scripts,
    recorded,
    document: {
      addEventListener: (type, fn) => (listeners[type] ||= []).push(fn),
      removeEventListener: (type, fn) => (listeners[type] = (listeners[type] || []).filter((f) => f !== fn)),
      /** What the browser does on the document, e.g. `securitypolicyviolation` when a policy blocks a script. */
      fire: (type, event) => (listeners[type] || []).slice().forEach((fn) => fn({ type, ...event })),
      listeners,
      head: {
        appendChild(element) {
          scripts.push(element)
          return element
        },
      },
      createElement: (tag) => {
        if (tag !== 'script') throw new Error(`unexpected element ${tag}`)
        return new FakeScript()
      },
      getElementsByTagName: (tag) => (tag === 'script' ? scripts.slice() : []),
    },
    navigator: {
      sendBeacon(url, body) {
        if (!beacon) return false
        recorded.beacons.push({ url, body: JSON.parse(body), bodyType: typeof body })
        return true
      },
    },
    console: {
      error: (message) => recorded.errors.push(message),
      debug: (message) => recorded.debug.push(message),
    },
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    setInterval: (fn, ms) => clock.setInterval(fn, ms),
    clearTimeout: (id) => clock.clear(id),
    clearInterval: (id) => clock.clear(id),
  }
  if (fetch) {
    win.fetch = (url, init) => {
      recorded.fetches.push({ url, init, body: JSON.parse(init.body) })
      return Promise.resolve({ ok: true })
    }
  }
  /** Every report the server would have received, whichever transport carried it. */
  win.reports = () => [...recorded.beacons.map((b) => b.body), ...recorded.fetches.map((f) => f.body)]
  return win
}

/** Installs the 1Flow SDK as the real script would: `window.glob` and `window._1flow` (methods or callable form). */
export function installSdk(win, form = 'methods') {
  const calls = []
  if (form === 'methods') {
    win._1flow = {
      logEvent: (...args) => calls.push(['logEvent', ...args]),
      logUser: (...args) => calls.push(['logUser', ...args]),
      on() {},
    }
  } else {
    win._1flow = (...args) => calls.push(['call', ...args])
    if (form === 'both') {
      win._1flow.logEvent = (...args) => calls.push(['logEvent', ...args])
      win._1flow.logUser = (...args) => calls.push(['logUser', ...args])
    }
  }
  win.glob = { apiKey: 'from-sdk' }
  return calls
}

/** Resolves after pending promise callbacks (and the plugin's async hooks) have run. */
export const settle = () => new Promise((resolve) => setImmediate(resolve))
