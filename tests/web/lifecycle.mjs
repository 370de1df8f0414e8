// Lifecycle scenarios of the 1Flow web plugin under node, one per behaviour; pytest runs each by name
// (tests/web/test_plugin_lifecycle.py). Each throws (node:assert) when the behaviour is broken.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import vm from 'node:vm'
import {
  createPlugins,
  DESTINATION,
  MAX_REPORTS_PER_PAGE,
  POLL_INTERVAL_MS,
  DEFAULT_LOAD_TIMEOUT_MS,
} from '../../src/actions_1flow/destinations/oneflow/web/plugin.js'
import { FakeScript, fakeWindow, installSdk, settle } from './fake_browser.mjs'

const require = createRequire(import.meta.url)
const DIST = new URL('../../src/actions_1flow/destinations/oneflow/web/dist/actions-1flow.min.js', import.meta.url)
const SDK_URL = 'http://sdk.test/js/1flow.js'
const REPORT_URL = 'http://server.test/v1/device-events'

const trigger = (...children) => ({ type: 'group', operator: 'and', children })
const TRACK = trigger({ type: 'event-type', operator: '=', value: 'track' })
const IDENTIFY = trigger({ type: 'event-type', operator: '=', value: 'identify' })

const trackPreset = (extra = {}) => ({
  id: 'sub-track',
  name: 'Track Event',
  enabled: true,
  partnerAction: 'trackEvent',
  subscribe: 'type = "track"',
  ast: TRACK,
  mapping: {
    event_name: { '@path': '$.event' },
    userId: { '@path': '$.userId' },
    anonymousId: { '@path': '$.anonymousId' },
    properties: { '@path': '$.properties' },
  },
  ...extra,
})

const identifyPreset = (extra = {}) => ({
  id: 'sub-identify',
  name: 'Identify User',
  enabled: true,
  partnerAction: 'identifyUser',
  subscribe: 'type = "identify"',
  ast: IDENTIFY,
  mapping: { userId: { '@path': '$.userId' }, traits: { '@path': '$.traits' } },
  ...extra,
})

const baseSettings = (extra = {}) => ({
  projectApiKey: 'pk_demo',
  sdkUrl: SDK_URL,
  loadTimeoutMs: 2000,
  deviceEventsUrl: REPORT_URL,
  writeKey: 'wk_demo',
  subscriptions: [trackPreset(), identifyPreset()],
  ...extra,
})

/** A context as analytics-next passes it: the event plus a log the plugin may write debug notes to. */
function context(event) {
  const logs = []
  return { event: { messageId: `m-${event.type}`, ...event }, logs, log: (level, message) => logs.push([level, message]) }
}

const track = (event = 'Order Completed', extra = {}) =>
  context({ type: 'track', event, userId: 'u1', anonymousId: 'a1', properties: { total: 30 }, ...extra })
const identify = (userId = 'u1', traits = { plan: 'pro' }) => context({ type: 'identify', userId, traits })

function setup(settings = baseSettings(), options) {
  const win = fakeWindow(options)
  const plugins = createPlugins(settings, win)
  const named = Object.fromEntries(plugins.map((p) => [p.name.slice(DESTINATION.length + 1), p]))
  return { win, plugins, named }
}

/** What analytics-next does: load every plugin, then send each event to each plugin's hook for its type. */
async function loadAll(plugins) {
  await Promise.all(plugins.map((p) => p.load({}, {})))
}
async function dispatch(plugins, ctx) {
  return Promise.all(plugins.map((p) => p[ctx.event.type](ctx)))
}

