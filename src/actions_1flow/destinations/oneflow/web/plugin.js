// The 1Flow Web (Actions) device-mode plugin for stock analytics-next (remote-plugin contract, spec §4).
// `createPlugins(settings, window)` returns one destination plugin per 1Flow action that has an enabled
// subscription; all of them share one client that injects the 1Flow SDK, waits for the real SDK (not a stub) with
// a deadline, queues calls until then, and reports its failures once to the server. With consent categories in the
// settings, every event's consent stamp is checked first and the SDK is injected only once an event grants them.
// See docs/web.md.
import { consentVerdict, dropPaths, missingCategories } from './consent.js'
import { matches } from './fql.js'
import { transform, typeOf } from './mapping.js'

export const DESTINATION = '1Flow Web (Actions)'
export const VERSION = '0.1.0'
export const DEFAULT_LOAD_TIMEOUT_MS = 10000
export const POLL_INTERVAL_MS = 50
export const MAX_REPORTS_PER_PAGE = 20
const EVENT_HOOKS = ['track', 'identify', 'page', 'screen', 'group', 'alias']

// What each 1Flow action sends: a call on the SDK, or a reason not to send (`skip`: filtered, reported at debug
// level; `invalid`: a payload error, reported). The SDK is called as Segment's integration calls it when
// `window._1flow` is a function (its callable form, which 1Flow's own 2024 change to that integration relies on),
// through its methods (the 2022 npm loader's form) when it is an object without one.
const ACTIONS = {
  trackEvent(payload) {
    const name = text(payload.event_name)
    if (!name) return { invalid: `trackEvent needs an event_name, the mapping gave ${typeOf(payload.event_name)}` }
    const properties = plainObject(payload.properties)
    const ids = { userId: text(payload.userId) || undefined, anonymousId: text(payload.anonymousId) || undefined }
    return {
      call: (sdk) =>
        typeof sdk === 'function'
          ? sdk('track', name, { ...ids, properties })
          : sdk.logEvent(name, properties || {}),
    }
  },
  identifyUser(payload) {
    const userId = text(payload.userId)
    if (!userId) return { skip: 'identifyUser without a userId is not sent to 1Flow' }
    const traits = plainObject(payload.traits)
    return {
      call: (sdk) =>
        typeof sdk === 'function' ? sdk('identify', userId, { ...traits }) : sdk.logUser(userId, traits || {}),
    }
  },
}

// Ids and names as 1Flow wants them: strings; numbers and booleans are written as text (as the cloud path coerces).
function text(value) {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return typeof value === 'string' ? value : ''
}
const plainObject = (value) => (typeOf(value) === 'object' ? value : undefined)

/** Plugins for analytics-next from the settings our server publishes (docs/web.md, "Plugin contract"). */
export function createPlugins(settings, win) {
  const report = createReporter(settings, win)
  const problem = settingsProblem(settings)
  if (problem) {
    report('config', problem)
    return []
  }
  const byAction = new Map()
  const textOnly = []
  for (const subscription of subscriptionList(settings)) {
    if (subscription.enabled !== true) continue
    if (subscription.ast === undefined && typeof subscription.subscribe === 'string') {
      textOnly.push(subscription)
      continue
    }
    const issue = subscriptionProblem(subscription)
    if (issue) {
      const details = { subscription: describe(subscription) }
      report('config', `subscription "${subscription.name}" is disabled: ${issue}`, details)
      continue
    }
    if (!byAction.has(subscription.partnerAction)) byAction.set(subscription.partnerAction, [])
    byAction.get(subscription.partnerAction).push(subscription)
  }
  if (textOnly.length) {
    // Segment's own settings carry FQL text only; the page never parses FQL (one semantics: the server's parser).
    const names = textOnly.map((t) => `"${t.name}"`).join(', ')
    report('config', `${textOnly.length} subscription(s) (${names}) came with Segment's FQL text in "subscribe" and no parsed "ast", and are disabled: this plugin runs only triggers parsed by the actions-1flow server; load the settings from its settings CDN`, { subscriptions: textOnly.map(describe) })
  }
  if (byAction.size === 0) return []
  const client = createClient(settings, win, report)
  return [...byAction].map(([action, subscriptions]) => {
    const plugin = {
      name: `${DESTINATION} ${action}`,
      version: VERSION,
      type: 'destination',
      load: () => client.load(),
      isLoaded: () => client.isReady(),
      ready: () => client.settled,
    }
    for (const hook of EVENT_HOOKS) plugin[hook] = (ctx) => client.handle(action, subscriptions, ctx)
    return plugin
  })
}

function settingsProblem(settings) {
  if (!settings || typeof settings !== 'object') return 'settings are missing'
  if (!settings.projectApiKey) return 'projectApiKey is missing; 1Flow is not loaded'
  if (!settings.sdkUrl) return 'sdkUrl is missing; 1Flow is not loaded'
  if (!subscriptionList(settings)) return 'subscriptions must be a list (or the JSON text of one); 1Flow is not loaded'
  const { consent, privacy } = settings
  const names = (list) => Array.isArray(list) && list.every((c) => typeof c === 'string' && c)
  if (consent != null && !(typeOf(consent) === 'object' && consent.categories.length && names(consent.categories))) {
    return 'consent must be {categories: [names…], missing} (or null); 1Flow is not loaded'
  }
  if (privacy != null && !(typeOf(privacy) === 'object' && (privacy.drop == null || names(privacy.drop)))) {
    return 'privacy.drop must be a list of dotted paths; 1Flow is not loaded'
  }
  return ''
}