export const scenarios = {
  async 'one plugin per action, with the remote-plugin shape analytics-next validates'() {
    const { plugins } = setup()
    assert.deepEqual(
      plugins.map((p) => p.name),
      ['1Flow Web (Actions) trackEvent', '1Flow Web (Actions) identifyUser']
    )
    for (const plugin of plugins) {
      assert.equal(plugin.type, 'destination')
      assert.equal(plugin.version, '0.1.0')
      for (const method of ['load', 'isLoaded', 'ready', 'track', 'identify', 'page', 'screen', 'group', 'alias']) {
        assert.equal(typeof plugin[method], 'function', method)
      }
    }
  },

  async 'load injects the SDK script once with data-api-key, async, and resolves without waiting for the SDK'() {
    const { win, plugins } = setup()
    await loadAll(plugins)
    await loadAll(plugins)
    assert.equal(win.scripts.length, 1)
    const [script] = win.scripts
    assert.equal(script.getAttribute('src'), SDK_URL)
    assert.equal(script.getAttribute('data-api-key'), 'pk_demo')
    assert.equal(script.async, true)
    assert.equal(plugins[0].isLoaded(), false)
    assert.equal(plugins[1].isLoaded(), false)
  },

  async 'readiness needs window.glob and the real SDK, never a stub'() {
    const { win, plugins } = setup()
    const stub = (...args) => win.setTimeout(() => win._1flow(...args), 5) // Segment's retry stub
    win._1flow = stub
    await loadAll(plugins)
    const ready = plugins[0].ready()
    win.clock.advance(POLL_INTERVAL_MS * 3)
    assert.equal(plugins[0].isLoaded(), false, 'a stub without glob is not the SDK')
    win.glob = {}
    win.clock.advance(POLL_INTERVAL_MS * 3)
    assert.equal(plugins[0].isLoaded(), false, 'glob with the stub still in place is not the SDK')
    win._1flow = { logEvent() {} }
    win.clock.advance(POLL_INTERVAL_MS * 3)
    assert.equal(plugins[0].isLoaded(), false, 'an object without logUser is not the SDK')
    const calls = installSdk(win)
    win.clock.advance(POLL_INTERVAL_MS)
    assert.equal(plugins[0].isLoaded(), true)
    assert.equal(plugins[1].isLoaded(), true, 'all plugins share one client')
    assert.equal(await ready, true)
    assert.equal(win.clock.pending, 0, 'no polling once ready')
    await dispatch(plugins, track())
    assert.deepEqual(calls, [['logEvent', 'Order Completed', { total: 30 }]])
  },

  async 'the script load event is checked at once, without waiting for the next poll'() {
    const { win, plugins } = setup()
    await loadAll(plugins)
    installSdk(win)
    win.scripts[0].fire('load')
    assert.equal(plugins[0].isLoaded(), true)
  },

  async 'calls before the SDK is ready are queued and sent in order once it is'() {
    const { win, plugins } = setup()
    await loadAll(plugins)
    await dispatch(plugins, track('First'))
    await dispatch(plugins, identify('u1', { plan: 'pro' }))
    await dispatch(plugins, track('Second', { properties: { n: 2 } }))
    const calls = installSdk(win)
    assert.deepEqual(calls, [], 'nothing is sent before the SDK is ready')
    win.clock.advance(POLL_INTERVAL_MS)
    await dispatch(plugins, track('Third', { properties: {} }))
    assert.deepEqual(calls, [
      ['logEvent', 'First', { total: 30 }],
      ['logUser', 'u1', { plan: 'pro' }],
      ['logEvent', 'Second', { n: 2 }],
      ['logEvent', 'Third', {}],
    ])
    assert.deepEqual(win.reports(), [])
  },

  async 'a hook resolves at once while the SDK is pending (analytics.track is never held up)'() {
    const { win, plugins } = setup()
    await loadAll(plugins)
    const ctx = track()
    let resolved = false
    plugins[0].track(ctx).then(() => (resolved = true))
    await settle()
    assert.equal(resolved, true)
    assert.equal(win.clock.now, 0)
  },

  async 'timeout: exactly one clear report, queued calls dropped, no further work'() {
    // This mapping throws only for events with properties.boom: evaluating one would show up as a report.
    const eventName = { '@if': { exists: { '@path': '$.properties.boom' }, then: { '@template': { '@path': '$.nope' } }, else: { '@path': '$.event' } } }
    const subscriptions = [trackPreset({ mapping: { event_name: eventName } }), identifyPreset()]
    const { win, plugins } = setup(baseSettings({ subscriptions }))
    await loadAll(plugins)
    const ready = plugins[0].ready()
    await dispatch(plugins, track('Queued'))
    await dispatch(plugins, identify())
    win.clock.advance(1999)
    assert.deepEqual(win.reports(), [], 'not before the deadline')
    win.clock.advance(1)
    assert.equal(await ready, false)
    const reports = win.reports()
    assert.equal(reports.length, 1)
    assert.deepEqual(Object.keys(reports[0]).sort(), ['destination', 'kind', 'message', 'sdkUrl', 'writeKey'])
    assert.equal(reports[0].kind, 'sdk-load')
    assert.equal(reports[0].writeKey, 'wk_demo')
    assert.equal(reports[0].destination, '1Flow Web (Actions)')
    assert.equal(reports[0].sdkUrl, SDK_URL)
    assert.match(reports[0].message, /not ready after 2000 ms \(window\._1flow never appeared\)/)
    assert.match(reports[0].message, /2 queued call\(s\) dropped/)
    assert.equal(win.recorded.beacons[0].url, REPORT_URL)
    assert.equal(win.recorded.beacons[0].bodyType, 'string', 'sent as text: a CORS-simple request')
    assert.equal(win.recorded.errors.length, 1, 'one console error')
    assert.equal(win.clock.pending, 0, 'polling and deadline timers are gone')
    // The SDK turning up late changes nothing, and later events are not even evaluated.
    const calls = installSdk(win)
    win.scripts[0].fire('load')
    win.scripts[0].fire('error')
    win.clock.advance(0) // the plugin lets a CSP violation event name the cause first
    const boom = track('Later', { properties: { boom: true } })
    assert.deepEqual(await dispatch(plugins, boom), [boom, boom])
    assert.equal(plugins[0].isLoaded(), false)
    assert.deepEqual(calls, [])
    assert.equal(win.reports().length, 1)
    assert.equal(win.recorded.errors.length, 1)
  },

  async 'a script error fails at once with one report, and the deadline adds nothing'() {
    const { win, plugins } = setup()
    await loadAll(plugins)
    win.scripts[0].fire('error')
    win.clock.advance(0) // the plugin lets a CSP violation event name the cause first
    const reports = win.reports()
    assert.equal(reports.length, 1)
    assert.match(reports[0].message, /failed to load from http:\/\/sdk\.test\/js\/1flow\.js/)
    assert.equal(win.clock.pending, 0)
    win.clock.advance(DEFAULT_LOAD_TIMEOUT_MS * 2)
    assert.equal(win.reports().length, 1)
    assert.equal(await plugins[1].ready(), false)
  },

  async 'the timeout report says what was missing'() {
    const cases = [
      [(win) => (win._1flow = () => {}), /window\.glob was never set; check the project API key/],
      [(win) => (win.glob = {}), /window\._1flow never appeared/],
      [(win) => Object.assign(win, { glob: {}, _1flow: { on() {} } }), /neither logEvent\/logUser nor a callable form/],
    ]
    for (const [arrange, reason] of cases) {
      const { win, plugins } = setup()
      await loadAll(plugins)
      arrange(win)
      win.clock.advance(2000)
      assert.equal(win.reports().length, 1)
      assert.match(win.reports()[0].message, reason)
    }
    const { win, plugins } = setup()
    win._1flow = () => {}
    await loadAll(plugins)
    win.clock.advance(2000)
    assert.match(win.reports()[0].message, /still the stub/)
  },

  async 'loadTimeoutMs defaults to 10 seconds'() {
    const { win, plugins } = setup(baseSettings({ loadTimeoutMs: undefined }))
    await loadAll(plugins)
    win.clock.advance(DEFAULT_LOAD_TIMEOUT_MS - 1)
    assert.equal(win.reports().length, 0)
    win.clock.advance(1)
    assert.equal(win.reports().length, 1)
    assert.match(win.reports()[0].message, /after 10000 ms/)
  },

  async 'methods form: logEvent(event_name, properties) and logUser(userId, traits)'() {
    const { win, plugins } = setup()
    const calls = installSdk(win, 'methods')
    await loadAll(plugins)
    assert.equal(plugins[0].isLoaded(), true, 'an SDK already on the page is used at once')
    assert.equal(win.scripts.length, 0, 'and not injected again')
    await dispatch(plugins, track('Order Completed', { properties: { total: 30, currency: 'EUR' } }))
    await dispatch(plugins, identify('u1', { email: 'a@b.c' }))
    assert.deepEqual(calls, [
      ['logEvent', 'Order Completed', { total: 30, currency: 'EUR' }],
      ['logUser', 'u1', { email: 'a@b.c' }],
    ])
  },

  async 'callable form: _1flow("track", name, {userId, anonymousId, properties}) and _1flow("identify", id, traits)'() {
    const { win, plugins } = setup()
    await loadAll(plugins)
    const calls = installSdk(win, 'callable')
    win.clock.advance(POLL_INTERVAL_MS)
    await dispatch(plugins, track('Order Completed'))
    await dispatch(plugins, identify('u1', { plan: 'pro' }))
    assert.deepEqual(calls, [
      ['call', 'track', 'Order Completed', { userId: 'u1', anonymousId: 'a1', properties: { total: 30 } }],
      ['call', 'identify', 'u1', { plan: 'pro' }],
    ])
  },

  async 'an SDK that is callable and has the methods is called as Segment calls it'() {
    const { win, plugins } = setup()
    const calls = installSdk(win, 'both')
    await loadAll(plugins)
    await dispatch(plugins, track('Order Completed'))
    await dispatch(plugins, identify('u1', { plan: 'pro' }))
    assert.deepEqual(calls, [
      ['call', 'track', 'Order Completed', { userId: 'u1', anonymousId: 'a1', properties: { total: 30 } }],
      ['call', 'identify', 'u1', { plan: 'pro' }],
    ])
  },

  async 'callable form: absent ids and properties stay absent, as in Segment\'s call'() {
    const { win, plugins } = setup()
    const calls = installSdk(win, 'callable')
    await loadAll(plugins)
    await dispatch(plugins, context({ type: 'track', event: 'Anonymous', anonymousId: 'a9' }))
    await dispatch(plugins, context({ type: 'identify', userId: 'u1' }))
    assert.deepEqual(calls, [
      ['call', 'track', 'Anonymous', { userId: undefined, anonymousId: 'a9', properties: undefined }],
      ['call', 'identify', 'u1', {}],
    ])
  },

  async 'identify without a userId is never sent, and noted at debug level only'() {
    const { win, plugins } = setup()
    const calls = installSdk(win)
    await loadAll(plugins)
    for (const userId of [undefined, null, '']) {
      const ctx = context({ type: 'identify', userId, traits: { plan: 'pro' } })
      await dispatch(plugins, ctx)
      assert.deepEqual(ctx.logs.map(([level]) => level), ['debug'])
      assert.match(ctx.logs[0][1], /without a userId/)
    }
    assert.deepEqual(calls, [])
    assert.deepEqual(win.reports(), [])
    assert.deepEqual(win.recorded.errors, [])
    assert.equal(win.recorded.debug.length, 3)
    await dispatch(plugins, identify(42, {}))
    assert.deepEqual(calls, [['logUser', '42', {}]], 'a numeric id is sent as text')
  },

  async 'custom triggers and mappings from the settings are honoured'() {
    const orderTrigger = trigger(
      { type: 'event-type', operator: '=', value: 'track' },
      { type: 'event', operator: 'starts_with', value: 'Order' },
      { type: 'event-property', name: 'total', operator: '>', value: 10 }
    )
    const mapping = {
      event_name: { '@template': 'web: {{event}}' },
      properties: {
        revenue: { '@path': '$.properties.total' },
        currency: { '@case': { operator: 'upper', value: { '@path': '$.properties.currency' } } },
        plan: { '@if': { exists: { '@path': '$.properties.plan' }, then: { '@path': '$.properties.plan' }, else: 'free' } },
      },
    }
    const { win, plugins } = setup(baseSettings({ subscriptions: [trackPreset({ ast: orderTrigger, mapping })] }))
    const calls = installSdk(win)
    await loadAll(plugins)
    await dispatch(plugins, track('Order Completed', { properties: { total: 30, currency: 'eur' } }))
    await dispatch(plugins, track('Order Completed', { properties: { total: 5, currency: 'eur' } }))
    await dispatch(plugins, track('Product Viewed', { properties: { total: 30 } }))
    assert.deepEqual(calls, [['logEvent', 'web: Order Completed', { revenue: 30, currency: 'EUR', plan: 'free' }]])
  },

  async 'every matching subscription of an action sends, in order'() {
    const second = trackPreset({ id: 'sub-2', name: 'Also', mapping: { event_name: 'fixed name' } })
    const { win, plugins } = setup(baseSettings({ subscriptions: [trackPreset(), second] }))
    const calls = installSdk(win)
    await loadAll(plugins)
    await dispatch(plugins, track('Signed Up'))
    assert.deepEqual(calls, [
      ['logEvent', 'Signed Up', { total: 30 }],
      ['logEvent', 'fixed name', {}],
    ])
  },

  async 'disabled subscriptions are ignored; an action with none enabled gets no plugin'() {
    const subscriptions = [
      trackPreset({ enabled: false }),
      trackPreset({ id: 'sub-on', name: 'On', mapping: { event_name: 'enabled one' } }),
      identifyPreset({ enabled: false }),
      identifyPreset({ enabled: 'yes' }),
    ]
    const { win, plugins } = setup(baseSettings({ subscriptions }))
    assert.deepEqual(plugins.map((p) => p.name), ['1Flow Web (Actions) trackEvent'])
    const calls = installSdk(win)
    await loadAll(plugins)
    await dispatch(plugins, track('Anything'))
    assert.deepEqual(calls, [['logEvent', 'enabled one', {}]])
    const none = setup(baseSettings({ subscriptions: [trackPreset({ enabled: false })] }))
    assert.deepEqual(none.plugins, [])
    assert.deepEqual(none.win.reports(), [], 'nothing enabled is not an error')
  },

  async 'a mapping runtime error is reported with its subscription and event, surfaces to analytics-next, and spares the rest'() {
    const broken = trackPreset({ id: 'sub-bad', name: 'Broken', mapping: { event_name: { '@template': { '@path': '$.nope' } } } })
    const { win, named } = setup(baseSettings({ subscriptions: [broken, trackPreset()] }))
    const calls = installSdk(win)
    await named.trackEvent.load({}, {})
    const ctx = track('Order Completed')
    await assert.rejects(named.trackEvent.track(ctx), /@template: expected string, got undefined/)
    assert.deepEqual(calls, [['logEvent', 'Order Completed', { total: 30 }]])
    const [report] = win.reports()
    assert.deepEqual(report, {
      writeKey: 'wk_demo',
      destination: '1Flow Web (Actions)',
      kind: 'mapping',
      message: 'mapping of subscription "Broken" failed: @template: expected string, got undefined',
      subscription: { id: 'sub-bad', name: 'Broken', partnerAction: 'trackEvent' },
      type: 'track',
      messageId: 'm-track',
    })
  },

  async 'a trigger that cannot be evaluated is reported as a trigger error'() {
    const malformed = trackPreset({ id: 'sub-odd', name: 'Odd', ast: { type: 'group', operator: 'and' } })
    const { win, named } = setup(baseSettings({ subscriptions: [malformed] }))
    installSdk(win)
    await named.trackEvent.load({}, {})
    await assert.rejects(named.trackEvent.track(track()), TypeError)
    assert.equal(win.reports()[0].kind, 'trigger')
    assert.match(win.reports()[0].message, /^trigger of subscription "Odd" failed: /)
  },

  async 'an SDK exception is reported; sent at once it surfaces, flushed from the queue it does not'() {
    const { win, named } = setup()
    await named.trackEvent.load({}, {})
    await named.trackEvent.track(track('Queued'))
    win.glob = {}
    win._1flow = {
      logEvent: () => {
        throw new Error('sdk exploded')
      },
      logUser() {},
    }
    win.clock.advance(POLL_INTERVAL_MS)
    assert.equal(win.reports().length, 1)
    assert.equal(win.reports()[0].kind, 'sdk-call')
    assert.match(win.reports()[0].message, /sdk exploded/)
    await assert.rejects(named.trackEvent.track(track('Direct')), /sdk exploded/)
    assert.equal(win.reports().length, 2)
  },

  async 'trackEvent without an event name is a reported payload error, not a call'() {
    const { win, plugins } = setup(baseSettings({ subscriptions: [trackPreset({ mapping: { properties: { '@path': '$.properties' } } })] }))
    const calls = installSdk(win)
    await loadAll(plugins)
    await dispatch(plugins, track('Order Completed'))
    assert.deepEqual(calls, [])
    assert.equal(win.reports()[0].kind, 'payload')
    assert.match(win.reports()[0].message, /needs an event_name/)
  },

  async '@liquid in a device-mode subscription is a config error and its template text is never sent'() {
    const liquid = trackPreset({ id: 'sub-liquid', name: 'Liquid', mapping: { event_name: { '@liquid': '{{ event }}' } } })
    const { win, plugins } = setup(baseSettings({ subscriptions: [liquid, identifyPreset()] }))
    assert.deepEqual(plugins.map((p) => p.name), ['1Flow Web (Actions) identifyUser'])
    const [report] = win.reports()
    assert.equal(report.kind, 'config')
    assert.match(report.message, /"Liquid" is disabled: @liquid cannot run in device mode/)
    assert.deepEqual(report.subscription, { id: 'sub-liquid', name: 'Liquid', partnerAction: 'trackEvent' })
    const literal = trackPreset({ mapping: { event_name: { '@literal': 'the text "@liquid": is fine' } } })
    assert.equal(setup(baseSettings({ subscriptions: [literal] })).plugins.length, 1)
  },

  async 'unusable settings are reported once as config errors'() {
    for (const [settings, pattern] of [
      [baseSettings({ projectApiKey: '' }), /projectApiKey is missing/],
      [baseSettings({ sdkUrl: undefined }), /sdkUrl is missing/],
      [baseSettings({ subscriptions: '[{"id": ' }), /subscriptions must be a list \(or the JSON text of one\)/],
      [baseSettings({ subscriptions: '{}' }), /subscriptions must be a list/],
    ]) {
      const { win, plugins } = setup(settings)
      assert.deepEqual(plugins, [])
      assert.equal(win.reports().length, 1)
      assert.match(win.reports()[0].message, pattern)
    }
    const odd = [trackPreset({ partnerAction: 'logPage' }), trackPreset({ ast: { error: 'bad' } }), identifyPreset()]
    const { win, plugins } = setup(baseSettings({ subscriptions: odd }))
    assert.deepEqual(plugins.map((p) => p.name), ['1Flow Web (Actions) identifyUser'])
    assert.deepEqual(win.reports().map((r) => r.kind), ['config', 'config'])
  },

  async 'Segment-shaped subscriptions (JSON text, FQL text without an AST) are refused in one config report'() {
    const segmentShaped = (extra) => {
      const { ast, ...rest } = trackPreset(extra)
      return rest
    }
    const raw = [segmentShaped({ id: 'a', name: 'Track A' }), segmentShaped({ id: 'b', name: 'Track B' }), identifyPreset()]
    const { win, plugins } = setup(baseSettings({ subscriptions: JSON.stringify(raw) }))
    assert.deepEqual(plugins.map((p) => p.name), ['1Flow Web (Actions) identifyUser'], 'the parsed one still runs')
    const reports = win.reports()
    assert.equal(reports.length, 1)
    assert.equal(reports[0].kind, 'config')
    assert.match(reports[0].message, /^2 subscription\(s\) \("Track A", "Track B"\) came with Segment's FQL text in "subscribe" and no parsed "ast", and are disabled/)
    assert.deepEqual(reports[0].subscriptions.map((s) => s.id), ['a', 'b'])
    const none = setup(baseSettings({ subscriptions: raw.slice(0, 2) }))
    assert.deepEqual(none.plugins, [])
    assert.equal(none.win.reports().length, 1)
  },

  async 'reports use fetch keepalive when sendBeacon refuses, console only without deviceEventsUrl'() {
    const refused = setup(baseSettings(), { beacon: false })
    await loadAll(refused.plugins)
    refused.win.scripts[0].fire('error')
    refused.win.clock.advance(0) // the plugin lets a CSP violation event name the cause first
    assert.equal(refused.win.recorded.fetches.length, 1)
    const [{ url, init }] = refused.win.recorded.fetches
    assert.equal(url, REPORT_URL)
    assert.equal(init.method, 'POST')
    assert.equal(init.keepalive, true)
    assert.equal(typeof init.body, 'string')
    const silent = setup(baseSettings({ deviceEventsUrl: undefined }))
    await loadAll(silent.plugins)
    silent.win.scripts[0].fire('error')
    silent.win.clock.advance(0) // the plugin lets a CSP violation event name the cause first
    assert.deepEqual(silent.win.reports(), [])
    assert.equal(silent.win.recorded.errors.length, 1)
  },

  async 'reports are capped per page'() {
    const broken = trackPreset({ mapping: { event_name: { '@path': { '@path': '$.nope' } } } })
    const { win, named } = setup(baseSettings({ subscriptions: [broken] }))
    installSdk(win)
    await named.trackEvent.load({}, {})
    for (let i = 0; i < MAX_REPORTS_PER_PAGE + 5; i++) await named.trackEvent.track(track()).catch(() => {})
    assert.equal(win.reports().length, MAX_REPORTS_PER_PAGE)
    assert.equal(win.recorded.errors.length, MAX_REPORTS_PER_PAGE + 5, 'the console still sees each one')
  },

  async 'the SDK script carries a nonce: the setting, else the analytics.js loader tag\'s, else the first nonced tag\'s'() {
    const tag = (src, nonce) => {
      const script = new FakeScript()
      if (src) script.src = src
      if (nonce) script.nonce = nonce // browsers hide the attribute, the property keeps the value
      return script
    }
    const cases = [
      [{ nonce: 'from-settings' }, [tag('', 'snippet'), tag('http://cdn.test/analytics.js/v1/wk/analytics.min.js', 'loader')], 'from-settings'],
      [{}, [tag('', 'snippet'), tag('http://cdn.test/analytics.js/v1/wk/analytics.min.js', 'loader')], 'loader'],
      [{}, [tag('http://other.test/x.js'), tag('', 'snippet')], 'snippet'],
      [{}, [tag('', '')], null],
    ]
    for (const [extra, pageScripts, expected] of cases) {
      const win = fakeWindow()
      win.scripts.push(...pageScripts)
      const plugins = createPlugins(baseSettings(extra), win)
      await loadAll(plugins)
      const sdk = win.scripts.find((s) => s.getAttribute('src') === SDK_URL)
      assert.equal(sdk.getAttribute('nonce'), expected, JSON.stringify(extra))
    }
  },

  async 'a Content-Security-Policy violation on the SDK is one sdk-load report naming the policy'() {
    for (const order of ['violation first', 'error first']) {
      const { win, plugins } = setup()
      await loadAll(plugins)
      const violation = { blockedURI: SDK_URL, effectiveDirective: 'script-src-elem' }
      win.document.fire('securitypolicyviolation', { blockedURI: 'http://elsewhere.test/a.js', effectiveDirective: 'script-src-elem' })
      win.document.fire('securitypolicyviolation', { blockedURI: 'inline', effectiveDirective: 'script-src-elem' })
      if (order === 'violation first') win.document.fire('securitypolicyviolation', violation)
      win.scripts[0].fire('error')
      if (order === 'error first') win.document.fire('securitypolicyviolation', violation)
      win.clock.advance(0)
      const reports = win.reports()
      assert.equal(reports.length, 1, order)
      assert.equal(reports[0].kind, 'sdk-load')
      assert.match(reports[0].message, /Content-Security-Policy \(script-src-elem\) blocked the 1Flow SDK from http:\/\/sdk\.test\/js\/1flow\.js \(no nonce found on the page\)/)
      assert.deepEqual(win.document.listeners.securitypolicyviolation, [], 'the listener is removed once settled')
      win.clock.advance(DEFAULT_LOAD_TIMEOUT_MS * 2)
      assert.equal(win.reports().length, 1)
    }
  },

  async 'an SDK script already on the page is waited for, not injected twice'() {
    const { win, plugins } = setup()
    const existing = win.document.createElement('script')
    existing.src = SDK_URL
    win.document.head.appendChild(existing)
    await loadAll(plugins)
    assert.equal(win.scripts.length, 1)
    installSdk(win)
    existing.fire('load')
    assert.equal(plugins[0].isLoaded(), true)
  },

  async "stock analytics-next: remote loader, wrapper and queue use the plugins; per-event and per-action opt-out work"() {
    const { remoteLoader } = require('@segment/analytics-next/dist/cjs/plugins/remote-loader')
    const { EventQueue } = require('@segment/analytics-next/dist/cjs/core/queue/event-queue')
    const { Context } = require('@segment/analytics-next/dist/cjs/core/context')
    const { PriorityQueue } = require('@segment/analytics-core')
    const win = fakeWindow()
    const factory = async (settings) => createPlugins(settings, win)
    factory.pluginName = DESTINATION
    const cdnSettings = {
      integrations: {},
      remotePlugins: [
        {
          name: DESTINATION,
          creationName: DESTINATION,
          libraryName: 'actions1flowDestination',
          url: 'http://server.test/plugins/actions-1flow.js',
          settings: baseSettings(),
        },
      ],
    }
    const wrappers = await remoteLoader(cdnSettings, {}, {}, undefined, undefined, [factory])
    assert.deepEqual(wrappers.map((w) => [w.name, w.alternativeNames]), [
      [DESTINATION, ['1Flow Web (Actions) trackEvent']],
      [DESTINATION, ['1Flow Web (Actions) identifyUser']],
    ])
    const queue = new EventQueue(new PriorityQueue(4, []))
    for (const wrapper of wrappers) await queue.register(Context.system(), wrapper, {})
    await settle()
    assert.equal(win.scripts.length, 1)
    const send = (event) => queue.dispatch(new Context({ messageId: 'm', ...event }))
    // While the SDK loads, dispatch still completes: the event waits in the plugin's queue, not in analytics-next's.
    await send({ type: 'track', event: 'Early', properties: {} })
    const calls = installSdk(win)
    win.scripts[0].fire('load')
    await send({ type: 'track', event: 'Everyone', properties: {} })
    await send({ type: 'track', event: 'Not 1Flow', properties: {}, integrations: { [DESTINATION]: false } })
    await send({ type: 'track', event: 'Not trackEvent', properties: {}, integrations: { [`${DESTINATION} trackEvent`]: false } })
    await send({ type: 'identify', userId: 'u9', traits: { a: 1 }, integrations: { [`${DESTINATION} trackEvent`]: false } })
    await send({ type: 'track', event: 'All off', properties: {}, integrations: { All: false } })
    assert.deepEqual(calls, [
      ['logEvent', 'Early', {}],
      ['logEvent', 'Everyone', {}],
      ['logUser', 'u9', { a: 1 }],
    ])
    const disabled = await remoteLoader(cdnSettings, { [DESTINATION]: false }, {}, undefined, undefined, [factory])
    assert.deepEqual(disabled, [], 'integrations: {"1Flow Web (Actions)": false} at load time loads nothing')
  },

  async 'the committed bundle defines window.actions1flowDestination and works on its own'() {
    const win = fakeWindow()
    win.window = win
    vm.runInNewContext(readFileSync(DIST, 'utf8'), win)
    const factory = win.actions1flowDestination
    assert.equal(typeof factory, 'function')
    assert.equal(factory.pluginName, DESTINATION)
    const pending = factory(baseSettings())
    assert.equal(typeof pending.then, 'function', 'the factory is async')
    const plugins = [...(await pending)]
    assert.deepEqual(plugins.map((p) => p.name), ['1Flow Web (Actions) trackEvent', '1Flow Web (Actions) identifyUser'])
    await loadAll(plugins)
    assert.equal(win.scripts[0].getAttribute('data-api-key'), 'pk_demo')
    await dispatch(plugins, track('Queued'))
    const calls = installSdk(win, 'callable')
    win.clock.advance(POLL_INTERVAL_MS)
    await dispatch(plugins, identify('u1', { plan: 'pro' }))
    assert.deepEqual(JSON.parse(JSON.stringify(calls)), [
      ['call', 'track', 'Queued', { userId: 'u1', anonymousId: 'a1', properties: { total: 30 } }],
      ['call', 'identify', 'u1', { plan: 'pro' }],
    ])
  },

  async 'consent: load injects nothing; unstamped and denied events are skipped (debug note); a granting event injects the SDK and is sent'() {
    const consent = { categories: ['C0004'], missing: 'deny' }
    const { win, plugins } = setup(baseSettings({ consent }))
    await loadAll(plugins)
    assert.equal(win.scripts.length, 0, 'no SDK before consent')
    const stamped = (prefs) => ({ context: { consent: { categoryPreferences: prefs } } })
    for (const ctx of [track('Unstamped'), track('Denied', stamped({ C0004: false, C0001: true })), track('Text', stamped({ C0004: 'true' }))]) {
      await dispatch(plugins, ctx)
      assert.deepEqual(ctx.logs.map(([level]) => level), ['debug', 'debug'], 'one note per plugin, nothing else')
      assert.match(ctx.logs[0][1], /not sent: no consent for C0004/)
    }
    assert.equal(win.scripts.length, 0, 'denied events never inject the SDK')
    assert.deepEqual(win.reports(), [])
    await dispatch(plugins, track('Granted', stamped({ C0004: true })))
    assert.equal(win.scripts.length, 1, 'the first granting event injects the SDK')
    assert.equal(win.scripts[0].getAttribute('src'), SDK_URL)
    const calls = installSdk(win)
    win.clock.advance(POLL_INTERVAL_MS)
    assert.equal(plugins[0].isLoaded(), true)
    await dispatch(plugins, track('Next', stamped({ C0004: true })))
    assert.deepEqual(calls.map((c) => c[1]), ['Granted', 'Next'], 'the queued granting event, then the next one')
  },

  async 'consent revoked later in the page: the SDK stays, but nothing more reaches it'() {
    const { win, plugins } = setup(baseSettings({ consent: { categories: ['A', 'B'], missing: 'deny' } }))
    const calls = installSdk(win)
    await loadAll(plugins)
    const prefs = (A, B) => ({ context: { consent: { categoryPreferences: { A, B } } } })
    await dispatch(plugins, track('Both', prefs(true, true)))
    await dispatch(plugins, track('One', prefs(true, false)))
    await dispatch(plugins, identify())  // unstamped
    await dispatch(plugins, track('Again', prefs(true, true)))
    assert.deepEqual(calls.map((c) => c[1]), ['Both', 'Again'])
  },

  async 'consent missing: allow sends unstamped events, but a stamp must still grant'() {
    const { win, plugins } = setup(baseSettings({ consent: { categories: ['A'], missing: 'allow' } }))
    await loadAll(plugins)
    assert.equal(win.scripts.length, 0, 'still nothing before the first event')
    await dispatch(plugins, track('Unstamped'))
    assert.equal(win.scripts.length, 1)
    const calls = installSdk(win)
    win.clock.advance(POLL_INTERVAL_MS)
    await dispatch(plugins, track('Denied', { context: { consent: { categoryPreferences: { A: false } } } }))
    assert.deepEqual(calls.map((c) => c[1]), ['Unstamped'])
  },

  async 'privacy.drop removes the paths before triggers and mappings; the page event keeps them'() {
    const hasEmail = trigger(
      { type: 'event-type', operator: '=', value: 'identify' },
      { type: 'event-trait', name: 'email', operator: 'exists' }
    )
    const subscriptions = [identifyPreset(), identifyPreset({ id: 'sub-email', name: 'Has email', ast: hasEmail })]
    const { win, plugins } = setup(baseSettings({ subscriptions, privacy: { drop: ['traits.email', 'context.ip'] } }))
    const calls = installSdk(win)
    await loadAll(plugins)
    const ctx = identify('u1', { email: 'a@b.c', plan: 'pro' })
    ctx.event.context = { ip: '1.2.3.4' }
    await dispatch(plugins, ctx)
    assert.deepEqual(calls, [['logUser', 'u1', { plan: 'pro' }]], 'no email, and the email trigger did not match')
    assert.deepEqual(ctx.event.traits, { email: 'a@b.c', plan: 'pro' }, 'other destinations still see the whole event')
    assert.deepEqual(ctx.event.context, { ip: '1.2.3.4' })
  },

  async 'unusable consent or privacy settings are config errors and load nothing'() {
    for (const extra of [{ consent: { categories: [] } }, { consent: 'C0001' }, { consent: { categories: [1] } }, { privacy: { drop: 'traits.email' } }]) {
      const { win, plugins } = setup(baseSettings(extra))
      assert.deepEqual(plugins, [], JSON.stringify(extra))
      assert.equal(win.reports().length, 1)
      assert.equal(win.reports()[0].kind, 'config')
    }
    assert.equal(setup(baseSettings({ consent: null, privacy: { drop: [] } })).plugins.length, 2)
  },
}