// Our server publishes a list; Segment's CDN publishes the same list as JSON text.
function subscriptionList({ subscriptions }) {
  if (typeof subscriptions === 'string') {
    try {
      subscriptions = JSON.parse(subscriptions)
    } catch (e) {
      return null
    }
  }
  return Array.isArray(subscriptions) ? subscriptions : null
}

function subscriptionProblem(subscription) {
  if (!Object.prototype.hasOwnProperty.call(ACTIONS, subscription.partnerAction)) {
    return `unknown partnerAction "${subscription.partnerAction}"`
  }
  if (typeOf(subscription.ast) !== 'object' || subscription.ast.error) {
    return 'its trigger was not published as a parsed AST'
  }
  // A key named exactly "@liquid" can only appear in the JSON text as `"@liquid":`; string values escape their quotes.
  if (JSON.stringify(subscription.mapping ?? {}).includes('"@liquid":')) return '@liquid cannot run in device mode'
  return ''
}

const describe = ({ id, name, partnerAction }) => ({ id, name, partnerAction })

// Errors go to the console and, when configured, to the server as JSON text (a CORS-simple request), at most
// MAX_REPORTS_PER_PAGE times per page so a broken mapping on a busy page cannot flood the endpoint.
function createReporter(settings, win) {
  let sent = 0
  return (kind, message, details) => {
    win.console.error(`[${DESTINATION}] ${message}`)
    const url = settings && settings.deviceEventsUrl
    if (!url || sent >= MAX_REPORTS_PER_PAGE) return
    sent += 1
    const body = JSON.stringify({ writeKey: settings.writeKey, destination: DESTINATION, kind, message, ...details })
    try {
      if (win.navigator && win.navigator.sendBeacon && win.navigator.sendBeacon(url, body)) return
      if (win.fetch) win.fetch(url, { method: 'POST', body, keepalive: true }).catch(() => {})
    } catch (e) {
      // Reporting must never break the page.
    }
  }
}

// The real SDK: `window.glob` is set and `window._1flow` is either a function or an object with logEvent/logUser,
// and it is not whatever `_1flow` held before the SDK ran (a stub such as Segment's 5-ms retry function).
function sdkIsReady(win, stub) {
  const sdk = win._1flow
  if (!win.glob || !sdk || sdk === stub) return false
  return typeof sdk === 'function' || (typeof sdk.logEvent === 'function' && typeof sdk.logUser === 'function')
}

function notReadyReason(win, stub) {
  if (!win._1flow) return 'window._1flow never appeared'
  if (win._1flow === stub) return 'window._1flow is still the stub that was there before'
  if (!win.glob) return 'window.glob was never set; check the project API key'
  return 'window._1flow has neither logEvent/logUser nor a callable form'
}

// The nonce a page with a strict Content-Security-Policy gives its scripts: the one on the analytics.js loader's
// tag, else the first script tag that has one (the snippet). Browsers hide the attribute; the property keeps it.
function pageNonce(scripts) {
  const loader = scripts.filter((s) => /analytics(\.min)?\.js/.test(s.getAttribute('src') || ''))
  for (const s of [...loader, ...scripts]) {
    const nonce = s.nonce || s.getAttribute('nonce')
    if (nonce) return nonce
  }
  return ''
}

function createClient(settings, win, report) {
  const timeoutMs = settings.loadTimeoutMs > 0 ? settings.loadTimeoutMs : DEFAULT_LOAD_TIMEOUT_MS
  const consent = settings.consent || null
  const drop = (settings.privacy && settings.privacy.drop) || []
  let state = 'idle' // → loading → ready | failed; with consent, idle until an event grants it
  let pending = [] // SDK calls made before the SDK was ready, in arrival order
  let settle
  const settled = new Promise((resolve) => (settle = resolve))

  function becomeReady() {
    state = 'ready'
    const calls = pending
    pending = []
    for (const entry of calls) send(entry)
    settle(true)
  }

  function fail(reason) {
    if (state !== 'loading') return
    state = 'failed'
    const dropped = pending.length ? `; ${pending.length} queued call(s) dropped` : ''
    pending = []
    report('sdk-load', `${reason}; 1Flow is disabled on this page${dropped}`, { sdkUrl: settings.sdkUrl })
    settle(false)
  }

  // analytics-next's load(): under consent it waits for an event that grants it (the stamp is the consent state).
  const load = () => (consent ? Promise.resolve() : inject())

  function inject() {
    if (state !== 'idle') return Promise.resolve()
    state = 'loading'
    const stub = win.glob ? undefined : win._1flow
    if (sdkIsReady(win, stub)) {
      becomeReady()
      return Promise.resolve()
    }
    let poll, deadline, unlisten
    const check = () => {
      if (state === 'loading' && sdkIsReady(win, stub)) becomeReady()
      if (state !== 'loading') {
        win.clearInterval(poll)
        win.clearTimeout(deadline)
        if (unlisten) unlisten()
      }
    }
    const stop = (reason) => {
      fail(reason)
      check()
    }
    const doc = win.document
    const scripts = [...doc.getElementsByTagName('script')]
    const existing = scripts.find((s) => s.getAttribute('src') === settings.sdkUrl)
    const script = existing || doc.createElement('script')
    const nonce = settings.nonce || pageNonce(scripts)
    // A strict Content-Security-Policy refuses the script: the page says so with this event (before or after the
    // script's own `error`), and the report names the policy instead of a vague network error.
    const onViolation = (e) => {
      const blocked = String(e.blockedURI || '')
      if (!/^https?:/.test(blocked) || !String(settings.sdkUrl).startsWith(blocked)) return
      const hint = nonce ? 'the nonce the plugin used is not the one the policy allows' : 'no nonce found on the page'
      stop(`the page's Content-Security-Policy (${e.effectiveDirective || e.violatedDirective}) blocked the 1Flow SDK from ${settings.sdkUrl} (${hint})`)
    }
    if (doc.addEventListener) doc.addEventListener('securitypolicyviolation', onViolation)
    unlisten = () => doc.removeEventListener && doc.removeEventListener('securitypolicyviolation', onViolation)
    script.addEventListener('load', check)
    script.addEventListener('error', () => {
      // Let a CSP violation event queued behind this one name the real cause.
      win.setTimeout(() => stop(`the 1Flow SDK failed to load from ${settings.sdkUrl} (network error or blocked)`), 0)
    })
    if (!existing) {
      script.async = true
      script.setAttribute('data-api-key', settings.projectApiKey)
      if (nonce) script.setAttribute('nonce', nonce)
      script.src = settings.sdkUrl
      doc.head.appendChild(script)
    }
    poll = win.setInterval(check, POLL_INTERVAL_MS)
    deadline = win.setTimeout(() => {
      const why = notReadyReason(win, stub)
      stop(`the 1Flow SDK from ${settings.sdkUrl} was not ready after ${timeoutMs} ms (${why})`)
    }, timeoutMs)
    // Resolving now keeps analytics.track from waiting on a slow or blocked SDK; isLoaded() and ready() tell the truth.
    return Promise.resolve()
  }

  // Runs one SDK call; returns the error it threw (already reported), if any.
  function send({ call, subscription, event }) {
    try {
      call(win._1flow)
    } catch (e) {
      const message = `1Flow SDK call for subscription "${subscription.name}" failed: ${messageOf(e)}`
      report('sdk-call', message, context(subscription, event))
      return e
    }
    return undefined
  }

  // The subscription's outcome for this event (undefined when its trigger does not match); errors are reported.
  function evaluate(action, subscription, event) {
    let stage = 'trigger'
    try {
      if (!matches(subscription.ast, event)) return undefined
      stage = 'mapping'
      return ACTIONS[action](transform(subscription.mapping ?? {}, event))
    } catch (e) {
      const message = `${stage} of subscription "${subscription.name}" failed: ${messageOf(e)}`
      report(stage, message, context(subscription, event))
      throw e
    }
  }

  async function handle(action, subscriptions, ctx) {
    if (consent && consentVerdict(consent, ctx.event) === 'deny') {
      debug(win, ctx, `not sent: no consent for ${missingCategories(consent, ctx.event).join(', ')}`)
      return ctx
    }
    if (state === 'idle') inject()
    if (state === 'failed') return ctx
    const event = dropPaths(ctx.event, drop) // before triggers and mappings; the page's event stays whole
    let firstError
    for (const subscription of subscriptions) {
      let outcome
      try {
        outcome = evaluate(action, subscription, event)
      } catch (e) {
        firstError = firstError || e
        continue
      }
      if (!outcome) continue
      if (outcome.skip) {
        debug(win, ctx, `${outcome.skip} (subscription "${subscription.name}")`)
      } else if (outcome.invalid) {
        report('payload', `subscription "${subscription.name}": ${outcome.invalid}`, context(subscription, event))
      } else if (state === 'ready') {
        const error = send({ call: outcome.call, subscription, event })
        firstError = firstError || error
      } else {
        pending.push({ call: outcome.call, subscription, event })
      }
    }
    // As in Segment's runtime, a failure surfaces to analytics-next (logged on the context, never retried).
    if (firstError) throw firstError
    return ctx
  }

  return { load, handle, settled, isReady: () => state === 'ready' }
}

const messageOf = (e) => (e && e.message !== undefined ? String(e.message) : String(e))

const context = (subscription, event) => ({
  subscription: describe(subscription),
  type: event && event.type,
  messageId: event && event.messageId,
})

function debug(win, ctx, message) {
  if (ctx && typeof ctx.log === 'function') ctx.log('debug', `${DESTINATION}: ${message}`)
  if (win.console.debug) win.console.debug(`[${DESTINATION}] ${message}`)
}
